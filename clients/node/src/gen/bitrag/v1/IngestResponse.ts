// Original file: proto/bitrag/v1/bitrag.proto

import type { Long } from '@grpc/proto-loader';

export interface IngestResponse {
  'documents_added'?: (number);
  'documents_replaced'?: (number);
  'documents_unchanged'?: (number);
  'chunks_written'?: (number);
  'chunks_deleted'?: (number);
  'generation'?: (number | string | Long);
  'timings_us'?: ({[key: string]: number | string | Long});
}

export interface IngestResponse__Output {
  'documents_added': (number);
  'documents_replaced': (number);
  'documents_unchanged': (number);
  'chunks_written': (number);
  'chunks_deleted': (number);
  'generation': (number);
  'timings_us': ({[key: string]: number});
}
