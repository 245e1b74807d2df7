// Original file: proto/bitrag/v1/bitrag.proto

import type { CollectionInfo as _bitrag_v1_CollectionInfo, CollectionInfo__Output as _bitrag_v1_CollectionInfo__Output } from '../../bitrag/v1/CollectionInfo';

export interface ListCollectionsResponse {
  'collections'?: (_bitrag_v1_CollectionInfo)[];
}

export interface ListCollectionsResponse__Output {
  'collections': (_bitrag_v1_CollectionInfo__Output)[];
}
