"""Conversions between sanas.v1 messages and sanas.spaces data, shared by the client, the
`sanas` command and the server (imports only sanas.v1 and sanas.spaces)."""

from __future__ import annotations

from .spaces import SpaceConfig
from .v1 import sanas_pb2 as pb

# The proposal policies: each StudyConfig.policy value and the name a study's header, the
# server's config and the command line give it (the server's POLICY_NAMES are these).
POLICY_NAME_OF_PB: dict[int, str] = {
    pb.PROPOSAL_POLICY_ANNEALER: "annealer",
    pb.PROPOSAL_POLICY_MODEL_GUIDED: "model-guided",
}
PB_OF_POLICY_NAME: dict[str, int] = {name: value for value, name in POLICY_NAME_OF_PB.items()}


def policy_name_of_pb(value: int) -> str | None:
    """A StudyConfig.policy value's name; None for PROPOSAL_POLICY_UNSPECIFIED; ValueError
    (naming the values) for a number no release defines."""
    if value == pb.PROPOSAL_POLICY_UNSPECIFIED:
        return None
    if value not in POLICY_NAME_OF_PB:
        known = ", ".join(f"{pb.ProposalPolicy.Name(v)} ({v})" for v in POLICY_NAME_OF_PB)
        raise ValueError(f"policy = {value} is not a ProposalPolicy value: use {known}")
    return POLICY_NAME_OF_PB[value]


def policy_pb_of_name(name: str) -> int:
    """The StudyConfig.policy value of a policy name; ValueError naming the names."""
    if name not in PB_OF_POLICY_NAME:
        raise ValueError(
            f"policy {name!r} is not a proposal policy: use one of {', '.join(PB_OF_POLICY_NAME)}"
        )
    return PB_OF_POLICY_NAME[name]


def space_config_to_pb(config: SpaceConfig) -> pb.SearchSpaceConfig:
    return pb.SearchSpaceConfig(
        key=config.key,
        input_size=config.input_size,
        output_size=config.output_size,
        block_num=config.block_num,
        block_mask=config.block_mask,
        range_table=config.range_table,
    )


def space_config_from_pb(message: pb.SearchSpaceConfig) -> SpaceConfig:
    return SpaceConfig(
        key=message.key,
        input_size=message.input_size,
        output_size=message.output_size,
        block_num=message.block_num,
        block_mask=tuple(message.block_mask),
        range_table=tuple(message.range_table),
    )
