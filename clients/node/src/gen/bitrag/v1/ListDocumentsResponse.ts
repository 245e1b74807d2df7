// Original file: proto/bitrag/v1/bitrag.proto

import type { DocumentInfo as _bitrag_v1_DocumentInfo, DocumentInfo__Output as _bitrag_v1_DocumentInfo__Output } from '../../bitrag/v1/DocumentInfo';

export interface ListDocumentsResponse {
  'documents'?: (_bitrag_v1_DocumentInfo)[];
  'next_page_token'?: (string);
}

export interface ListDocumentsResponse__Output {
  'documents': (_bitrag_v1_DocumentInfo__Output)[];
  'next_page_token': (string);
}
