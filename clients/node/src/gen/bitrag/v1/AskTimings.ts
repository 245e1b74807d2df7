// Original file: proto/bitrag/v1/bitrag.proto

import type { Long } from '@grpc/proto-loader';

export interface AskTimings {
  'retrieval_us'?: (number | string | Long);
  'first_token_us'?: (number | string | Long);
  'total_us'?: (number | string | Long);
  'cache_us'?: (number | string | Long);
}

export interface AskTimings__Output {
  'retrieval_us': (number);
  'first_token_us': (number);
  'total_us': (number);
  'cache_us': (number);
}
