// Original file: proto/bitrag/v1/bitrag.proto

import type { LegacyStore as _bitrag_v1_LegacyStore, LegacyStore__Output as _bitrag_v1_LegacyStore__Output } from '../../bitrag/v1/LegacyStore';

export interface SetLegacyStoreRequest {
  'collection'?: (string);
  'legacy_store'?: (_bitrag_v1_LegacyStore | null);
  'fallback'?: (string)[];
}

export interface SetLegacyStoreRequest__Output {
  'collection': (string);
  'legacy_store': (_bitrag_v1_LegacyStore__Output | null);
  'fallback': (string)[];
}
