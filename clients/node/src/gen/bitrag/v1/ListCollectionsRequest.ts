// Original file: proto/bitrag/v1/bitrag.proto


export interface ListCollectionsRequest {
}

export interface ListCollectionsRequest__Output {
}
