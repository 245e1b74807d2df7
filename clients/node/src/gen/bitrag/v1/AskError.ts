// Original file: proto/bitrag/v1/bitrag.proto


export interface AskError {
  'code'?: (string);
  'message'?: (string);
  'retry_after_s'?: (number | string);
}

export interface AskError__Output {
  'code': (string);
  'message': (string);
  'retry_after_s': (number);
}
