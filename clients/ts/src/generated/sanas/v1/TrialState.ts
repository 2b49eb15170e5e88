// Original file: sanas/v1/sanas.proto

export const TrialState = {
  TRIAL_STATE_UNSPECIFIED: 'TRIAL_STATE_UNSPECIFIED',
  TRIAL_STATE_ACTIVE: 'TRIAL_STATE_ACTIVE',
  TRIAL_STATE_SUCCEEDED: 'TRIAL_STATE_SUCCEEDED',
  TRIAL_STATE_INFEASIBLE: 'TRIAL_STATE_INFEASIBLE',
  TRIAL_STATE_STOPPED: 'TRIAL_STATE_STOPPED',
} as const;

export type TrialState =
  | 'TRIAL_STATE_UNSPECIFIED'
  | 0
  | 'TRIAL_STATE_ACTIVE'
  | 1
  | 'TRIAL_STATE_SUCCEEDED'
  | 2
  | 'TRIAL_STATE_INFEASIBLE'
  | 3
  | 'TRIAL_STATE_STOPPED'
  | 4

export type TrialState__Output = typeof TrialState[keyof typeof TrialState]
