// Original file: proto/bitrag/v1/bitrag.proto

import type { ReliabilityBin as _bitrag_v1_ReliabilityBin, ReliabilityBin__Output as _bitrag_v1_ReliabilityBin__Output } from '../../bitrag/v1/ReliabilityBin';
import type { Long } from '@grpc/proto-loader';

export interface CalibrationInfo {
  'calibrated'?: (boolean);
  'threshold'?: (number | string);
  'target_recall'?: (number | string);
  'samples'?: (number);
  'source'?: (string);
  'rows_at_calibration'?: (number | string | Long);
  'calibrated_unix_ms'?: (number | string | Long);
  'reliability'?: (_bitrag_v1_ReliabilityBin)[];
  'duration_us'?: (number | string | Long);
}

export interface CalibrationInfo__Output {
  'calibrated': (boolean);
  'threshold': (number);
  'target_recall': (number);
  'samples': (number);
  'source': (string);
  'rows_at_calibration': (number);
  'calibrated_unix_ms': (number);
  'reliability': (_bitrag_v1_ReliabilityBin__Output)[];
  'duration_us': (number);
}
