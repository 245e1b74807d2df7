// Original file: proto/bitrag/v1/bitrag.proto

import type { Hit as _bitrag_v1_Hit, Hit__Output as _bitrag_v1_Hit__Output } from '../../bitrag/v1/Hit';
import type { SearchDiagnostics as _bitrag_v1_SearchDiagnostics, SearchDiagnostics__Output as _bitrag_v1_SearchDiagnostics__Output } from '../../bitrag/v1/SearchDiagnostics';

export interface SearchResponse {
  'hits'?: (_bitrag_v1_Hit)[];
  'diagnostics'?: (_bitrag_v1_SearchDiagnostics | null);
}

export interface SearchResponse__Output {
  'hits': (_bitrag_v1_Hit__Output)[];
  'diagnostics': (_bitrag_v1_SearchDiagnostics__Output | null);
}
