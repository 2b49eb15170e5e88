"""DartsSpace: 20 tokens, each one cell's width, decoded to what PaddleSlim 2.6.0 builds:
a 3x3 stem of 108 channels (3 x 36) with batch norm, 20 cells of its fixed genotype
(reduction cells 7 and 14, i.e. indexes 6 and 13), and, when called, a classifier of
`num_classes` (global average pooling, fc) plus an auxiliary head after cell 14 in
training. Its call is PaddleSlim's: `arch(input, drop_prob, drop_path_mask, is_train,
num_classes)` returns `(logits, aux_logits)` (aux_logits None unless is_train).

The cells (PaddleSlim's, which is not the published DARTS-V2 genotype): inputs
s0 -> pre0 (ReLU-1x1-BN, or a factorized reduction after a reduction cell) and
s1 -> pre1 (ReLU-1x1-BN), both to the cell's width c; then
- normal: dil3x3(pre0) + sep3x3(pre1), sep3x3(pre0) + sep3x3(pre1),
  sep3x3(pre0) + sep3x3(pre1), pre0 + sep3x3(pre1), concatenated (4c channels);
- reduction: r0 = maxpool(pre0) + factorized_reduce(pre1), r1 = maxpool(pre1) + r0,
  r2 = r0 + dil5x5(r1), r3 = r0 + maxpool(pre1), concatenated.
sanas's earlier DARTS-V2 network is "sanas.DartsSpace"."""

from __future__ import annotations

from collections.abc import Sequence

from .base import Architecture, Block, SearchSpace, register_space

CHANNELS = [4, 8, 12, 16, 20, 36, 54, 72, 90, 108, 144, 180, 216, 252]
CELLS = 20
REDUCTIONS = (6, 13)  # cell indexes; PaddleSlim puts one after each group of six
AUX_CELL = 2 * CELLS // 3  # the auxiliary head reads this cell's output (training only)
STEM_CHANNELS = 3 * 36
INIT_TOKENS = [5] * 6 + [7] * 7 + [10] * 7


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
        body = Block(
            "darts_cells",
            4 * widths[-1],
            kernel=3,
            mid_channels=STEM_CHANNELS,
            branches=widths,
            name="cifar10_darts",
        )
        return Architecture(self.key, in_channels, (body,), call="darts")
