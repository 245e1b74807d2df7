// Original file: proto/bitrag/v1/bitrag.proto

import type { LegacyStore as _bitrag_v1_LegacyStore, LegacyStore__Output as _bitrag_v1_LegacyStore__Output } from '../../bitrag/v1/LegacyStore';

export interface GateConfig {
  'target_recall'?: (number | string);
  'confidence_threshold'?: (number | string);
  'fallback'?: (string)[];
  'widen_max_rows'?: (number);
  'fallback_collection'?: (string);
  'fallback_vector_field'?: (string);
  'legacy_store'?: (_bitrag_v1_LegacyStore | null);
}

export interface GateConfig__Output {
  'target_recall': (number);
  'confidence_threshold': (number);
  'fallback': (string)[];
  'widen_max_rows': (number);
  'fallback_collection': (string);
  'fallback_vector_field': (string);
  'legacy_store': (_bitrag_v1_LegacyStore__Output | null);
}
