// Original file: proto/bitrag/v1/bitrag.proto

import type { SearchMode as _bitrag_v1_SearchMode, SearchMode__Output as _bitrag_v1_SearchMode__Output } from '../../bitrag/v1/SearchMode';

export interface AskRequest {
  'collection'?: (string);
  'question'?: (string);
  'top_k'?: (number);
  'filter'?: (string);
  'oversample'?: (number);
  'mode'?: (_bitrag_v1_SearchMode);
  'confidence_threshold'?: (number | string);
  'model'?: (string);
  'temperature'?: (number | string);
  'max_tokens'?: (number);
  'no_cache'?: (boolean);
  '_confidence_threshold'?: "confidence_threshold";
  '_temperature'?: "temperature";
}

export interface AskRequest__Output {
  'collection': (string);
  'question': (string);
  'top_k': (number);
  'filter': (string);
  'oversample': (number);
  'mode': (_bitrag_v1_SearchMode__Output);
  'confidence_threshold'?: (number);
  'model': (string);
  'temperature'?: (number);
  'max_tokens': (number);
  'no_cache': (boolean);
  '_confidence_threshold'?: "confidence_threshold";
  '_temperature'?: "temperature";
}
