"""Paddle-free search-space definitions shared by the controller and the client."""

from . import blocks_extra, darts, mobilenet_v1, mobilenet_v2, resnet, sanas_variants  # noqa: F401
from .base import (
    Architecture,
    Block,
    BlockLayoutSpace,
    CombinedSpace,
    CustomTokenSpace,
    SearchSpace,
    SpaceConfig,
    SpaceConfigError,
    block_strides,
    check_range_table,
    check_tokens,
    create_space,
    downsample_count,
    paddleslim_layout,
    register_space,
    registered_spaces,
)
from .describe import Description, describe
from .sanas_variants import VARIANT_OF

__all__ = [
    "VARIANT_OF",
    "Architecture",
    "Block",
    "BlockLayoutSpace",
    "CombinedSpace",
    "CustomTokenSpace",
    "Description",
    "SearchSpace",
    "SpaceConfig",
    "SpaceConfigError",
    "block_strides",
    "check_range_table",
    "check_tokens",
    "create_space",
    "describe",
    "downsample_count",
    "paddleslim_layout",
    "register_space",
    "registered_spaces",
]
