// Original file: proto/bitrag/v1/bitrag.proto

import type { AskSummary as _bitrag_v1_AskSummary, AskSummary__Output as _bitrag_v1_AskSummary__Output } from '../../bitrag/v1/AskSummary';

export interface AskResponse {
  'delta'?: (string);
  'summary'?: (_bitrag_v1_AskSummary | null);
  'event'?: "delta"|"summary";
}

export interface AskResponse__Output {
  'delta'?: (string);
  'summary'?: (_bitrag_v1_AskSummary__Output | null);
  'event'?: "delta"|"summary";
}
