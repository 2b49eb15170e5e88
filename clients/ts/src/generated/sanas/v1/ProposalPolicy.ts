// Original file: sanas/v1/sanas.proto

export const ProposalPolicy = {
  PROPOSAL_POLICY_UNSPECIFIED: 'PROPOSAL_POLICY_UNSPECIFIED',
  PROPOSAL_POLICY_ANNEALER: 'PROPOSAL_POLICY_ANNEALER',
  PROPOSAL_POLICY_MODEL_GUIDED: 'PROPOSAL_POLICY_MODEL_GUIDED',
} as const;

export type ProposalPolicy =
  | 'PROPOSAL_POLICY_UNSPECIFIED'
  | 0
  | 'PROPOSAL_POLICY_ANNEALER'
  | 1
  | 'PROPOSAL_POLICY_MODEL_GUIDED'
  | 2

export type ProposalPolicy__Output = typeof ProposalPolicy[keyof typeof ProposalPolicy]
