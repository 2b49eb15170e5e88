"""InceptionABlockSpace and ResNetBlockSpace, with the candidate lists of PaddleSlim's
facts sheet; block layouts from block_mask or input_size / output_size / block_num."""

from __future__ import annotations

from collections.abc import Sequence

from .base import Architecture, Block, BlockLayoutSpace, register_space

# fmt: off
INCEPTION_CHANNELS = [3, 4, 8, 12, 16, 24, 32, 48, 64, 80, 96, 128, 144, 160, 192, 224, 256,
    320, 384, 448, 480, 512, 1024]
# fmt: on
K_SIZE = [3, 5]
POOLS = ["avg", "max"]


@register_space("InceptionABlockSpace")
class InceptionABlockSpace(BlockLayoutSpace):
    """9 tokens per block: 7 branch widths [1x1 | 1x1, kxk | 1x1, kxk, kxk | pool 1x1],
    the kernel k, and the pool type (avg, max)."""

    key = "InceptionABlockSpace"

    def range_table(self) -> list[int]:
        return ([len(INCEPTION_CHANNELS)] * 7 + [len(K_SIZE), len(POOLS)]) * len(self.strides)

    def init_tokens(self) -> list[int]:
        return [4, 3, 4, 3, 4, 4, 4, 0, 0] * len(self.strides)  # 16-wide branches, 3x3, avg

    def decode(self, tokens: Sequence[int], in_channels: int = 3) -> Architecture:
        t = self.check_tokens(tokens)
        blocks = []
        for i, stride in enumerate(self.strides):
            part = t[9 * i : 9 * i + 9]
            widths = tuple(INCEPTION_CHANNELS[v] for v in part[:7])
            blocks.append(
                Block(
                    "inception_a",
                    widths[0] + widths[2] + widths[5] + widths[6],
                    kernel=K_SIZE[part[7]],
                    stride=stride,
                    branches=widths,
                    pool=POOLS[part[8]],
                )
            )
        return Architecture(self.key, in_channels, tuple(blocks))


RESNET_CHANNELS = [48, 64, 96, 128, 160, 192, 224, 256, 320, 384, 512, 640]
RESNET_REPEAT = [0, 1, 2, 3, 4, 6, 7, 8, 10, 12, 14, 16]


@register_space("ResNetBlockSpace")
class ResNetBlockSpace(BlockLayoutSpace):
    """6 tokens per block: [f1, f2, f3, kernel, repeat1, repeat2]. A block is a bottleneck
    unit 1x1 f1, kxk f2 (the block's stride), 1x1 f3, then repeat1 + repeat2 more units of
    the same widths. PaddleSlim ignored f2 (its middle conv reused f1); here it is the
    middle width, so every token has an effect."""

    key = "ResNetBlockSpace"

    def range_table(self) -> list[int]:
        n = len(RESNET_CHANNELS)
        return [n, n, n, len(K_SIZE), len(RESNET_REPEAT), len(RESNET_REPEAT)] * len(self.strides)

    def init_tokens(self) -> list[int]:
        return [0, 0, 2, 0, 0, 0] * len(self.strides)  # 48, 48, 96 wide, 3x3, one unit

    def decode(self, tokens: Sequence[int], in_channels: int = 3) -> Architecture:
        t = self.check_tokens(tokens)
        blocks = []
        for i, stride in enumerate(self.strides):
            f1, f2, f3, k, r1, r2 = t[6 * i : 6 * i + 6]
            blocks.append(
                Block(
                    "bottleneck",
                    RESNET_CHANNELS[f3],
                    kernel=K_SIZE[k],
                    stride=stride,
                    repeats=1 + RESNET_REPEAT[r1] + RESNET_REPEAT[r2],
                    mid_channels=RESNET_CHANNELS[f1],
                    inner_channels=RESNET_CHANNELS[f2],
                )
            )
        return Architecture(self.key, in_channels, tuple(blocks))
