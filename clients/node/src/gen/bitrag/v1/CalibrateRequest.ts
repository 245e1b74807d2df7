// Original file: proto/bitrag/v1/bitrag.proto


export interface CalibrateRequest {
  'collection'?: (string);
  'samples'?: (number);
}

export interface CalibrateRequest__Output {
  'collection': (string);
  'samples': (number);
}
