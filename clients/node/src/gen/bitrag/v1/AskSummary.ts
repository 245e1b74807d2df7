// Original file: proto/bitrag/v1/bitrag.proto

import type { Source as _bitrag_v1_Source, Source__Output as _bitrag_v1_Source__Output } from '../../bitrag/v1/Source';
import type { TokenUsage as _bitrag_v1_TokenUsage, TokenUsage__Output as _bitrag_v1_TokenUsage__Output } from '../../bitrag/v1/TokenUsage';
import type { AskTimings as _bitrag_v1_AskTimings, AskTimings__Output as _bitrag_v1_AskTimings__Output } from '../../bitrag/v1/AskTimings';
import type { CacheStatus as _bitrag_v1_CacheStatus, CacheStatus__Output as _bitrag_v1_CacheStatus__Output } from '../../bitrag/v1/CacheStatus';
import type { SearchDiagnostics as _bitrag_v1_SearchDiagnostics, SearchDiagnostics__Output as _bitrag_v1_SearchDiagnostics__Output } from '../../bitrag/v1/SearchDiagnostics';
import type { AskError as _bitrag_v1_AskError, AskError__Output as _bitrag_v1_AskError__Output } from '../../bitrag/v1/AskError';

export interface AskSummary {
  'answer'?: (string);
  'sources'?: (_bitrag_v1_Source)[];
  'cited'?: (number)[];
  'model'?: (string);
  'generated'?: (boolean);
  'usage'?: (_bitrag_v1_TokenUsage | null);
  'timings'?: (_bitrag_v1_AskTimings | null);
  'cache'?: (_bitrag_v1_CacheStatus);
  'retrieval'?: (_bitrag_v1_SearchDiagnostics | null);
  'error'?: (_bitrag_v1_AskError | null);
  'shared'?: (boolean);
}

export interface AskSummary__Output {
  'answer': (string);
  'sources': (_bitrag_v1_Source__Output)[];
  'cited': (number)[];
  'model': (string);
  'generated': (boolean);
  'usage': (_bitrag_v1_TokenUsage__Output | null);
  'timings': (_bitrag_v1_AskTimings__Output | null);
  'cache': (_bitrag_v1_CacheStatus__Output);
  'retrieval': (_bitrag_v1_SearchDiagnostics__Output | null);
  'error': (_bitrag_v1_AskError__Output | null);
  'shared': (boolean);
}
