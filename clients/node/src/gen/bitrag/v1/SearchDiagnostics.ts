// Original file: proto/bitrag/v1/bitrag.proto

import type { SearchPath as _bitrag_v1_SearchPath, SearchPath__Output as _bitrag_v1_SearchPath__Output } from '../../bitrag/v1/SearchPath';
import type { StageTiming as _bitrag_v1_StageTiming, StageTiming__Output as _bitrag_v1_StageTiming__Output } from '../../bitrag/v1/StageTiming';
import type { SearchMode as _bitrag_v1_SearchMode, SearchMode__Output as _bitrag_v1_SearchMode__Output } from '../../bitrag/v1/SearchMode';
import type { Long } from '@grpc/proto-loader';

export interface SearchDiagnostics {
  'path'?: (_bitrag_v1_SearchPath);
  'candidates_examined'?: (number);
  'oversample'?: (number);
  'timings'?: (_bitrag_v1_StageTiming)[];
  'total_us'?: (number | string | Long);
  'mode'?: (_bitrag_v1_SearchMode);
  'confidence'?: (number | string);
  'threshold'?: (number | string);
  'pools'?: (number)[];
  'calibrated'?: (boolean);
  'milvus_calls'?: (number);
  'tier'?: (string);
  'tier_scored'?: (number);
}

export interface SearchDiagnostics__Output {
  'path': (_bitrag_v1_SearchPath__Output);
  'candidates_examined': (number);
  'oversample': (number);
  'timings': (_bitrag_v1_StageTiming__Output)[];
  'total_us': (number);
  'mode': (_bitrag_v1_SearchMode__Output);
  'confidence': (number);
  'threshold': (number);
  'pools': (number)[];
  'calibrated': (boolean);
  'milvus_calls': (number);
  'tier': (string);
  'tier_scored': (number);
}
