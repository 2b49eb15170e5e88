"""MobileNetV2Space (25 tokens) and MobileNetV2BlockSpace (4 tokens per block), decoded to
what PaddleSlim 2.6.0 builds for the same tokens: the candidate lists of its facts sheet,
its channel rules (the first block space unit expands a nominal 32 channels, whatever the
input), its block layout (`paddleslim_layout`), no shortcut on a group's first unit, and
its parameter names. `tests/test_fidelity.py` checks every rule against PaddleSlim's own
networks. sanas's earlier variants are the "sanas." spaces (`sanas_variants`)."""

from __future__ import annotations

from collections.abc import Sequence

from .base import Architecture, Block, BlockLayoutSpace, SearchSpace, register_space

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


def output_strides(strides: Sequence[int], output_stride: int | None, first: int = 2) -> list[int]:
    """PaddleSlim's `output_stride`: once the network's total stride (the stem's `first`
    times every block's) would pass it, blocks keep stride 1."""
    if output_stride is None:
        return list(strides)
    if output_stride % 2:
        raise ValueError(f"output_stride={output_stride}: must be an even number")
    total, out = first, []
    for s in strides:
        total *= s
        out.append(1 if total > output_stride else s)
    return out


@register_space("MobileNetV2Space")
class MobileNetV2Space(SearchSpace):
    """Token 0: the first group's channels; then 6 groups of [expansion, channels,
    repeat, kernel]. A 3x3 stride-2 stem of 32 channels (ReLU6), 7 groups of inverted
    residual units, a 1x1 conv to 1280 (ReLU6) and global average pooling."""

    key = "MobileNetV2Space"

    def range_table(self) -> list[int]:
        table = [len(HEAD_NUM)]
        for filters in FILTER_NUMS:
            table += [len(MULTIPLY), len(filters), len(REPEAT), len(KERNELS)]
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
        # (expansion, channels, repeats, stride, kernel) per group; the first is fixed.
        groups = [(1, HEAD_NUM[t[0]], 1, 1, 3)]
        for g, (filters, stride) in enumerate(zip(FILTER_NUMS, GROUP_STRIDES, strict=True)):
            e, c, n, k = t[1 + 4 * g : 5 + 4 * g]
            groups.append((MULTIPLY[e], filters[c], REPEAT[n], stride, KERNELS[k]))
        strides = output_strides([g[3] for g in groups], output_stride)
        stem = int(STEM_CHANNELS * scale)
        blocks = [Block("conv_bn", stem, kernel=3, stride=2, act="relu6", name="mobilenetv2_conv1")]
        in_c = stem
        for i, ((e, c, n, _, k), s) in enumerate(zip(groups, strides, strict=True)):
            out = int(c * scale)
            blocks.append(
                Block(
                    "inverted_residual",
                    out,
                    kernel=k,
                    stride=s,
                    expansion=e,
                    repeats=n,
                    mid_channels=round(in_c * e),
                    first_shortcut=False,
                    name=f"mobilenetv2_conv{i}",
                )
            )
            in_c = out
        tail = int(TAIL_CHANNELS * scale) if scale > 1.0 else TAIL_CHANNELS
        blocks.append(Block("conv_bn", tail, act="relu6", name=f"mobilenetv2_conv{len(groups)}"))
        blocks.append(Block("global_avg_pool", tail))
        return Architecture(self.key, in_channels, tuple(blocks), call="backbone")


BLOCK_EXPANSION = [1, 2, 3, 4, 5, 6]
# fmt: off
BLOCK_CHANNELS = [3, 4, 8, 12, 16, 24, 32, 48, 64, 80, 96, 128, 144, 160, 192, 224, 256, 320,
    384, 512]
# fmt: on
BLOCK_REPEAT = [1, 2, 3, 4, 5, 6]
BLOCK_KERNELS = [3, 5]
# PaddleSlim sizes the first unit's expansion from this many channels, not the input's.
BLOCK_NOMINAL_INPUT = 32


@register_space("MobileNetV2BlockSpace")
class MobileNetV2BlockSpace(BlockLayoutSpace):
    """4 tokens per block: [expansion, channels, repeat, kernel]. The first unit of the
    first block expands 32 x expansion channels whatever the input's channels (PaddleSlim's
    rule), later blocks the previous block's channels x expansion."""

    key = "MobileNetV2BlockSpace"

    def range_table(self) -> list[int]:
        per_block = [
            len(BLOCK_EXPANSION),
            len(BLOCK_CHANNELS),
            len(BLOCK_REPEAT),
            len(BLOCK_KERNELS),
        ]
        return per_block * self.blocks

    def init_tokens(self) -> list[int]:
        # PaddleSlim draws a random start; a modest fixed one (expansion 3, 16 channels,
        # 1 unit, 3x3) keeps the first trial cheap and a seeded study reproducible.
        return [2, 4, 0, 0] * self.blocks

    def decode(self, tokens: Sequence[int], in_channels: int = 3) -> Architecture:
        t = self.check_tokens(tokens)
        blocks, nominal = [], BLOCK_NOMINAL_INPUT
        for i, (group, stride) in enumerate(self.layout):
            e, c, n, k = t[4 * group : 4 * group + 4]
            expansion, channels = BLOCK_EXPANSION[e], BLOCK_CHANNELS[c]
            blocks.append(
                Block(
                    "inverted_residual",
                    channels,
                    kernel=BLOCK_KERNELS[k],
                    stride=stride,
                    expansion=expansion,
                    repeats=BLOCK_REPEAT[n],
                    mid_channels=round(nominal * expansion),
                    first_shortcut=False,
                    name=f"mobilenetv2_{i + 1}",
                )
            )
            nominal = channels
        return Architecture(self.key, in_channels, tuple(blocks), call="block")
