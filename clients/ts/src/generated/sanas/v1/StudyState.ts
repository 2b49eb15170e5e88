// Original file: sanas/v1/sanas.proto

export const StudyState = {
  STUDY_STATE_UNSPECIFIED: 'STUDY_STATE_UNSPECIFIED',
  STUDY_STATE_ACTIVE: 'STUDY_STATE_ACTIVE',
  STUDY_STATE_COMPLETED: 'STUDY_STATE_COMPLETED',
  STUDY_STATE_BROKEN: 'STUDY_STATE_BROKEN',
  STUDY_STATE_DELETED: 'STUDY_STATE_DELETED',
} as const;

export type StudyState =
  | 'STUDY_STATE_UNSPECIFIED'
  | 0
  | 'STUDY_STATE_ACTIVE'
  | 1
  | 'STUDY_STATE_COMPLETED'
  | 2
  | 'STUDY_STATE_BROKEN'
  | 3
  | 'STUDY_STATE_DELETED'
  | 4

export type StudyState__Output = typeof StudyState[keyof typeof StudyState]
