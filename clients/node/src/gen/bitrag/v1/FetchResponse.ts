// Original file: proto/bitrag/v1/bitrag.proto

import type { VectorRecord as _bitrag_v1_VectorRecord, VectorRecord__Output as _bitrag_v1_VectorRecord__Output } from '../../bitrag/v1/VectorRecord';

export interface FetchResponse {
  'records'?: (_bitrag_v1_VectorRecord)[];
  'missing'?: (string)[];
}

export interface FetchResponse__Output {
  'records': (_bitrag_v1_VectorRecord__Output)[];
  'missing': (string)[];
}
