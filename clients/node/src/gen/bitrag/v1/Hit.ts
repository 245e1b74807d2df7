// Original file: proto/bitrag/v1/bitrag.proto

import type { Struct as _google_protobuf_Struct, Struct__Output as _google_protobuf_Struct__Output } from '../../google/protobuf/Struct';

export interface Hit {
  'chunk_id'?: (string);
  'document_id'?: (string);
  'score'?: (number | string);
  'text'?: (string);
  'metadata'?: (_google_protobuf_Struct | null);
  'hamming_distance'?: (number);
}

export interface Hit__Output {
  'chunk_id': (string);
  'document_id': (string);
  'score': (number);
  'text': (string);
  'metadata': (_google_protobuf_Struct__Output | null);
  'hamming_distance': (number);
}
