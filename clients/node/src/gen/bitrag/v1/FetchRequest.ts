// Original file: proto/bitrag/v1/bitrag.proto


export interface FetchRequest {
  'collection'?: (string);
  'document_ids'?: (string)[];
  'include_vectors'?: (boolean);
}

export interface FetchRequest__Output {
  'collection': (string);
  'document_ids': (string)[];
  'include_vectors': (boolean);
}
