// Original file: proto/bitrag/v1/bitrag.proto


export interface DescribeCollectionRequest {
  'name'?: (string);
}

export interface DescribeCollectionRequest__Output {
  'name': (string);
}
