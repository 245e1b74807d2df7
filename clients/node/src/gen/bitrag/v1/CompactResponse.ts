// Original file: proto/bitrag/v1/bitrag.proto

import type { Long } from '@grpc/proto-loader';

export interface CompactResponse {
  'compacted'?: (boolean);
  'rows_before'?: (number | string | Long);
  'rows_after'?: (number | string | Long);
  'bytes_before'?: (number | string | Long);
  'bytes_after'?: (number | string | Long);
  'duration_us'?: (number | string | Long);
  'generation'?: (number | string | Long);
}

export interface CompactResponse__Output {
  'compacted': (boolean);
  'rows_before': (number);
  'rows_after': (number);
  'bytes_before': (number);
  'bytes_after': (number);
  'duration_us': (number);
  'generation': (number);
}
