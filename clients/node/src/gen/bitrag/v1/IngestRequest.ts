// Original file: proto/bitrag/v1/bitrag.proto

import type { Document as _bitrag_v1_Document, Document__Output as _bitrag_v1_Document__Output } from '../../bitrag/v1/Document';
import type { VectorRecord as _bitrag_v1_VectorRecord, VectorRecord__Output as _bitrag_v1_VectorRecord__Output } from '../../bitrag/v1/VectorRecord';

export interface IngestRequest {
  'collection'?: (string);
  'documents'?: (_bitrag_v1_Document)[];
  'records'?: (_bitrag_v1_VectorRecord)[];
  'chunk_size'?: (number);
  'chunk_overlap'?: (number);
  'flush'?: (boolean);
}

export interface IngestRequest__Output {
  'collection': (string);
  'documents': (_bitrag_v1_Document__Output)[];
  'records': (_bitrag_v1_VectorRecord__Output)[];
  'chunk_size': (number);
  'chunk_overlap': (number);
  'flush': (boolean);
}
