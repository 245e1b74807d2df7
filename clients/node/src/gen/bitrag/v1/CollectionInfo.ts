// Original file: proto/bitrag/v1/bitrag.proto

import type { IndexSpec as _bitrag_v1_IndexSpec, IndexSpec__Output as _bitrag_v1_IndexSpec__Output } from '../../bitrag/v1/IndexSpec';
import type { GateConfig as _bitrag_v1_GateConfig, GateConfig__Output as _bitrag_v1_GateConfig__Output } from '../../bitrag/v1/GateConfig';
import type { CalibrationInfo as _bitrag_v1_CalibrationInfo, CalibrationInfo__Output as _bitrag_v1_CalibrationInfo__Output } from '../../bitrag/v1/CalibrationInfo';
import type { SearchPlan as _bitrag_v1_SearchPlan, SearchPlan__Output as _bitrag_v1_SearchPlan__Output } from '../../bitrag/v1/SearchPlan';
import type { Long } from '@grpc/proto-loader';

export interface CollectionInfo {
  'name'?: (string);
  'dimension'?: (number);
  'embedder'?: (string);
  'index'?: (_bitrag_v1_IndexSpec | null);
  'default_oversample'?: (number);
  'description'?: (string);
  'rows'?: (number | string | Long);
  'float_rows'?: (number | string | Long);
  'bytes_in_ram'?: (number | string | Long);
  'bytes_on_disk'?: (number | string | Long);
  'generation'?: (number | string | Long);
  'created_unix_ms'?: (number | string | Long);
  'gate'?: (_bitrag_v1_GateConfig | null);
  'calibration'?: (_bitrag_v1_CalibrationInfo | null);
  'consistency_level'?: (string);
  'partition_key'?: (string);
  'num_partitions'?: (number);
  'tier'?: (string);
  'bytes_tier'?: (number | string | Long);
  'plan'?: (_bitrag_v1_SearchPlan | null);
  'dead_rows'?: (number | string | Long);
  'row_file_bytes'?: (number | string | Long);
  'compactions'?: (number);
}

export interface CollectionInfo__Output {
  'name': (string);
  'dimension': (number);
  'embedder': (string);
  'index': (_bitrag_v1_IndexSpec__Output | null);
  'default_oversample': (number);
  'description': (string);
  'rows': (number);
  'float_rows': (number);
  'bytes_in_ram': (number);
  'bytes_on_disk': (number);
  'generation': (number);
  'created_unix_ms': (number);
  'gate': (_bitrag_v1_GateConfig__Output | null);
  'calibration': (_bitrag_v1_CalibrationInfo__Output | null);
  'consistency_level': (string);
  'partition_key': (string);
  'num_partitions': (number);
  'tier': (string);
  'bytes_tier': (number);
  'plan': (_bitrag_v1_SearchPlan__Output | null);
  'dead_rows': (number);
  'row_file_bytes': (number);
  'compactions': (number);
}
