// Original file: proto/bitrag/v1/bitrag.proto


export interface GateConfig {
  'target_recall'?: (number | string);
  'confidence_threshold'?: (number | string);
  'fallback'?: (string)[];
  'widen_max_rows'?: (number);
  'fallback_collection'?: (string);
  'fallback_vector_field'?: (string);
}

export interface GateConfig__Output {
  'target_recall': (number);
  'confidence_threshold': (number);
  'fallback': (string)[];
  'widen_max_rows': (number);
  'fallback_collection': (string);
  'fallback_vector_field': (string);
}
