"""MobileNetV1Space (29 tokens) and MobileNetV1BlockSpace (3 tokens per block), with the
candidate lists of PaddleSlim's facts sheet. Fixed against PaddleSlim: every convolution
is followed by batch norm and ReLU (PaddleSlim had no activations), and the depthwise
stage is grouped by gcd(input channels, its channels), so every token vector builds
(PaddleSlim grouped by its own channel count, which fails whenever the input channels
are not a multiple of it)."""

from __future__ import annotations

from collections.abc import Sequence

from .base import Architecture, Block, BlockLayoutSpace, SearchSpace, register_space

HEAD_NUM = [3, 4, 8, 12, 16, 24, 32]
FILTER_NUM = [
    [3, 4, 8, 12, 16, 24, 32, 48],
    [8, 12, 16, 24, 32, 48, 64, 80],
    [16, 24, 32, 48, 64, 80, 96, 128, 144, 160],
    [24, 32, 48, 64, 80, 96, 128, 144, 160, 192],
    [32, 48, 64, 80, 96, 128, 144, 160, 192, 224, 256, 320],
    [64, 80, 96, 128, 144, 160, 192, 224, 256, 320, 384],
    [64, 80, 96, 128, 144, 160, 192, 224, 256, 320, 384, 512, 1024, 1048],
    [128, 144, 160, 192, 224, 256, 320, 384, 512, 576, 640, 704, 768],
    [160, 192, 224, 256, 320, 384, 512, 640, 768, 832, 1024, 1048],
]
K_SIZE = [3, 5]
REPEAT = [1, 2, 3, 4, 5, 6]
# fmt: off
INIT_TOKENS = [6, 6, 6, 0, 6, 7, 0, 7, 6, 0, 6, 10, 0, 10, 8, 0, 8, 11, 0, 4, 11, 8, 0, 8, 10,
    0, 10, 10, 0]
# fmt: on
# (dw list, pw list, stride) of the nine separable stages, as filter_numN indexes (1-based).
STAGES = [
    (1, 2, 1),
    (2, 3, 2),
    (3, 4, 1),
    (4, 5, 2),
    (5, 6, 1),
    (6, 7, 2),
    (7, 8, 1),
    (8, 9, 2),
    (9, 9, 1),
]
REPEATED_STAGE = 6  # the stage whose repeat count is token 19


@register_space("MobileNetV1Space")
class MobileNetV1Space(SearchSpace):
    """Token 0: stem channels (3x3, stride 2); then (dw, pw, kernel) per stage; token 19
    repeats stage 7. Ends with global average pooling."""

    key = "MobileNetV1Space"

    def range_table(self) -> list[int]:
        table = [len(HEAD_NUM)]
        for i, (dw, pw, _) in enumerate(STAGES):
            if i == REPEATED_STAGE:
                table.append(len(REPEAT))
            table += [len(FILTER_NUM[dw - 1]), len(FILTER_NUM[pw - 1]), len(K_SIZE)]
        return table

    def init_tokens(self) -> list[int]:
        return list(INIT_TOKENS)

    def decode(self, tokens: Sequence[int], in_channels: int = 3) -> Architecture:
        t = self.check_tokens(tokens)
        blocks = [Block("conv_bn", HEAD_NUM[t[0]], kernel=3, stride=2, act="relu")]
        pos = 1
        for i, (dw, pw, stride) in enumerate(STAGES):
            repeats = 1
            if i == REPEATED_STAGE:
                repeats = REPEAT[t[pos]]
                pos += 1
            blocks.append(
                Block(
                    "depthwise_separable",
                    FILTER_NUM[pw - 1][t[pos + 1]],
                    kernel=K_SIZE[t[pos + 2]],
                    stride=stride,
                    repeats=repeats,
                    mid_channels=FILTER_NUM[dw - 1][t[pos]],
                )
            )
            pos += 3
        blocks.append(Block("global_avg_pool", blocks[-1].out_channels))
        return Architecture(self.key, in_channels, tuple(blocks))


# fmt: off
BLOCK_CHANNELS = [3, 4, 8, 12, 16, 24, 32, 48, 64, 80, 96, 128, 144, 160, 192, 224, 256, 320,
    384, 512, 576, 640, 768, 1024, 1048]
# fmt: on


@register_space("MobileNetV1BlockSpace")
class MobileNetV1BlockSpace(BlockLayoutSpace):
    """3 tokens per block: [dw channels, pw channels, kernel]; strides from the config."""

    key = "MobileNetV1BlockSpace"

    def range_table(self) -> list[int]:
        return [len(BLOCK_CHANNELS), len(BLOCK_CHANNELS), len(K_SIZE)] * len(self.strides)

    def init_tokens(self) -> list[int]:
        return [4, 4, 0] * len(self.strides)  # 16 and 16 channels, 3x3

    def decode(self, tokens: Sequence[int], in_channels: int = 3) -> Architecture:
        t = self.check_tokens(tokens)
        blocks = tuple(
            Block(
                "depthwise_separable",
                BLOCK_CHANNELS[t[3 * i + 1]],
                kernel=K_SIZE[t[3 * i + 2]],
                stride=stride,
                mid_channels=BLOCK_CHANNELS[t[3 * i]],
            )
            for i, stride in enumerate(self.strides)
        )
        return Architecture(self.key, in_channels, blocks)
