// Original file: sanas/v1/sanas.proto


export interface SearchSpaceConfig {
  'key'?: (string);
  'inputSize'?: (number);
  'outputSize'?: (number);
  'blockNum'?: (number);
  'blockMask'?: (number)[];
  'rangeTable'?: (number)[];
}

export interface SearchSpaceConfig__Output {
  'key': (string);
  'inputSize': (number);
  'outputSize': (number);
  'blockNum': (number);
  'blockMask': (number)[];
  'rangeTable': (number)[];
}
