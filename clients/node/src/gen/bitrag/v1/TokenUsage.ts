// Original file: proto/bitrag/v1/bitrag.proto


export interface TokenUsage {
  'prompt_tokens'?: (number);
  'completion_tokens'?: (number);
  'total_tokens'?: (number);
}

export interface TokenUsage__Output {
  'prompt_tokens': (number);
  'completion_tokens': (number);
  'total_tokens': (number);
}
