"""The networks a token vector decodes to, and their FLOPs and params: one description
for the controller (SuggestTrial's include_architecture), the dashboard and `sanas best`.

The count is analytic (sanas.spaces.cost, no Paddle): `flops` is what paddle.flops counts
for the networks sanas.nets builds, so the three agree with each other and with Paddle.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .base import Architecture, CombinedSpace
from .cost import Cost, network_cost

DEFAULT_IN_CHANNELS = 3
DEFAULT_INPUT_SIZE = 32


@dataclass(frozen=True)
class Description:
    architectures: list[Architecture]
    cost: Cost
    in_channels: int
    input_size: int  # the side of the square input the cost was counted at


def describe(
    space: CombinedSpace, tokens: Sequence[int], in_channels: int = 0, input_size: int = 0
) -> Description:
    """Decode `tokens` and count the networks' cost. 0 takes the defaults the controller
    resolves a study's constraints with: 3 channels, and the first space's input_size or
    32. SpaceConfigError when the spaces do not decode to networks (custom token spaces)."""
    in_channels = in_channels or DEFAULT_IN_CHANNELS
    input_size = input_size or space.spaces[0].config.input_size or DEFAULT_INPUT_SIZE
    archs = space.decode(list(tokens), in_channels)
    return Description(archs, network_cost(archs, input_size), in_channels, input_size)
