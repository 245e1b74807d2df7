// Original file: proto/bitrag/v1/bitrag.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { AskRequest as _bitrag_v1_AskRequest, AskRequest__Output as _bitrag_v1_AskRequest__Output } from '../../bitrag/v1/AskRequest';
import type { AskResponse as _bitrag_v1_AskResponse, AskResponse__Output as _bitrag_v1_AskResponse__Output } from '../../bitrag/v1/AskResponse';
import type { CalibrateRequest as _bitrag_v1_CalibrateRequest, CalibrateRequest__Output as _bitrag_v1_CalibrateRequest__Output } from '../../bitrag/v1/CalibrateRequest';
import type { CalibrationInfo as _bitrag_v1_CalibrationInfo, CalibrationInfo__Output as _bitrag_v1_CalibrationInfo__Output } from '../../bitrag/v1/CalibrationInfo';
import type { CollectionInfo as _bitrag_v1_CollectionInfo, CollectionInfo__Output as _bitrag_v1_CollectionInfo__Output } from '../../bitrag/v1/CollectionInfo';
import type { CompactRequest as _bitrag_v1_CompactRequest, CompactRequest__Output as _bitrag_v1_CompactRequest__Output } from '../../bitrag/v1/CompactRequest';
import type { CompactResponse as _bitrag_v1_CompactResponse, CompactResponse__Output as _bitrag_v1_CompactResponse__Output } from '../../bitrag/v1/CompactResponse';
import type { CreateCollectionRequest as _bitrag_v1_CreateCollectionRequest, CreateCollectionRequest__Output as _bitrag_v1_CreateCollectionRequest__Output } from '../../bitrag/v1/CreateCollectionRequest';
import type { DeleteRequest as _bitrag_v1_DeleteRequest, DeleteRequest__Output as _bitrag_v1_DeleteRequest__Output } from '../../bitrag/v1/DeleteRequest';
import type { DeleteResponse as _bitrag_v1_DeleteResponse, DeleteResponse__Output as _bitrag_v1_DeleteResponse__Output } from '../../bitrag/v1/DeleteResponse';
import type { DescribeCollectionRequest as _bitrag_v1_DescribeCollectionRequest, DescribeCollectionRequest__Output as _bitrag_v1_DescribeCollectionRequest__Output } from '../../bitrag/v1/DescribeCollectionRequest';
import type { DropCollectionRequest as _bitrag_v1_DropCollectionRequest, DropCollectionRequest__Output as _bitrag_v1_DropCollectionRequest__Output } from '../../bitrag/v1/DropCollectionRequest';
import type { DropCollectionResponse as _bitrag_v1_DropCollectionResponse, DropCollectionResponse__Output as _bitrag_v1_DropCollectionResponse__Output } from '../../bitrag/v1/DropCollectionResponse';
import type { FetchRequest as _bitrag_v1_FetchRequest, FetchRequest__Output as _bitrag_v1_FetchRequest__Output } from '../../bitrag/v1/FetchRequest';
import type { FetchResponse as _bitrag_v1_FetchResponse, FetchResponse__Output as _bitrag_v1_FetchResponse__Output } from '../../bitrag/v1/FetchResponse';
import type { IngestRequest as _bitrag_v1_IngestRequest, IngestRequest__Output as _bitrag_v1_IngestRequest__Output } from '../../bitrag/v1/IngestRequest';
import type { IngestResponse as _bitrag_v1_IngestResponse, IngestResponse__Output as _bitrag_v1_IngestResponse__Output } from '../../bitrag/v1/IngestResponse';
import type { ListCollectionsRequest as _bitrag_v1_ListCollectionsRequest, ListCollectionsRequest__Output as _bitrag_v1_ListCollectionsRequest__Output } from '../../bitrag/v1/ListCollectionsRequest';
import type { ListCollectionsResponse as _bitrag_v1_ListCollectionsResponse, ListCollectionsResponse__Output as _bitrag_v1_ListCollectionsResponse__Output } from '../../bitrag/v1/ListCollectionsResponse';
import type { ListDocumentsRequest as _bitrag_v1_ListDocumentsRequest, ListDocumentsRequest__Output as _bitrag_v1_ListDocumentsRequest__Output } from '../../bitrag/v1/ListDocumentsRequest';
import type { ListDocumentsResponse as _bitrag_v1_ListDocumentsResponse, ListDocumentsResponse__Output as _bitrag_v1_ListDocumentsResponse__Output } from '../../bitrag/v1/ListDocumentsResponse';
import type { SearchRequest as _bitrag_v1_SearchRequest, SearchRequest__Output as _bitrag_v1_SearchRequest__Output } from '../../bitrag/v1/SearchRequest';
import type { SearchResponse as _bitrag_v1_SearchResponse, SearchResponse__Output as _bitrag_v1_SearchResponse__Output } from '../../bitrag/v1/SearchResponse';
import type { SetLegacyStoreRequest as _bitrag_v1_SetLegacyStoreRequest, SetLegacyStoreRequest__Output as _bitrag_v1_SetLegacyStoreRequest__Output } from '../../bitrag/v1/SetLegacyStoreRequest';

export interface BitragServiceClient extends grpc.Client {
  Ask(argument: _bitrag_v1_AskRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_bitrag_v1_AskResponse__Output>;
  Ask(argument: _bitrag_v1_AskRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_bitrag_v1_AskResponse__Output>;
  ask(argument: _bitrag_v1_AskRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_bitrag_v1_AskResponse__Output>;
  ask(argument: _bitrag_v1_AskRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_bitrag_v1_AskResponse__Output>;
  
  Calibrate(argument: _bitrag_v1_CalibrateRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_bitrag_v1_CalibrationInfo__Output>): grpc.ClientUnaryCall;
  Calibrate(argument: _bitrag_v1_CalibrateRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_bitrag_v1_CalibrationInfo__Output>): grpc.ClientUnaryCall;
  Calibrate(argument: _bitrag_v1_CalibrateRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_bitrag_v1_CalibrationInfo__Output>): grpc.ClientUnaryCall;
  Calibrate(argument: _bitrag_v1_CalibrateRequest, callback: grpc.requestCallback<_bitrag_v1_CalibrationInfo__Output>): grpc.ClientUnaryCall;
  calibrate(argument: _bitrag_v1_CalibrateRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_bitrag_v1_CalibrationInfo__Output>): grpc.ClientUnaryCall;
  calibrate(argument: _bitrag_v1_CalibrateRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_bitrag_v1_CalibrationInfo__Output>): grpc.ClientUnaryCall;
  calibrate(argument: _bitrag_v1_CalibrateRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_bitrag_v1_CalibrationInfo__Output>): grpc.ClientUnaryCall;
  calibrate(argument: _bitrag_v1_CalibrateRequest, callback: grpc.requestCallback<_bitrag_v1_CalibrationInfo__Output>): grpc.ClientUnaryCall;
  
  Compact(argument: _bitrag_v1_CompactRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_bitrag_v1_CompactResponse__Output>): grpc.ClientUnaryCall;
  Compact(argument: _bitrag_v1_CompactRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_bitrag_v1_CompactResponse__Output>): grpc.ClientUnaryCall;
  Compact(argument: _bitrag_v1_CompactRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_bitrag_v1_CompactResponse__Output>): grpc.ClientUnaryCall;
  Compact(argument: _bitrag_v1_CompactRequest, callback: grpc.requestCallback<_bitrag_v1_CompactResponse__Output>): grpc.ClientUnaryCall;
  compact(argument: _bitrag_v1_CompactRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_bitrag_v1_CompactResponse__Output>): grpc.ClientUnaryCall;
  compact(argument: _bitrag_v1_CompactRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_bitrag_v1_CompactResponse__Output>): grpc.ClientUnaryCall;
  compact(argument: _bitrag_v1_CompactRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_bitrag_v1_CompactResponse__Output>): grpc.ClientUnaryCall;
  compact(argument: _bitrag_v1_CompactRequest, callback: grpc.requestCallback<_bitrag_v1_CompactResponse__Output>): grpc.ClientUnaryCall;
  
  CreateCollection(argument: _bitrag_v1_CreateCollectionRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_bitrag_v1_CollectionInfo__Output>): grpc.ClientUnaryCall;
  CreateCollection(argument: _bitrag_v1_CreateCollectionRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_bitrag_v1_CollectionInfo__Output>): grpc.ClientUnaryCall;
  CreateCollection(argument: _bitrag_v1_CreateCollectionRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_bitrag_v1_CollectionInfo__Output>): grpc.ClientUnaryCall;
  CreateCollection(argument: _bitrag_v1_CreateCollectionRequest, callback: grpc.requestCallback<_bitrag_v1_CollectionInfo__Output>): grpc.ClientUnaryCall;
  createCollection(argument: _bitrag_v1_CreateCollectionRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_bitrag_v1_CollectionInfo__Output>): grpc.ClientUnaryCall;
  createCollection(argument: _bitrag_v1_CreateCollectionRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_bitrag_v1_CollectionInfo__Output>): grpc.ClientUnaryCall;
  createCollection(argument: _bitrag_v1_CreateCollectionRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_bitrag_v1_CollectionInfo__Output>): grpc.ClientUnaryCall;
  createCollection(argument: _bitrag_v1_CreateCollectionRequest, callback: grpc.requestCallback<_bitrag_v1_CollectionInfo__Output>): grpc.ClientUnaryCall;
  
  Delete(argument: _bitrag_v1_DeleteRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_bitrag_v1_DeleteResponse__Output>): grpc.ClientUnaryCall;
  Delete(argument: _bitrag_v1_DeleteRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_bitrag_v1_DeleteResponse__Output>): grpc.ClientUnaryCall;
  Delete(argument: _bitrag_v1_DeleteRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_bitrag_v1_DeleteResponse__Output>): grpc.ClientUnaryCall;
  Delete(argument: _bitrag_v1_DeleteRequest, callback: grpc.requestCallback<_bitrag_v1_DeleteResponse__Output>): grpc.ClientUnaryCall;
  delete(argument: _bitrag_v1_DeleteRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_bitrag_v1_DeleteResponse__Output>): grpc.ClientUnaryCall;
  delete(argument: _bitrag_v1_DeleteRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_bitrag_v1_DeleteResponse__Output>): grpc.ClientUnaryCall;
  delete(argument: _bitrag_v1_DeleteRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_bitrag_v1_DeleteResponse__Output>): grpc.ClientUnaryCall;
  delete(argument: _bitrag_v1_DeleteRequest, callback: grpc.requestCallback<_bitrag_v1_DeleteResponse__Output>): grpc.ClientUnaryCall;
  
  DescribeCollection(argument: _bitrag_v1_DescribeCollectionRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_bitrag_v1_CollectionInfo__Output>): grpc.ClientUnaryCall;
  DescribeCollection(argument: _bitrag_v1_DescribeCollectionRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_bitrag_v1_CollectionInfo__Output>): grpc.ClientUnaryCall;
  DescribeCollection(argument: _bitrag_v1_DescribeCollectionRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_bitrag_v1_CollectionInfo__Output>): grpc.ClientUnaryCall;
  DescribeCollection(argument: _bitrag_v1_DescribeCollectionRequest, callback: grpc.requestCallback<_bitrag_v1_CollectionInfo__Output>): grpc.ClientUnaryCall;
  describeCollection(argument: _bitrag_v1_DescribeCollectionRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_bitrag_v1_CollectionInfo__Output>): grpc.ClientUnaryCall;
  describeCollection(argument: _bitrag_v1_DescribeCollectionRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_bitrag_v1_CollectionInfo__Output>): grpc.ClientUnaryCall;
  describeCollection(argument: _bitrag_v1_DescribeCollectionRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_bitrag_v1_CollectionInfo__Output>): grpc.ClientUnaryCall;
  describeCollection(argument: _bitrag_v1_DescribeCollectionRequest, callback: grpc.requestCallback<_bitrag_v1_CollectionInfo__Output>): grpc.ClientUnaryCall;
  
  DropCollection(argument: _bitrag_v1_DropCollectionRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_bitrag_v1_DropCollectionResponse__Output>): grpc.ClientUnaryCall;
  DropCollection(argument: _bitrag_v1_DropCollectionRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_bitrag_v1_DropCollectionResponse__Output>): grpc.ClientUnaryCall;
  DropCollection(argument: _bitrag_v1_DropCollectionRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_bitrag_v1_DropCollectionResponse__Output>): grpc.ClientUnaryCall;
  DropCollection(argument: _bitrag_v1_DropCollectionRequest, callback: grpc.requestCallback<_bitrag_v1_DropCollectionResponse__Output>): grpc.ClientUnaryCall;
  dropCollection(argument: _bitrag_v1_DropCollectionRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_bitrag_v1_DropCollectionResponse__Output>): grpc.ClientUnaryCall;
  dropCollection(argument: _bitrag_v1_DropCollectionRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_bitrag_v1_DropCollectionResponse__Output>): grpc.ClientUnaryCall;
  dropCollection(argument: _bitrag_v1_DropCollectionRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_bitrag_v1_DropCollectionResponse__Output>): grpc.ClientUnaryCall;
  dropCollection(argument: _bitrag_v1_DropCollectionRequest, callback: grpc.requestCallback<_bitrag_v1_DropCollectionResponse__Output>): grpc.ClientUnaryCall;
  
  Fetch(argument: _bitrag_v1_FetchRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_bitrag_v1_FetchResponse__Output>): grpc.ClientUnaryCall;
  Fetch(argument: _bitrag_v1_FetchRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_bitrag_v1_FetchResponse__Output>): grpc.ClientUnaryCall;
  Fetch(argument: _bitrag_v1_FetchRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_bitrag_v1_FetchResponse__Output>): grpc.ClientUnaryCall;
  Fetch(argument: _bitrag_v1_FetchRequest, callback: grpc.requestCallback<_bitrag_v1_FetchResponse__Output>): grpc.ClientUnaryCall;
  fetch(argument: _bitrag_v1_FetchRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_bitrag_v1_FetchResponse__Output>): grpc.ClientUnaryCall;
  fetch(argument: _bitrag_v1_FetchRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_bitrag_v1_FetchResponse__Output>): grpc.ClientUnaryCall;
  fetch(argument: _bitrag_v1_FetchRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_bitrag_v1_FetchResponse__Output>): grpc.ClientUnaryCall;
  fetch(argument: _bitrag_v1_FetchRequest, callback: grpc.requestCallback<_bitrag_v1_FetchResponse__Output>): grpc.ClientUnaryCall;
  
  Ingest(argument: _bitrag_v1_IngestRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_bitrag_v1_IngestResponse__Output>): grpc.ClientUnaryCall;
  Ingest(argument: _bitrag_v1_IngestRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_bitrag_v1_IngestResponse__Output>): grpc.ClientUnaryCall;
  Ingest(argument: _bitrag_v1_IngestRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_bitrag_v1_IngestResponse__Output>): grpc.ClientUnaryCall;
  Ingest(argument: _bitrag_v1_IngestRequest, callback: grpc.requestCallback<_bitrag_v1_IngestResponse__Output>): grpc.ClientUnaryCall;
  ingest(argument: _bitrag_v1_IngestRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_bitrag_v1_IngestResponse__Output>): grpc.ClientUnaryCall;
  ingest(argument: _bitrag_v1_IngestRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_bitrag_v1_IngestResponse__Output>): grpc.ClientUnaryCall;
  ingest(argument: _bitrag_v1_IngestRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_bitrag_v1_IngestResponse__Output>): grpc.ClientUnaryCall;
  ingest(argument: _bitrag_v1_IngestRequest, callback: grpc.requestCallback<_bitrag_v1_IngestResponse__Output>): grpc.ClientUnaryCall;
  
  ListCollections(argument: _bitrag_v1_ListCollectionsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_bitrag_v1_ListCollectionsResponse__Output>): grpc.ClientUnaryCall;
  ListCollections(argument: _bitrag_v1_ListCollectionsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_bitrag_v1_ListCollectionsResponse__Output>): grpc.ClientUnaryCall;
  ListCollections(argument: _bitrag_v1_ListCollectionsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_bitrag_v1_ListCollectionsResponse__Output>): grpc.ClientUnaryCall;
  ListCollections(argument: _bitrag_v1_ListCollectionsRequest, callback: grpc.requestCallback<_bitrag_v1_ListCollectionsResponse__Output>): grpc.ClientUnaryCall;
  listCollections(argument: _bitrag_v1_ListCollectionsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_bitrag_v1_ListCollectionsResponse__Output>): grpc.ClientUnaryCall;
  listCollections(argument: _bitrag_v1_ListCollectionsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_bitrag_v1_ListCollectionsResponse__Output>): grpc.ClientUnaryCall;
  listCollections(argument: _bitrag_v1_ListCollectionsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_bitrag_v1_ListCollectionsResponse__Output>): grpc.ClientUnaryCall;
  listCollections(argument: _bitrag_v1_ListCollectionsRequest, callback: grpc.requestCallback<_bitrag_v1_ListCollectionsResponse__Output>): grpc.ClientUnaryCall;
  
  ListDocuments(argument: _bitrag_v1_ListDocumentsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_bitrag_v1_ListDocumentsResponse__Output>): grpc.ClientUnaryCall;
  ListDocuments(argument: _bitrag_v1_ListDocumentsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_bitrag_v1_ListDocumentsResponse__Output>): grpc.ClientUnaryCall;
  ListDocuments(argument: _bitrag_v1_ListDocumentsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_bitrag_v1_ListDocumentsResponse__Output>): grpc.ClientUnaryCall;
  ListDocuments(argument: _bitrag_v1_ListDocumentsRequest, callback: grpc.requestCallback<_bitrag_v1_ListDocumentsResponse__Output>): grpc.ClientUnaryCall;
  listDocuments(argument: _bitrag_v1_ListDocumentsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_bitrag_v1_ListDocumentsResponse__Output>): grpc.ClientUnaryCall;
  listDocuments(argument: _bitrag_v1_ListDocumentsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_bitrag_v1_ListDocumentsResponse__Output>): grpc.ClientUnaryCall;
  listDocuments(argument: _bitrag_v1_ListDocumentsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_bitrag_v1_ListDocumentsResponse__Output>): grpc.ClientUnaryCall;
  listDocuments(argument: _bitrag_v1_ListDocumentsRequest, callback: grpc.requestCallback<_bitrag_v1_ListDocumentsResponse__Output>): grpc.ClientUnaryCall;
  
  Search(argument: _bitrag_v1_SearchRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_bitrag_v1_SearchResponse__Output>): grpc.ClientUnaryCall;
  Search(argument: _bitrag_v1_SearchRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_bitrag_v1_SearchResponse__Output>): grpc.ClientUnaryCall;
  Search(argument: _bitrag_v1_SearchRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_bitrag_v1_SearchResponse__Output>): grpc.ClientUnaryCall;
  Search(argument: _bitrag_v1_SearchRequest, callback: grpc.requestCallback<_bitrag_v1_SearchResponse__Output>): grpc.ClientUnaryCall;
  search(argument: _bitrag_v1_SearchRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_bitrag_v1_SearchResponse__Output>): grpc.ClientUnaryCall;
  search(argument: _bitrag_v1_SearchRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_bitrag_v1_SearchResponse__Output>): grpc.ClientUnaryCall;
  search(argument: _bitrag_v1_SearchRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_bitrag_v1_SearchResponse__Output>): grpc.ClientUnaryCall;
  search(argument: _bitrag_v1_SearchRequest, callback: grpc.requestCallback<_bitrag_v1_SearchResponse__Output>): grpc.ClientUnaryCall;
  
  SetLegacyStore(argument: _bitrag_v1_SetLegacyStoreRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_bitrag_v1_CollectionInfo__Output>): grpc.ClientUnaryCall;
  SetLegacyStore(argument: _bitrag_v1_SetLegacyStoreRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_bitrag_v1_CollectionInfo__Output>): grpc.ClientUnaryCall;
  SetLegacyStore(argument: _bitrag_v1_SetLegacyStoreRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_bitrag_v1_CollectionInfo__Output>): grpc.ClientUnaryCall;
  SetLegacyStore(argument: _bitrag_v1_SetLegacyStoreRequest, callback: grpc.requestCallback<_bitrag_v1_CollectionInfo__Output>): grpc.ClientUnaryCall;
  setLegacyStore(argument: _bitrag_v1_SetLegacyStoreRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_bitrag_v1_CollectionInfo__Output>): grpc.ClientUnaryCall;
  setLegacyStore(argument: _bitrag_v1_SetLegacyStoreRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_bitrag_v1_CollectionInfo__Output>): grpc.ClientUnaryCall;
  setLegacyStore(argument: _bitrag_v1_SetLegacyStoreRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_bitrag_v1_CollectionInfo__Output>): grpc.ClientUnaryCall;
  setLegacyStore(argument: _bitrag_v1_SetLegacyStoreRequest, callback: grpc.requestCallback<_bitrag_v1_CollectionInfo__Output>): grpc.ClientUnaryCall;
  
}

export interface BitragServiceHandlers extends grpc.UntypedServiceImplementation {
  Ask: grpc.handleServerStreamingCall<_bitrag_v1_AskRequest__Output, _bitrag_v1_AskResponse>;
  
  Calibrate: grpc.handleUnaryCall<_bitrag_v1_CalibrateRequest__Output, _bitrag_v1_CalibrationInfo>;
  
  Compact: grpc.handleUnaryCall<_bitrag_v1_CompactRequest__Output, _bitrag_v1_CompactResponse>;
  
  CreateCollection: grpc.handleUnaryCall<_bitrag_v1_CreateCollectionRequest__Output, _bitrag_v1_CollectionInfo>;
  
  Delete: grpc.handleUnaryCall<_bitrag_v1_DeleteRequest__Output, _bitrag_v1_DeleteResponse>;
  
  DescribeCollection: grpc.handleUnaryCall<_bitrag_v1_DescribeCollectionRequest__Output, _bitrag_v1_CollectionInfo>;
  
  DropCollection: grpc.handleUnaryCall<_bitrag_v1_DropCollectionRequest__Output, _bitrag_v1_DropCollectionResponse>;
  
  Fetch: grpc.handleUnaryCall<_bitrag_v1_FetchRequest__Output, _bitrag_v1_FetchResponse>;
  
  Ingest: grpc.handleUnaryCall<_bitrag_v1_IngestRequest__Output, _bitrag_v1_IngestResponse>;
  
  ListCollections: grpc.handleUnaryCall<_bitrag_v1_ListCollectionsRequest__Output, _bitrag_v1_ListCollectionsResponse>;
  
  ListDocuments: grpc.handleUnaryCall<_bitrag_v1_ListDocumentsRequest__Output, _bitrag_v1_ListDocumentsResponse>;
  
  Search: grpc.handleUnaryCall<_bitrag_v1_SearchRequest__Output, _bitrag_v1_SearchResponse>;
  
  SetLegacyStore: grpc.handleUnaryCall<_bitrag_v1_SetLegacyStoreRequest__Output, _bitrag_v1_CollectionInfo>;
  
}

export interface BitragServiceDefinition extends grpc.ServiceDefinition {
  Ask: MethodDefinition<_bitrag_v1_AskRequest, _bitrag_v1_AskResponse, _bitrag_v1_AskRequest__Output, _bitrag_v1_AskResponse__Output>
  Calibrate: MethodDefinition<_bitrag_v1_CalibrateRequest, _bitrag_v1_CalibrationInfo, _bitrag_v1_CalibrateRequest__Output, _bitrag_v1_CalibrationInfo__Output>
  Compact: MethodDefinition<_bitrag_v1_CompactRequest, _bitrag_v1_CompactResponse, _bitrag_v1_CompactRequest__Output, _bitrag_v1_CompactResponse__Output>
  CreateCollection: MethodDefinition<_bitrag_v1_CreateCollectionRequest, _bitrag_v1_CollectionInfo, _bitrag_v1_CreateCollectionRequest__Output, _bitrag_v1_CollectionInfo__Output>
  Delete: MethodDefinition<_bitrag_v1_DeleteRequest, _bitrag_v1_DeleteResponse, _bitrag_v1_DeleteRequest__Output, _bitrag_v1_DeleteResponse__Output>
  DescribeCollection: MethodDefinition<_bitrag_v1_DescribeCollectionRequest, _bitrag_v1_CollectionInfo, _bitrag_v1_DescribeCollectionRequest__Output, _bitrag_v1_CollectionInfo__Output>
  DropCollection: MethodDefinition<_bitrag_v1_DropCollectionRequest, _bitrag_v1_DropCollectionResponse, _bitrag_v1_DropCollectionRequest__Output, _bitrag_v1_DropCollectionResponse__Output>
  Fetch: MethodDefinition<_bitrag_v1_FetchRequest, _bitrag_v1_FetchResponse, _bitrag_v1_FetchRequest__Output, _bitrag_v1_FetchResponse__Output>
  Ingest: MethodDefinition<_bitrag_v1_IngestRequest, _bitrag_v1_IngestResponse, _bitrag_v1_IngestRequest__Output, _bitrag_v1_IngestResponse__Output>
  ListCollections: MethodDefinition<_bitrag_v1_ListCollectionsRequest, _bitrag_v1_ListCollectionsResponse, _bitrag_v1_ListCollectionsRequest__Output, _bitrag_v1_ListCollectionsResponse__Output>
  ListDocuments: MethodDefinition<_bitrag_v1_ListDocumentsRequest, _bitrag_v1_ListDocumentsResponse, _bitrag_v1_ListDocumentsRequest__Output, _bitrag_v1_ListDocumentsResponse__Output>
  Search: MethodDefinition<_bitrag_v1_SearchRequest, _bitrag_v1_SearchResponse, _bitrag_v1_SearchRequest__Output, _bitrag_v1_SearchResponse__Output>
  SetLegacyStore: MethodDefinition<_bitrag_v1_SetLegacyStoreRequest, _bitrag_v1_CollectionInfo, _bitrag_v1_SetLegacyStoreRequest__Output, _bitrag_v1_CollectionInfo__Output>
}
