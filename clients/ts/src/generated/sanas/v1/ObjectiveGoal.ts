// Original file: sanas/v1/sanas.proto

export const ObjectiveGoal = {
  OBJECTIVE_GOAL_UNSPECIFIED: 'OBJECTIVE_GOAL_UNSPECIFIED',
  OBJECTIVE_GOAL_MAXIMIZE: 'OBJECTIVE_GOAL_MAXIMIZE',
  OBJECTIVE_GOAL_MINIMIZE: 'OBJECTIVE_GOAL_MINIMIZE',
} as const;

export type ObjectiveGoal =
  | 'OBJECTIVE_GOAL_UNSPECIFIED'
  | 0
  | 'OBJECTIVE_GOAL_MAXIMIZE'
  | 1
  | 'OBJECTIVE_GOAL_MINIMIZE'
  | 2

export type ObjectiveGoal__Output = typeof ObjectiveGoal[keyof typeof ObjectiveGoal]
