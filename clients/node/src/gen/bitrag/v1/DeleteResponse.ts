// Original file: proto/bitrag/v1/bitrag.proto

import type { Long } from '@grpc/proto-loader';

export interface DeleteResponse {
  'documents_deleted'?: (number);
  'chunks_deleted'?: (number);
  'generation'?: (number | string | Long);
  'missing'?: (string)[];
}

export interface DeleteResponse__Output {
  'documents_deleted': (number);
  'chunks_deleted': (number);
  'generation': (number);
  'missing': (string)[];
}
