"""ResNetSpace (8 tokens) [f1, r1, f2, r2, f3, r3, f4, r4], decoded to what PaddleSlim
2.6.0 builds: a 5x5 stride-2 stem of f1 channels (ReLU, no pooling), four stages of
bottleneck units (1x1 f, 3x3 f, 1x1 4f; stride 2 at the first unit of stages 2-4; a 1x1
projection shortcut when the shape changes; no activation after the addition), and no
pooling at the end. sanas's earlier variant (a 7x7 stem of 64 and max pooling) is
"sanas.ResNetSpace"."""

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


@register_space("ResNetSpace")
class ResNetSpace(SearchSpace):
    key = "ResNetSpace"

    def range_table(self) -> list[int]:
        return [n for f, r in zip(FILTERS, REPEATS, strict=True) for n in (len(f), len(r))]

    def init_tokens(self) -> list[int]:
        return list(INIT_TOKENS)

    def decode(self, tokens: Sequence[int], in_channels: int = 3) -> Architecture:
        t = self.check_tokens(tokens)
        widths = [FILTERS[s][t[2 * s]] for s in range(len(FILTERS))]
        blocks = [Block("conv_bn", widths[0], kernel=5, stride=2, act="relu", name="resnet_conv0")]
        for stage, width in enumerate(widths):
            blocks.append(
                Block(
                    "bottleneck",
                    width * EXPANSION,
                    kernel=3,
                    stride=1 if stage == 0 else 2,
                    repeats=REPEATS[stage][t[2 * stage + 1]],
                    mid_channels=width,
                    act=None,
                    name=f"resnet_depth{{unit}}_block{stage}",
                )
            )
        return Architecture(self.key, in_channels, tuple(blocks), call="backbone")
