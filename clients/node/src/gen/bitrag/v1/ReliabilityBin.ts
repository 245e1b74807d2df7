// Original file: proto/bitrag/v1/bitrag.proto


export interface ReliabilityBin {
  'lo'?: (number | string);
  'hi'?: (number | string);
  'count'?: (number);
  'predicted'?: (number | string);
  'measured'?: (number | string);
}

export interface ReliabilityBin__Output {
  'lo': (number);
  'hi': (number);
  'count': (number);
  'predicted': (number);
  'measured': (number);
}
