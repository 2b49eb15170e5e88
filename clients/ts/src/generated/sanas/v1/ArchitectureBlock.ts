// Original file: sanas/v1/sanas.proto


export interface ArchitectureBlock {
  'kind'?: (string);
  'outChannels'?: (number);
  'kernel'?: (number);
  'stride'?: (number);
  'expansion'?: (number);
  'repeats'?: (number);
  'activation'?: (string);
  'midChannels'?: (number);
  'innerChannels'?: (number);
  'branchChannels'?: (number)[];
  'pool'?: (string);
  'groups'?: (number);
  'firstShortcut'?: (boolean);
  'tailRepeats'?: (number);
}

export interface ArchitectureBlock__Output {
  'kind': (string);
  'outChannels': (number);
  'kernel': (number);
  'stride': (number);
  'expansion': (number);
  'repeats': (number);
  'activation': (string);
  'midChannels': (number);
  'innerChannels': (number);
  'branchChannels': (number)[];
  'pool': (string);
  'groups': (number);
  'firstShortcut': (boolean);
  'tailRepeats': (number);
}
