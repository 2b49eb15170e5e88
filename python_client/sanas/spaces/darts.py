"""DartsSpace: the DARTS-V2 cell genotype (Liu et al., 2019) in a 20-cell network; each of
the 20 tokens chooses one cell's width from PaddleSlim's candidate list. Reduction cells
are the 7th and 14th; a 3x3 stem convolution gives 48 channels at full resolution; global
average pooling at the end. Spatial sizes at the reductions must be even."""

from __future__ import annotations

from collections.abc import Sequence

from .base import Architecture, Block, SearchSpace, register_space

CHANNELS = [4, 8, 12, 16, 20, 36, 54, 72, 90, 108, 144, 180, 216, 252]
CELLS = 20
REDUCTIONS = (CELLS // 3, 2 * CELLS // 3)
STEM_CHANNELS = 48
# (operation, input state) pairs, two per node, for the 4 nodes of a cell.
NORMAL = (
    ("sep_conv_3x3", 0),
    ("sep_conv_3x3", 1),
    ("sep_conv_3x3", 0),
    ("sep_conv_3x3", 1),
    ("sep_conv_3x3", 1),
    ("skip_connect", 0),
    ("skip_connect", 0),
    ("dil_conv_3x3", 2),
)
REDUCE = (
    ("max_pool_3x3", 0),
    ("max_pool_3x3", 1),
    ("skip_connect", 2),
    ("max_pool_3x3", 1),
    ("max_pool_3x3", 0),
    ("skip_connect", 2),
    ("skip_connect", 2),
    ("max_pool_3x3", 1),
)
# DARTS' CIFAR widths 16 / 32 / 64 per stage, as the nearest candidates.
INIT_TOKENS = [3] * 6 + [5] * 7 + [7] * 7


@register_space("DartsSpace")
class DartsSpace(SearchSpace):
    key = "DartsSpace"

    def range_table(self) -> list[int]:
        return [len(CHANNELS)] * CELLS

    def init_tokens(self) -> list[int]:
        return list(INIT_TOKENS)

    def decode(self, tokens: Sequence[int], in_channels: int = 3) -> Architecture:
        t = self.check_tokens(tokens)
        widths = tuple(CHANNELS[v] for v in t)
        network = Block(
            "darts_network", 4 * widths[-1], kernel=3, mid_channels=STEM_CHANNELS, branches=widths
        )
        return Architecture(
            self.key, in_channels, (network, Block("global_avg_pool", 4 * widths[-1]))
        )
