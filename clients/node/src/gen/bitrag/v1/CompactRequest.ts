// Original file: proto/bitrag/v1/bitrag.proto


export interface CompactRequest {
  'collection'?: (string);
  'force'?: (boolean);
}

export interface CompactRequest__Output {
  'collection': (string);
  'force': (boolean);
}
