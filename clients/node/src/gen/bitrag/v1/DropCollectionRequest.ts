// Original file: proto/bitrag/v1/bitrag.proto


export interface DropCollectionRequest {
  'name'?: (string);
}

export interface DropCollectionRequest__Output {
  'name': (string);
}
