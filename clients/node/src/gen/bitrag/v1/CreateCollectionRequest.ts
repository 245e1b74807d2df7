// Original file: proto/bitrag/v1/bitrag.proto

import type { IndexSpec as _bitrag_v1_IndexSpec, IndexSpec__Output as _bitrag_v1_IndexSpec__Output } from '../../bitrag/v1/IndexSpec';
import type { GateConfig as _bitrag_v1_GateConfig, GateConfig__Output as _bitrag_v1_GateConfig__Output } from '../../bitrag/v1/GateConfig';

export interface CreateCollectionRequest {
  'name'?: (string);
  'dimension'?: (number);
  'embedder'?: (string);
  'index'?: (_bitrag_v1_IndexSpec | null);
  'default_oversample'?: (number);
  'description'?: (string);
  'gate'?: (_bitrag_v1_GateConfig | null);
  'consistency_level'?: (string);
  'partition_key'?: (string);
  'num_partitions'?: (number);
  'tier'?: (string);
}

export interface CreateCollectionRequest__Output {
  'name': (string);
  'dimension': (number);
  'embedder': (string);
  'index': (_bitrag_v1_IndexSpec__Output | null);
  'default_oversample': (number);
  'description': (string);
  'gate': (_bitrag_v1_GateConfig__Output | null);
  'consistency_level': (string);
  'partition_key': (string);
  'num_partitions': (number);
  'tier': (string);
}
