// Original file: proto/bitrag/v1/bitrag.proto

import type { Long } from '@grpc/proto-loader';

export interface SearchPlan {
  'pool'?: (number);
  'nprobe'?: (number);
  'route'?: (string);
  'candidate_recall'?: (number | string);
  'pool_recall'?: ({[key: string]: number | string});
  'nprobe_recall'?: ({[key: string]: number | string});
  'exact_us'?: (number | string | Long);
  'binary_us'?: (number | string | Long);
  'scan_us'?: (number | string | Long);
  'fallback_share'?: (number | string);
  'rows'?: (number | string | Long);
  'measured_unix_ms'?: (number | string | Long);
  'source'?: (string);
  'milvus_pool_us'?: (number | string | Long);
  'ram_pool_us'?: (number | string | Long);
}

export interface SearchPlan__Output {
  'pool': (number);
  'nprobe': (number);
  'route': (string);
  'candidate_recall': (number);
  'pool_recall': ({[key: string]: number});
  'nprobe_recall': ({[key: string]: number});
  'exact_us': (number);
  'binary_us': (number);
  'scan_us': (number);
  'fallback_share': (number);
  'rows': (number);
  'measured_unix_ms': (number);
  'source': (string);
  'milvus_pool_us': (number);
  'ram_pool_us': (number);
}
