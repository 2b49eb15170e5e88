// Original file: sanas/v1/sanas.proto

import type { MedianStoppingRule as _sanas_v1_MedianStoppingRule, MedianStoppingRule__Output as _sanas_v1_MedianStoppingRule__Output } from '../../sanas/v1/MedianStoppingRule';
import type { SuccessiveHalvingRule as _sanas_v1_SuccessiveHalvingRule, SuccessiveHalvingRule__Output as _sanas_v1_SuccessiveHalvingRule__Output } from '../../sanas/v1/SuccessiveHalvingRule';
import type { ObjectiveGoal as _sanas_v1_ObjectiveGoal, ObjectiveGoal__Output as _sanas_v1_ObjectiveGoal__Output } from '../../sanas/v1/ObjectiveGoal';

export interface EarlyStopping {
  'median'?: (_sanas_v1_MedianStoppingRule | null);
  'successiveHalving'?: (_sanas_v1_SuccessiveHalvingRule | null);
  'goal'?: (_sanas_v1_ObjectiveGoal);
  'stoppedValuesAsRewards'?: (boolean);
  'rule'?: "median"|"successiveHalving";
}

export interface EarlyStopping__Output {
  'median'?: (_sanas_v1_MedianStoppingRule__Output | null);
  'successiveHalving'?: (_sanas_v1_SuccessiveHalvingRule__Output | null);
  'goal': (_sanas_v1_ObjectiveGoal__Output);
  'stoppedValuesAsRewards': (boolean);
  'rule'?: "median"|"successiveHalving";
}
