// Original file: proto/bitrag/v1/bitrag.proto


export interface DeleteRequest {
  'collection'?: (string);
  'document_ids'?: (string)[];
}

export interface DeleteRequest__Output {
  'collection': (string);
  'document_ids': (string)[];
}
