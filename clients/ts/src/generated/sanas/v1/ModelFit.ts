// Original file: sanas/v1/sanas.proto


export interface ModelFit {
  'rankCorrelation'?: (number | string);
  'trials'?: (number);
}

export interface ModelFit__Output {
  'rankCorrelation': (number);
  'trials': (number);
}
