// Original file: proto/bitrag/v1/bitrag.proto

import type { Long } from '@grpc/proto-loader';

export interface IndexSpec {
  'type'?: (string);
  'build_params'?: ({[key: string]: number | string | Long});
  'search_params'?: ({[key: string]: number | string | Long});
}

export interface IndexSpec__Output {
  'type': (string);
  'build_params': ({[key: string]: number});
  'search_params': ({[key: string]: number});
}
