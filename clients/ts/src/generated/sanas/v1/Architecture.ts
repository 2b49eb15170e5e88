// Original file: sanas/v1/sanas.proto

import type { ArchitectureBlock as _sanas_v1_ArchitectureBlock, ArchitectureBlock__Output as _sanas_v1_ArchitectureBlock__Output } from '../../sanas/v1/ArchitectureBlock';

export interface Architecture {
  'space'?: (string);
  'inChannels'?: (number);
  'blocks'?: (_sanas_v1_ArchitectureBlock)[];
}

export interface Architecture__Output {
  'space': (string);
  'inChannels': (number);
  'blocks': (_sanas_v1_ArchitectureBlock__Output)[];
}
