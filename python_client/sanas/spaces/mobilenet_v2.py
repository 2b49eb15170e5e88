"""MobileNetV2Space: PaddleSlim's 25-token MobileNetV2 space (candidate lists from the
facts sheet), decoded to framework-neutral blocks."""

from __future__ import annotations

from collections.abc import Sequence

from .base import Architecture, Block, BlockLayoutSpace, SearchSpace, SpaceConfig, register_space

HEAD_NUM = [3, 4, 8, 12, 16, 24, 32]
FILTER_NUMS = [
    [3, 4, 8, 12, 16, 24, 32, 48],
    [8, 12, 16, 24, 32, 48, 64, 80],
    [16, 24, 32, 48, 64, 80, 96, 128],
    [24, 32, 48, 64, 80, 96, 128, 144, 160, 192],
    [32, 48, 64, 80, 96, 128, 144, 160, 192, 224],
    [64, 80, 96, 128, 144, 160, 192, 224, 256, 320, 384, 512],
]
KERNELS = [3, 5]
MULTIPLY = [1, 2, 3, 4, 6]
REPEAT = [1, 2, 3, 4, 5, 6]
GROUP_STRIDES = [2, 2, 2, 1, 2, 1]
INIT_TOKENS = [4, 4, 5, 1, 0, 4, 4, 2, 0, 4, 4, 3, 0, 4, 5, 2, 0, 4, 7, 2, 0, 4, 9, 0, 0]
STEM_CHANNELS = 32
TAIL_CHANNELS = 1280


@register_space("MobileNetV2Space")
class MobileNetV2Space(SearchSpace):
    """Token 0: head channels; then 6 groups of [expansion, channels, repeat, kernel]."""

    key = "MobileNetV2Space"

    def __init__(self, config: SpaceConfig) -> None:
        super().__init__(config)

    def range_table(self) -> list[int]:
        table = [len(HEAD_NUM)]
        for filters in FILTER_NUMS:
            table += [len(MULTIPLY), len(filters), len(REPEAT), len(KERNELS)]
        return table

    def init_tokens(self) -> list[int]:
        return list(INIT_TOKENS)

    def decode(self, tokens: Sequence[int], in_channels: int = 3) -> Architecture:
        t = self.check_tokens(tokens)
        blocks = [Block("conv_bn", STEM_CHANNELS, kernel=3, stride=2, act="relu6")]
        # First bottleneck: t=1, c=head, n=1, s=1, k=3.
        blocks.append(Block("inverted_residual", HEAD_NUM[t[0]], kernel=3, stride=1))
        for g, (filters, stride) in enumerate(zip(FILTER_NUMS, GROUP_STRIDES, strict=True)):
            e, c, n, k = t[1 + 4 * g : 5 + 4 * g]
            blocks.append(
                Block(
                    "inverted_residual",
                    filters[c],
                    kernel=KERNELS[k],
                    stride=stride,
                    expansion=MULTIPLY[e],
                    repeats=REPEAT[n],
                )
            )
        blocks.append(Block("conv_bn", TAIL_CHANNELS, kernel=1, stride=1, act="relu6"))
        blocks.append(Block("global_avg_pool", TAIL_CHANNELS))
        return Architecture(self.key, in_channels, tuple(blocks))


BLOCK_EXPANSION = [1, 2, 3, 4, 5, 6]
# fmt: off
BLOCK_CHANNELS = [3, 4, 8, 12, 16, 24, 32, 48, 64, 80, 96, 128, 144, 160, 192, 224, 256, 320,
    384, 512]
# fmt: on
BLOCK_REPEAT = [1, 2, 3, 4, 5, 6]
BLOCK_KERNELS = [3, 5]


@register_space("MobileNetV2BlockSpace")
class MobileNetV2BlockSpace(BlockLayoutSpace):
    """4 tokens per block: [expansion, channels, repeat, kernel]; strides from the config."""

    key = "MobileNetV2BlockSpace"

    def range_table(self) -> list[int]:
        per_block = [
            len(BLOCK_EXPANSION),
            len(BLOCK_CHANNELS),
            len(BLOCK_REPEAT),
            len(BLOCK_KERNELS),
        ]
        return per_block * len(self.strides)

    def init_tokens(self) -> list[int]:
        # A modest start: expansion 3, 16 channels, 1 unit, 3x3 kernels.
        return [2, 4, 0, 0] * len(self.strides)

    def decode(self, tokens: Sequence[int], in_channels: int = 3) -> Architecture:
        t = self.check_tokens(tokens)
        blocks = tuple(
            Block(
                "inverted_residual",
                BLOCK_CHANNELS[t[4 * i + 1]],
                kernel=BLOCK_KERNELS[t[4 * i + 3]],
                stride=stride,
                expansion=BLOCK_EXPANSION[t[4 * i]],
                repeats=BLOCK_REPEAT[t[4 * i + 2]],
            )
            for i, stride in enumerate(self.strides)
        )
        return Architecture(self.key, in_channels, blocks)
