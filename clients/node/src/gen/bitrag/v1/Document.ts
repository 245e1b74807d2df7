// Original file: proto/bitrag/v1/bitrag.proto

import type { Struct as _google_protobuf_Struct, Struct__Output as _google_protobuf_Struct__Output } from '../../google/protobuf/Struct';

export interface Document {
  'id'?: (string);
  'text'?: (string);
  'metadata'?: (_google_protobuf_Struct | null);
}

export interface Document__Output {
  'id': (string);
  'text': (string);
  'metadata': (_google_protobuf_Struct__Output | null);
}
