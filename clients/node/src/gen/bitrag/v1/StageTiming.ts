// Original file: proto/bitrag/v1/bitrag.proto

import type { Long } from '@grpc/proto-loader';

export interface StageTiming {
  'stage'?: (string);
  'micros'?: (number | string | Long);
}

export interface StageTiming__Output {
  'stage': (string);
  'micros': (number);
}
