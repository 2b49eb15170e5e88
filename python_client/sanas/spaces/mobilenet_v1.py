"""MobileNetV1Space (29 tokens) and MobileNetV1BlockSpace (3 tokens per block), decoded to
what PaddleSlim 2.6.0 builds: its candidate lists, no activation after any convolution
(PaddleSlim's networks have none), and its depthwise rule: the kxk convolution is grouped
by the input's channels and has the chosen channels rounded down to a multiple of them
(at least the input's). sanas's earlier variants, with ReLU, are the "sanas." spaces."""

from __future__ import annotations

from collections.abc import Sequence

from .base import Architecture, Block, BlockLayoutSpace, SearchSpace, register_space
from .mobilenet_v2 import output_strides

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


def depthwise_channels(in_channels: int, chosen: int) -> int:
    """PaddleSlim's depthwise width: grouped by the input's channels, so the chosen
    width rounded down to a multiple of them, and at least them."""
    if chosen > in_channels:
        return chosen - chosen % in_channels
    return in_channels


def separable_block(
    in_channels: int, dw: int, pw: int, kernel: int, stride: int, name: str
) -> Block:
    """One PaddleSlim depthwise-separable unit on `in_channels` channels."""
    return Block(
        "depthwise_separable",
        pw,
        kernel=kernel,
        stride=stride,
        mid_channels=depthwise_channels(in_channels, dw),
        groups=in_channels,
        act=None,
        name=name,
    )


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

    def decode(
        self,
        tokens: Sequence[int],
        in_channels: int = 3,
        scale: float = 1.0,
        output_stride: int | None = None,
    ) -> Architecture:
        t = self.check_tokens(tokens)
        units: list[tuple[int, int, int, int]] = []  # (dw, pw, stride, kernel)
        pos = 1
        for i, (dw, pw, stride) in enumerate(STAGES):
            repeats = 1
            if i == REPEATED_STAGE:
                repeats = REPEAT[t[pos]]
                pos += 1
            unit = (
                FILTER_NUM[dw - 1][t[pos]],
                FILTER_NUM[pw - 1][t[pos + 1]],
                stride,
                K_SIZE[t[pos + 2]],
            )
            units += [unit] * repeats
            pos += 3
        strides = output_strides([u[2] for u in units], output_stride)
        head = HEAD_NUM[t[0]]  # PaddleSlim does not scale the stem
        blocks = [Block("conv_bn", head, kernel=3, stride=2, name="mobilenetv1_conv1")]
        channels = head
        for i, ((dw, pw, _, kernel), stride) in enumerate(zip(units, strides, strict=True)):
            block = separable_block(
                channels, int(dw * scale), int(pw * scale), kernel, stride, f"mobilenetv1_{i + 1}"
            )
            blocks.append(block)
            channels = block.out_channels
        blocks.append(Block("global_avg_pool", channels))
        return Architecture(self.key, in_channels, tuple(blocks), call="backbone")


# fmt: off
BLOCK_CHANNELS = [3, 4, 8, 12, 16, 24, 32, 48, 64, 80, 96, 128, 144, 160, 192, 224, 256, 320,
    384, 512, 576, 640, 768, 1024, 1048]
# fmt: on


@register_space("MobileNetV1BlockSpace")
class MobileNetV1BlockSpace(BlockLayoutSpace):
    """3 tokens per block: [dw channels, pw channels, kernel]."""

    key = "MobileNetV1BlockSpace"

    def range_table(self) -> list[int]:
        return [len(BLOCK_CHANNELS), len(BLOCK_CHANNELS), len(K_SIZE)] * self.blocks

    def init_tokens(self) -> list[int]:
        return [4, 4, 0] * self.blocks  # 16 and 16 channels, 3x3

    def decode(self, tokens: Sequence[int], in_channels: int = 3) -> Architecture:
        t = self.check_tokens(tokens)
        blocks, channels = [], in_channels
        for i, (group, stride) in enumerate(self.layout):
            dw, pw, k = t[3 * group : 3 * group + 3]
            block = separable_block(
                channels,
                BLOCK_CHANNELS[dw],
                BLOCK_CHANNELS[pw],
                K_SIZE[k],
                stride,
                f"mobilenetv1_{i + 1}",
            )
            blocks.append(block)
            channels = block.out_channels
        return Architecture(self.key, in_channels, tuple(blocks), call="block")
