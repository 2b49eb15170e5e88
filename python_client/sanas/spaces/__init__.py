"""Paddle-free search-space definitions shared by the controller and the client."""

from . import blocks_extra, darts, mobilenet_v1, mobilenet_v2, resnet  # noqa: F401
from .base import (
    Architecture,
    Block,
    CombinedSpace,
    CustomTokenSpace,
    SearchSpace,
    SpaceConfig,
    SpaceConfigError,
    block_strides,
    check_range_table,
    check_tokens,
    create_space,
    register_space,
    registered_spaces,
)

__all__ = [
    "Architecture",
    "Block",
    "CombinedSpace",
    "CustomTokenSpace",
    "SearchSpace",
    "SpaceConfig",
    "SpaceConfigError",
    "block_strides",
    "check_range_table",
    "check_tokens",
    "create_space",
    "register_space",
    "registered_spaces",
]
