// Original file: proto/bitrag/v1/bitrag.proto

import type { SearchMode as _bitrag_v1_SearchMode, SearchMode__Output as _bitrag_v1_SearchMode__Output } from '../../bitrag/v1/SearchMode';

export interface SearchRequest {
  'collection'?: (string);
  'text'?: (string);
  'vector'?: (Buffer | Uint8Array | string);
  'top_k'?: (number);
  'filter'?: (string);
  'oversample'?: (number);
  'mode'?: (_bitrag_v1_SearchMode);
  'confidence_threshold'?: (number | string);
  'query'?: "text"|"vector";
  '_confidence_threshold'?: "confidence_threshold";
}

export interface SearchRequest__Output {
  'collection': (string);
  'text'?: (string);
  'vector'?: (Buffer);
  'top_k': (number);
  'filter': (string);
  'oversample': (number);
  'mode': (_bitrag_v1_SearchMode__Output);
  'confidence_threshold'?: (number);
  'query'?: "text"|"vector";
  '_confidence_threshold'?: "confidence_threshold";
}
