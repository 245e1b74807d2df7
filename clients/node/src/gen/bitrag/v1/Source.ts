// Original file: proto/bitrag/v1/bitrag.proto

import type { Struct as _google_protobuf_Struct, Struct__Output as _google_protobuf_Struct__Output } from '../../google/protobuf/Struct';

export interface Source {
  'number'?: (number);
  'chunk_id'?: (string);
  'document_id'?: (string);
  'score'?: (number | string);
  'snippet'?: (string);
  'metadata'?: (_google_protobuf_Struct | null);
}

export interface Source__Output {
  'number': (number);
  'chunk_id': (string);
  'document_id': (string);
  'score': (number);
  'snippet': (string);
  'metadata': (_google_protobuf_Struct__Output | null);
}
