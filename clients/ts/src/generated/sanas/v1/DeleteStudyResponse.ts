// Original file: sanas/v1/sanas.proto


export interface DeleteStudyResponse {
}

export interface DeleteStudyResponse__Output {
}
