"""sanas's own variants of PaddleSlim's spaces, registered as "sanas.<Key>".

They are what sanas 0.1 built under PaddleSlim's keys, before those keys were made to
build PaddleSlim's own networks. They differ from PaddleSlim where it has defects:
- block spaces read every token group (`block_strides`: PaddleSlim's repeated blocks
  re-read the stride-2 block's tokens, so many tokens have no effect), spread extra
  stride-1 blocks over the earlier stages, and take the expansion from the block's real
  input channels;
- MobileNetV1 spaces have ReLU after every convolution, and group the depthwise
  convolution by gcd(input, width);
- ResNetBlockSpace's f2 is the kxk width; InceptionABlockSpace honours block_mask;
- ResNetSpace and DartsSpace are the textbook networks (a 7x7 stem and max pooling; the
  published DARTS-V2 genotype), ending in global average pooling;
- a MobileNetV2 group's first unit has an identity shortcut when its shape is kept.
Journals written before the format recorded which meaning a key had are read with these
(see sanas_server's journal format); new studies choose them by name.
"""

from __future__ import annotations

from collections.abc import Sequence

from . import blocks_extra, darts, mobilenet_v1, mobilenet_v2, resnet
from .base import Architecture, Block, SanasLayoutSpace, SearchSpace, register_space

PREFIX = "sanas."
# PaddleSlim's keys, each with a variant here.
VARIANT_OF = {
    key: PREFIX + key
    for key in (
        "MobileNetV2Space",
        "MobileNetV2BlockSpace",
        "MobileNetV1Space",
        "MobileNetV1BlockSpace",
        "ResNetSpace",
        "ResNetBlockSpace",
        "InceptionABlockSpace",
        "DartsSpace",
    )
}


@register_space("sanas.MobileNetV2Space")
class MobileNetV2Space(SearchSpace):
    key = "sanas.MobileNetV2Space"
    range_table = mobilenet_v2.MobileNetV2Space.range_table
    init_tokens = mobilenet_v2.MobileNetV2Space.init_tokens

    def decode(self, tokens: Sequence[int], in_channels: int = 3) -> Architecture:
        m = mobilenet_v2
        t = self.check_tokens(tokens)
        blocks = [Block("conv_bn", m.STEM_CHANNELS, kernel=3, stride=2, act="relu6")]
        blocks.append(Block("inverted_residual", m.HEAD_NUM[t[0]], kernel=3, stride=1))
        for g, (filters, stride) in enumerate(zip(m.FILTER_NUMS, m.GROUP_STRIDES, strict=True)):
            e, c, n, k = t[1 + 4 * g : 5 + 4 * g]
            blocks.append(
                Block(
                    "inverted_residual",
                    filters[c],
                    kernel=m.KERNELS[k],
                    stride=stride,
                    expansion=m.MULTIPLY[e],
                    repeats=m.REPEAT[n],
                )
            )
        blocks.append(Block("conv_bn", m.TAIL_CHANNELS, kernel=1, stride=1, act="relu6"))
        blocks.append(Block("global_avg_pool", m.TAIL_CHANNELS))
        return Architecture(self.key, in_channels, tuple(blocks))


@register_space("sanas.MobileNetV2BlockSpace")
class MobileNetV2BlockSpace(SanasLayoutSpace):
    key = "sanas.MobileNetV2BlockSpace"

    def range_table(self) -> list[int]:
        m = mobilenet_v2
        per_block = [
            len(m.BLOCK_EXPANSION),
            len(m.BLOCK_CHANNELS),
            len(m.BLOCK_REPEAT),
            len(m.BLOCK_KERNELS),
        ]
        return per_block * len(self.strides)

    def init_tokens(self) -> list[int]:
        return [2, 4, 0, 0] * len(self.strides)

    def decode(self, tokens: Sequence[int], in_channels: int = 3) -> Architecture:
        m = mobilenet_v2
        t = self.check_tokens(tokens)
        blocks = tuple(
            Block(
                "inverted_residual",
                m.BLOCK_CHANNELS[t[4 * i + 1]],
                kernel=m.BLOCK_KERNELS[t[4 * i + 3]],
                stride=stride,
                expansion=m.BLOCK_EXPANSION[t[4 * i]],
                repeats=m.BLOCK_REPEAT[t[4 * i + 2]],
            )
            for i, stride in enumerate(self.strides)
        )
        return Architecture(self.key, in_channels, blocks)


@register_space("sanas.MobileNetV1Space")
class MobileNetV1Space(SearchSpace):
    key = "sanas.MobileNetV1Space"
    range_table = mobilenet_v1.MobileNetV1Space.range_table
    init_tokens = mobilenet_v1.MobileNetV1Space.init_tokens

    def decode(self, tokens: Sequence[int], in_channels: int = 3) -> Architecture:
        m = mobilenet_v1
        t = self.check_tokens(tokens)
        blocks = [Block("conv_bn", m.HEAD_NUM[t[0]], kernel=3, stride=2, act="relu")]
        pos = 1
        for i, (dw, pw, stride) in enumerate(m.STAGES):
            repeats = 1
            if i == m.REPEATED_STAGE:
                repeats = m.REPEAT[t[pos]]
                pos += 1
            blocks.append(
                Block(
                    "depthwise_separable",
                    m.FILTER_NUM[pw - 1][t[pos + 1]],
                    kernel=m.K_SIZE[t[pos + 2]],
                    stride=stride,
                    repeats=repeats,
                    act="relu",
                    mid_channels=m.FILTER_NUM[dw - 1][t[pos]],
                )
            )
            pos += 3
        blocks.append(Block("global_avg_pool", blocks[-1].out_channels))
        return Architecture(self.key, in_channels, tuple(blocks))


@register_space("sanas.MobileNetV1BlockSpace")
class MobileNetV1BlockSpace(SanasLayoutSpace):
    key = "sanas.MobileNetV1BlockSpace"

    def range_table(self) -> list[int]:
        n = len(mobilenet_v1.BLOCK_CHANNELS)
        return [n, n, len(mobilenet_v1.K_SIZE)] * len(self.strides)

    def init_tokens(self) -> list[int]:
        return [4, 4, 0] * len(self.strides)

    def decode(self, tokens: Sequence[int], in_channels: int = 3) -> Architecture:
        m = mobilenet_v1
        t = self.check_tokens(tokens)
        blocks = tuple(
            Block(
                "depthwise_separable",
                m.BLOCK_CHANNELS[t[3 * i + 1]],
                kernel=m.K_SIZE[t[3 * i + 2]],
                stride=stride,
                act="relu",
                mid_channels=m.BLOCK_CHANNELS[t[3 * i]],
            )
            for i, stride in enumerate(self.strides)
        )
        return Architecture(self.key, in_channels, blocks)


@register_space("sanas.ResNetSpace")
class ResNetSpace(SearchSpace):
    key = "sanas.ResNetSpace"
    range_table = resnet.ResNetSpace.range_table
    init_tokens = resnet.ResNetSpace.init_tokens

    def decode(self, tokens: Sequence[int], in_channels: int = 3) -> Architecture:
        r = resnet
        t = self.check_tokens(tokens)
        blocks = [
            Block("conv_bn", 64, kernel=7, stride=2, act="relu"),
            Block("max_pool", 64, kernel=3, stride=2),
        ]
        for stage, (filters, repeats) in enumerate(zip(r.FILTERS, r.REPEATS, strict=True)):
            width = filters[t[2 * stage]]
            blocks.append(
                Block(
                    "bottleneck",
                    width * r.EXPANSION,
                    kernel=3,
                    stride=1 if stage == 0 else 2,
                    repeats=repeats[t[2 * stage + 1]],
                    act="relu",
                    mid_channels=width,
                )
            )
        blocks.append(Block("global_avg_pool", blocks[-1].out_channels))
        return Architecture(self.key, in_channels, tuple(blocks))


@register_space("sanas.InceptionABlockSpace")
class InceptionABlockSpace(SanasLayoutSpace):
    """Branches 1x1 w0 | 1x1 w1, kxk w2 | 1x1 w3, kxk w4, kxk w5 | 3x3 pool, 1x1 w6."""

    key = "sanas.InceptionABlockSpace"

    def range_table(self) -> list[int]:
        b = blocks_extra
        return ([len(b.INCEPTION_CHANNELS)] * 7 + [len(b.K_SIZE), len(b.POOLS)]) * len(self.strides)

    def init_tokens(self) -> list[int]:
        return [4, 3, 4, 3, 4, 4, 4, 0, 0] * len(self.strides)

    def decode(self, tokens: Sequence[int], in_channels: int = 3) -> Architecture:
        b = blocks_extra
        t = self.check_tokens(tokens)
        blocks = []
        for i, stride in enumerate(self.strides):
            part = t[9 * i : 9 * i + 9]
            widths = tuple(b.INCEPTION_CHANNELS[v] for v in part[:7])
            blocks.append(
                Block(
                    "inception_a_sanas",
                    widths[0] + widths[2] + widths[5] + widths[6],
                    kernel=b.K_SIZE[part[7]],
                    stride=stride,
                    branches=widths,
                    pool=b.POOLS[part[8]],
                )
            )
        return Architecture(self.key, in_channels, tuple(blocks))


@register_space("sanas.ResNetBlockSpace")
class ResNetBlockSpace(SanasLayoutSpace):
    """[f1, f2, f3, kernel, repeat1, repeat2]: a bottleneck unit 1x1 f1, kxk f2 (the
    block's stride), 1x1 f3, then repeat1 + repeat2 more units of the same widths."""

    key = "sanas.ResNetBlockSpace"

    def range_table(self) -> list[int]:
        b = blocks_extra
        n = len(b.RESNET_CHANNELS)
        return [n, n, n, len(b.K_SIZE), len(b.RESNET_REPEAT), len(b.RESNET_REPEAT)] * len(
            self.strides
        )

    def init_tokens(self) -> list[int]:
        return [0, 0, 2, 0, 0, 0] * len(self.strides)

    def decode(self, tokens: Sequence[int], in_channels: int = 3) -> Architecture:
        b = blocks_extra
        t = self.check_tokens(tokens)
        blocks = []
        for i, stride in enumerate(self.strides):
            f1, f2, f3, k, r1, r2 = t[6 * i : 6 * i + 6]
            blocks.append(
                Block(
                    "bottleneck",
                    b.RESNET_CHANNELS[f3],
                    kernel=b.K_SIZE[k],
                    stride=stride,
                    repeats=1 + b.RESNET_REPEAT[r1] + b.RESNET_REPEAT[r2],
                    act="relu",
                    mid_channels=b.RESNET_CHANNELS[f1],
                    inner_channels=b.RESNET_CHANNELS[f2],
                )
            )
        return Architecture(self.key, in_channels, tuple(blocks))


# The published DARTS-V2 genotype: (operation, input state) pairs, two per node.
DARTS_NORMAL = (
    ("sep_conv_3x3", 0),
    ("sep_conv_3x3", 1),
    ("sep_conv_3x3", 0),
    ("sep_conv_3x3", 1),
    ("sep_conv_3x3", 1),
    ("skip_connect", 0),
    ("skip_connect", 0),
    ("dil_conv_3x3", 2),
)
DARTS_REDUCE = (
    ("max_pool_3x3", 0),
    ("max_pool_3x3", 1),
    ("skip_connect", 2),
    ("max_pool_3x3", 1),
    ("max_pool_3x3", 0),
    ("skip_connect", 2),
    ("skip_connect", 2),
    ("max_pool_3x3", 1),
)
DARTS_REDUCTIONS = (darts.CELLS // 3, 2 * darts.CELLS // 3)
DARTS_STEM = 48
DARTS_INIT_TOKENS = [3] * 6 + [5] * 7 + [7] * 7  # DARTS' CIFAR widths 16 / 32 / 64


@register_space("sanas.DartsSpace")
class DartsSpace(SearchSpace):
    """The DARTS-V2 genotype in 20 cells (reductions at the 7th and 14th), a 3x3 stem of
    48 channels, global average pooling; spatial sizes at the reductions must be even."""

    key = "sanas.DartsSpace"
    range_table = darts.DartsSpace.range_table

    def init_tokens(self) -> list[int]:
        return list(DARTS_INIT_TOKENS)

    def decode(self, tokens: Sequence[int], in_channels: int = 3) -> Architecture:
        t = self.check_tokens(tokens)
        widths = tuple(darts.CHANNELS[v] for v in t)
        network = Block(
            "darts_network", 4 * widths[-1], kernel=3, mid_channels=DARTS_STEM, branches=widths
        )
        return Architecture(
            self.key, in_channels, (network, Block("global_avg_pool", 4 * widths[-1]))
        )
