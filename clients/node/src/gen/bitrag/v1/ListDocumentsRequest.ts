// Original file: proto/bitrag/v1/bitrag.proto


export interface ListDocumentsRequest {
  'collection'?: (string);
  'page_size'?: (number);
  'page_token'?: (string);
  'document_ids'?: (string)[];
  'prefix'?: (string);
}

export interface ListDocumentsRequest__Output {
  'collection': (string);
  'page_size': (number);
  'page_token': (string);
  'document_ids': (string)[];
  'prefix': (string);
}
