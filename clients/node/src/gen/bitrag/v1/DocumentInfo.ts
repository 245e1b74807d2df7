// Original file: proto/bitrag/v1/bitrag.proto

import type { Struct as _google_protobuf_Struct, Struct__Output as _google_protobuf_Struct__Output } from '../../google/protobuf/Struct';
import type { Long } from '@grpc/proto-loader';

export interface DocumentInfo {
  'id'?: (string);
  'chunks'?: (number);
  'content_hash'?: (string);
  'ingested_unix_ms'?: (number | string | Long);
  'metadata'?: (_google_protobuf_Struct | null);
}

export interface DocumentInfo__Output {
  'id': (string);
  'chunks': (number);
  'content_hash': (string);
  'ingested_unix_ms': (number);
  'metadata': (_google_protobuf_Struct__Output | null);
}
