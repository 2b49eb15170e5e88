"""ResNetSpace (8 tokens): [f1, r1, f2, r2, f3, r3, f4, r4], bottleneck stages (1x1, 3x3,
1x1 with 4x expansion), candidate lists of PaddleSlim's facts sheet. Stem: 7x7 conv,
stride 2, 64 channels, and 3x3 max pooling, stride 2; stride 2 at the first block of
stages 2-4; global average pooling at the end. The initial tokens are ResNet-50's shape."""

from __future__ import annotations

from collections.abc import Sequence

from .base import Architecture, Block, SearchSpace, register_space

FILTERS = [
    [48, 64, 96, 128, 160, 192, 224],
    [64, 96, 128, 160, 192, 256, 320],
    [128, 160, 192, 256, 320, 384],
    [192, 256, 384, 512, 640],
]
REPEATS = [
    [2, 3, 4, 5, 6],
    [2, 3, 4, 5, 6, 7],
    [2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 16, 20, 24],
    [2, 3, 4, 5, 6, 7],
]
INIT_TOKENS = [1, 1, 2, 2, 3, 4, 3, 1]
EXPANSION = 4
STEM_CHANNELS = 64


@register_space("ResNetSpace")
class ResNetSpace(SearchSpace):
    key = "ResNetSpace"

    def range_table(self) -> list[int]:
        return [n for f, r in zip(FILTERS, REPEATS, strict=True) for n in (len(f), len(r))]

    def init_tokens(self) -> list[int]:
        return list(INIT_TOKENS)

    def decode(self, tokens: Sequence[int], in_channels: int = 3) -> Architecture:
        t = self.check_tokens(tokens)
        blocks = [
            Block("conv_bn", STEM_CHANNELS, kernel=7, stride=2, act="relu"),
            Block("max_pool", STEM_CHANNELS, kernel=3, stride=2),
        ]
        for stage, (filters, repeats) in enumerate(zip(FILTERS, REPEATS, strict=True)):
            width = filters[t[2 * stage]]
            blocks.append(
                Block(
                    "bottleneck",
                    width * EXPANSION,
                    kernel=3,
                    stride=1 if stage == 0 else 2,
                    repeats=repeats[t[2 * stage + 1]],
                    mid_channels=width,
                )
            )
        blocks.append(Block("global_avg_pool", blocks[-1].out_channels))
        return Architecture(self.key, in_channels, tuple(blocks))
