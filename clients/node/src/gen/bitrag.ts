import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { AskError as _bitrag_v1_AskError, AskError__Output as _bitrag_v1_AskError__Output } from './bitrag/v1/AskError';
import type { AskRequest as _bitrag_v1_AskRequest, AskRequest__Output as _bitrag_v1_AskRequest__Output } from './bitrag/v1/AskRequest';
import type { AskResponse as _bitrag_v1_AskResponse, AskResponse__Output as _bitrag_v1_AskResponse__Output } from './bitrag/v1/AskResponse';
import type { AskSummary as _bitrag_v1_AskSummary, AskSummary__Output as _bitrag_v1_AskSummary__Output } from './bitrag/v1/AskSummary';
import type { AskTimings as _bitrag_v1_AskTimings, AskTimings__Output as _bitrag_v1_AskTimings__Output } from './bitrag/v1/AskTimings';
import type { BitragServiceClient as _bitrag_v1_BitragServiceClient, BitragServiceDefinition as _bitrag_v1_BitragServiceDefinition } from './bitrag/v1/BitragService';
import type { CalibrateRequest as _bitrag_v1_CalibrateRequest, CalibrateRequest__Output as _bitrag_v1_CalibrateRequest__Output } from './bitrag/v1/CalibrateRequest';
import type { CalibrationInfo as _bitrag_v1_CalibrationInfo, CalibrationInfo__Output as _bitrag_v1_CalibrationInfo__Output } from './bitrag/v1/CalibrationInfo';
import type { CollectionInfo as _bitrag_v1_CollectionInfo, CollectionInfo__Output as _bitrag_v1_CollectionInfo__Output } from './bitrag/v1/CollectionInfo';
import type { CompactRequest as _bitrag_v1_CompactRequest, CompactRequest__Output as _bitrag_v1_CompactRequest__Output } from './bitrag/v1/CompactRequest';
import type { CompactResponse as _bitrag_v1_CompactResponse, CompactResponse__Output as _bitrag_v1_CompactResponse__Output } from './bitrag/v1/CompactResponse';
import type { CreateCollectionRequest as _bitrag_v1_CreateCollectionRequest, CreateCollectionRequest__Output as _bitrag_v1_CreateCollectionRequest__Output } from './bitrag/v1/CreateCollectionRequest';
import type { DeleteRequest as _bitrag_v1_DeleteRequest, DeleteRequest__Output as _bitrag_v1_DeleteRequest__Output } from './bitrag/v1/DeleteRequest';
import type { DeleteResponse as _bitrag_v1_DeleteResponse, DeleteResponse__Output as _bitrag_v1_DeleteResponse__Output } from './bitrag/v1/DeleteResponse';
import type { DescribeCollectionRequest as _bitrag_v1_DescribeCollectionRequest, DescribeCollectionRequest__Output as _bitrag_v1_DescribeCollectionRequest__Output } from './bitrag/v1/DescribeCollectionRequest';
import type { Document as _bitrag_v1_Document, Document__Output as _bitrag_v1_Document__Output } from './bitrag/v1/Document';
import type { DocumentInfo as _bitrag_v1_DocumentInfo, DocumentInfo__Output as _bitrag_v1_DocumentInfo__Output } from './bitrag/v1/DocumentInfo';
import type { DropCollectionRequest as _bitrag_v1_DropCollectionRequest, DropCollectionRequest__Output as _bitrag_v1_DropCollectionRequest__Output } from './bitrag/v1/DropCollectionRequest';
import type { DropCollectionResponse as _bitrag_v1_DropCollectionResponse, DropCollectionResponse__Output as _bitrag_v1_DropCollectionResponse__Output } from './bitrag/v1/DropCollectionResponse';
import type { FetchRequest as _bitrag_v1_FetchRequest, FetchRequest__Output as _bitrag_v1_FetchRequest__Output } from './bitrag/v1/FetchRequest';
import type { FetchResponse as _bitrag_v1_FetchResponse, FetchResponse__Output as _bitrag_v1_FetchResponse__Output } from './bitrag/v1/FetchResponse';
import type { GateConfig as _bitrag_v1_GateConfig, GateConfig__Output as _bitrag_v1_GateConfig__Output } from './bitrag/v1/GateConfig';
import type { Hit as _bitrag_v1_Hit, Hit__Output as _bitrag_v1_Hit__Output } from './bitrag/v1/Hit';
import type { IndexSpec as _bitrag_v1_IndexSpec, IndexSpec__Output as _bitrag_v1_IndexSpec__Output } from './bitrag/v1/IndexSpec';
import type { IngestRequest as _bitrag_v1_IngestRequest, IngestRequest__Output as _bitrag_v1_IngestRequest__Output } from './bitrag/v1/IngestRequest';
import type { IngestResponse as _bitrag_v1_IngestResponse, IngestResponse__Output as _bitrag_v1_IngestResponse__Output } from './bitrag/v1/IngestResponse';
import type { LegacyStore as _bitrag_v1_LegacyStore, LegacyStore__Output as _bitrag_v1_LegacyStore__Output } from './bitrag/v1/LegacyStore';
import type { ListCollectionsRequest as _bitrag_v1_ListCollectionsRequest, ListCollectionsRequest__Output as _bitrag_v1_ListCollectionsRequest__Output } from './bitrag/v1/ListCollectionsRequest';
import type { ListCollectionsResponse as _bitrag_v1_ListCollectionsResponse, ListCollectionsResponse__Output as _bitrag_v1_ListCollectionsResponse__Output } from './bitrag/v1/ListCollectionsResponse';
import type { ListDocumentsRequest as _bitrag_v1_ListDocumentsRequest, ListDocumentsRequest__Output as _bitrag_v1_ListDocumentsRequest__Output } from './bitrag/v1/ListDocumentsRequest';
import type { ListDocumentsResponse as _bitrag_v1_ListDocumentsResponse, ListDocumentsResponse__Output as _bitrag_v1_ListDocumentsResponse__Output } from './bitrag/v1/ListDocumentsResponse';
import type { ReliabilityBin as _bitrag_v1_ReliabilityBin, ReliabilityBin__Output as _bitrag_v1_ReliabilityBin__Output } from './bitrag/v1/ReliabilityBin';
import type { SearchDiagnostics as _bitrag_v1_SearchDiagnostics, SearchDiagnostics__Output as _bitrag_v1_SearchDiagnostics__Output } from './bitrag/v1/SearchDiagnostics';
import type { SearchPlan as _bitrag_v1_SearchPlan, SearchPlan__Output as _bitrag_v1_SearchPlan__Output } from './bitrag/v1/SearchPlan';
import type { SearchRequest as _bitrag_v1_SearchRequest, SearchRequest__Output as _bitrag_v1_SearchRequest__Output } from './bitrag/v1/SearchRequest';
import type { SearchResponse as _bitrag_v1_SearchResponse, SearchResponse__Output as _bitrag_v1_SearchResponse__Output } from './bitrag/v1/SearchResponse';
import type { SetLegacyStoreRequest as _bitrag_v1_SetLegacyStoreRequest, SetLegacyStoreRequest__Output as _bitrag_v1_SetLegacyStoreRequest__Output } from './bitrag/v1/SetLegacyStoreRequest';
import type { Source as _bitrag_v1_Source, Source__Output as _bitrag_v1_Source__Output } from './bitrag/v1/Source';
import type { StageTiming as _bitrag_v1_StageTiming, StageTiming__Output as _bitrag_v1_StageTiming__Output } from './bitrag/v1/StageTiming';
import type { TokenUsage as _bitrag_v1_TokenUsage, TokenUsage__Output as _bitrag_v1_TokenUsage__Output } from './bitrag/v1/TokenUsage';
import type { VectorRecord as _bitrag_v1_VectorRecord, VectorRecord__Output as _bitrag_v1_VectorRecord__Output } from './bitrag/v1/VectorRecord';
import type { ListValue as _google_protobuf_ListValue, ListValue__Output as _google_protobuf_ListValue__Output } from './google/protobuf/ListValue';
import type { Struct as _google_protobuf_Struct, Struct__Output as _google_protobuf_Struct__Output } from './google/protobuf/Struct';
import type { Value as _google_protobuf_Value, Value__Output as _google_protobuf_Value__Output } from './google/protobuf/Value';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  bitrag: {
    v1: {
      AskError: MessageTypeDefinition<_bitrag_v1_AskError, _bitrag_v1_AskError__Output>
      AskRequest: MessageTypeDefinition<_bitrag_v1_AskRequest, _bitrag_v1_AskRequest__Output>
      AskResponse: MessageTypeDefinition<_bitrag_v1_AskResponse, _bitrag_v1_AskResponse__Output>
      AskSummary: MessageTypeDefinition<_bitrag_v1_AskSummary, _bitrag_v1_AskSummary__Output>
      AskTimings: MessageTypeDefinition<_bitrag_v1_AskTimings, _bitrag_v1_AskTimings__Output>
      BitragService: SubtypeConstructor<typeof grpc.Client, _bitrag_v1_BitragServiceClient> & { service: _bitrag_v1_BitragServiceDefinition }
      CacheStatus: EnumTypeDefinition
      CalibrateRequest: MessageTypeDefinition<_bitrag_v1_CalibrateRequest, _bitrag_v1_CalibrateRequest__Output>
      CalibrationInfo: MessageTypeDefinition<_bitrag_v1_CalibrationInfo, _bitrag_v1_CalibrationInfo__Output>
      CollectionInfo: MessageTypeDefinition<_bitrag_v1_CollectionInfo, _bitrag_v1_CollectionInfo__Output>
      CompactRequest: MessageTypeDefinition<_bitrag_v1_CompactRequest, _bitrag_v1_CompactRequest__Output>
      CompactResponse: MessageTypeDefinition<_bitrag_v1_CompactResponse, _bitrag_v1_CompactResponse__Output>
      CreateCollectionRequest: MessageTypeDefinition<_bitrag_v1_CreateCollectionRequest, _bitrag_v1_CreateCollectionRequest__Output>
      DeleteRequest: MessageTypeDefinition<_bitrag_v1_DeleteRequest, _bitrag_v1_DeleteRequest__Output>
      DeleteResponse: MessageTypeDefinition<_bitrag_v1_DeleteResponse, _bitrag_v1_DeleteResponse__Output>
      DescribeCollectionRequest: MessageTypeDefinition<_bitrag_v1_DescribeCollectionRequest, _bitrag_v1_DescribeCollectionRequest__Output>
      Document: MessageTypeDefinition<_bitrag_v1_Document, _bitrag_v1_Document__Output>
      DocumentInfo: MessageTypeDefinition<_bitrag_v1_DocumentInfo, _bitrag_v1_DocumentInfo__Output>
      DropCollectionRequest: MessageTypeDefinition<_bitrag_v1_DropCollectionRequest, _bitrag_v1_DropCollectionRequest__Output>
      DropCollectionResponse: MessageTypeDefinition<_bitrag_v1_DropCollectionResponse, _bitrag_v1_DropCollectionResponse__Output>
      FetchRequest: MessageTypeDefinition<_bitrag_v1_FetchRequest, _bitrag_v1_FetchRequest__Output>
      FetchResponse: MessageTypeDefinition<_bitrag_v1_FetchResponse, _bitrag_v1_FetchResponse__Output>
      GateConfig: MessageTypeDefinition<_bitrag_v1_GateConfig, _bitrag_v1_GateConfig__Output>
      Hit: MessageTypeDefinition<_bitrag_v1_Hit, _bitrag_v1_Hit__Output>
      IndexSpec: MessageTypeDefinition<_bitrag_v1_IndexSpec, _bitrag_v1_IndexSpec__Output>
      IngestRequest: MessageTypeDefinition<_bitrag_v1_IngestRequest, _bitrag_v1_IngestRequest__Output>
      IngestResponse: MessageTypeDefinition<_bitrag_v1_IngestResponse, _bitrag_v1_IngestResponse__Output>
      LegacyStore: MessageTypeDefinition<_bitrag_v1_LegacyStore, _bitrag_v1_LegacyStore__Output>
      ListCollectionsRequest: MessageTypeDefinition<_bitrag_v1_ListCollectionsRequest, _bitrag_v1_ListCollectionsRequest__Output>
      ListCollectionsResponse: MessageTypeDefinition<_bitrag_v1_ListCollectionsResponse, _bitrag_v1_ListCollectionsResponse__Output>
      ListDocumentsRequest: MessageTypeDefinition<_bitrag_v1_ListDocumentsRequest, _bitrag_v1_ListDocumentsRequest__Output>
      ListDocumentsResponse: MessageTypeDefinition<_bitrag_v1_ListDocumentsResponse, _bitrag_v1_ListDocumentsResponse__Output>
      ReliabilityBin: MessageTypeDefinition<_bitrag_v1_ReliabilityBin, _bitrag_v1_ReliabilityBin__Output>
      SearchDiagnostics: MessageTypeDefinition<_bitrag_v1_SearchDiagnostics, _bitrag_v1_SearchDiagnostics__Output>
      SearchMode: EnumTypeDefinition
      SearchPath: EnumTypeDefinition
      SearchPlan: MessageTypeDefinition<_bitrag_v1_SearchPlan, _bitrag_v1_SearchPlan__Output>
      SearchRequest: MessageTypeDefinition<_bitrag_v1_SearchRequest, _bitrag_v1_SearchRequest__Output>
      SearchResponse: MessageTypeDefinition<_bitrag_v1_SearchResponse, _bitrag_v1_SearchResponse__Output>
      SetLegacyStoreRequest: MessageTypeDefinition<_bitrag_v1_SetLegacyStoreRequest, _bitrag_v1_SetLegacyStoreRequest__Output>
      Source: MessageTypeDefinition<_bitrag_v1_Source, _bitrag_v1_Source__Output>
      StageTiming: MessageTypeDefinition<_bitrag_v1_StageTiming, _bitrag_v1_StageTiming__Output>
      TokenUsage: MessageTypeDefinition<_bitrag_v1_TokenUsage, _bitrag_v1_TokenUsage__Output>
      VectorRecord: MessageTypeDefinition<_bitrag_v1_VectorRecord, _bitrag_v1_VectorRecord__Output>
    }
  }
  google: {
    protobuf: {
      ListValue: MessageTypeDefinition<_google_protobuf_ListValue, _google_protobuf_ListValue__Output>
      NullValue: EnumTypeDefinition
      Struct: MessageTypeDefinition<_google_protobuf_Struct, _google_protobuf_Struct__Output>
      Value: MessageTypeDefinition<_google_protobuf_Value, _google_protobuf_Value__Output>
    }
  }
}

