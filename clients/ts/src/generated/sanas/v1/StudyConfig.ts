// Original file: sanas/v1/sanas.proto

import type { SearchSpaceConfig as _sanas_v1_SearchSpaceConfig, SearchSpaceConfig__Output as _sanas_v1_SearchSpaceConfig__Output } from '../../sanas/v1/SearchSpaceConfig';
import type { Duration as _google_protobuf_Duration, Duration__Output as _google_protobuf_Duration__Output } from '../../google/protobuf/Duration';
import type { Constraints as _sanas_v1_Constraints, Constraints__Output as _sanas_v1_Constraints__Output } from '../../sanas/v1/Constraints';
import type { EarlyStopping as _sanas_v1_EarlyStopping, EarlyStopping__Output as _sanas_v1_EarlyStopping__Output } from '../../sanas/v1/EarlyStopping';
import type { ProposalPolicy as _sanas_v1_ProposalPolicy, ProposalPolicy__Output as _sanas_v1_ProposalPolicy__Output } from '../../sanas/v1/ProposalPolicy';
import type { Long } from '@grpc/proto-loader';

export interface StudyConfig {
  'searchSpaces'?: (_sanas_v1_SearchSpaceConfig)[];
  'initTemperature'?: (number | string);
  'reduceRate'?: (number | string);
  'initTokens'?: (number)[];
  'searchSteps'?: (number | string | Long);
  'seed'?: (number | string | Long);
  'leaseDuration'?: (_google_protobuf_Duration | null);
  'constraints'?: (_sanas_v1_Constraints | null);
  'earlyStopping'?: (_sanas_v1_EarlyStopping | null);
  'policy'?: (_sanas_v1_ProposalPolicy);
  '_initTemperature'?: "initTemperature";
  '_reduceRate'?: "reduceRate";
  '_seed'?: "seed";
}

export interface StudyConfig__Output {
  'searchSpaces': (_sanas_v1_SearchSpaceConfig__Output)[];
  'initTemperature'?: (number);
  'reduceRate'?: (number);
  'initTokens': (number)[];
  'searchSteps': (string);
  'seed'?: (string);
  'leaseDuration': (_google_protobuf_Duration__Output | null);
  'constraints': (_sanas_v1_Constraints__Output | null);
  'earlyStopping': (_sanas_v1_EarlyStopping__Output | null);
  'policy': (_sanas_v1_ProposalPolicy__Output);
  '_initTemperature'?: "initTemperature";
  '_reduceRate'?: "reduceRate";
  '_seed'?: "seed";
}
