// Original file: proto/bitrag/v1/bitrag.proto


export interface LegacyStore {
  'source'?: (string);
  'collection'?: (string);
  'vector_field'?: (string);
  'text_field'?: (string);
  'document_id_field'?: (string);
  'id_field'?: (string);
  'shadow_rate'?: (number | string);
}

export interface LegacyStore__Output {
  'source': (string);
  'collection': (string);
  'vector_field': (string);
  'text_field': (string);
  'document_id_field': (string);
  'id_field': (string);
  'shadow_rate': (number);
}
