// Original file: proto/bitrag/v1/bitrag.proto

export const SearchMode = {
  SEARCH_MODE_AUTO: 'SEARCH_MODE_AUTO',
  SEARCH_MODE_RESCORED: 'SEARCH_MODE_RESCORED',
  SEARCH_MODE_BINARY_ONLY: 'SEARCH_MODE_BINARY_ONLY',
  SEARCH_MODE_EXACT: 'SEARCH_MODE_EXACT',
} as const;

export type SearchMode =
  | 'SEARCH_MODE_AUTO'
  | 0
  | 'SEARCH_MODE_RESCORED'
  | 1
  | 'SEARCH_MODE_BINARY_ONLY'
  | 2
  | 'SEARCH_MODE_EXACT'
  | 3

export type SearchMode__Output = typeof SearchMode[keyof typeof SearchMode]
