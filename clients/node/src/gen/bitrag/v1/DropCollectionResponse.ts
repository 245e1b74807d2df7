// Original file: proto/bitrag/v1/bitrag.proto


export interface DropCollectionResponse {
}

export interface DropCollectionResponse__Output {
}
