"""Conversions between sanas.v1 messages and sanas.spaces data, shared by the client, the
`sanas` command and the server (imports only sanas.v1 and sanas.spaces)."""

from __future__ import annotations

from .spaces import SpaceConfig
from .v1 import sanas_pb2 as pb


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
