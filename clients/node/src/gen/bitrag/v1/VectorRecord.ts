// Original file: proto/bitrag/v1/bitrag.proto

import type { Struct as _google_protobuf_Struct, Struct__Output as _google_protobuf_Struct__Output } from '../../google/protobuf/Struct';

export interface VectorRecord {
  'id'?: (string);
  'document_id'?: (string);
  'vector'?: (Buffer | Uint8Array | string);
  'text'?: (string);
  'metadata'?: (_google_protobuf_Struct | null);
}

export interface VectorRecord__Output {
  'id': (string);
  'document_id': (string);
  'vector': (Buffer);
  'text': (string);
  'metadata': (_google_protobuf_Struct__Output | null);
}
