"""InceptionABlockSpace and ResNetBlockSpace, decoded to what PaddleSlim 2.6.0 builds for
the same tokens, including two of its defects that change no token's range but do change
the network (kept so its checkpoints and published tokens mean the same networks):
- InceptionABlockSpace with block_mask builds every block with stride 1 (PaddleSlim
  compares the whole mask with 1); block_num layouts do have their stride-2 blocks.
- ResNetBlockSpace ignores f2: the kxk convolution has f3 channels.
sanas's earlier variants, which read every token, are the "sanas." spaces."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from .base import Architecture, Block, BlockLayoutSpace, SpaceConfig, register_space

log = logging.getLogger(__name__)
_warned_masks: set[tuple[int, ...]] = set()  # once per mask and process: spaces are rebuilt often

# fmt: off
INCEPTION_CHANNELS = [3, 4, 8, 12, 16, 24, 32, 48, 64, 80, 96, 128, 144, 160, 192, 224, 256,
    320, 384, 448, 480, 512, 1024]
# fmt: on
K_SIZE = [3, 5]
POOLS = ["avg", "max"]


@register_space("InceptionABlockSpace")
class InceptionABlockSpace(BlockLayoutSpace):
    """9 tokens per block: 7 branch widths, the kernel k and the pool type (avg, max):
    [kxk pool, 1x1 w0] | [1x1 w1] | [1x1 w2, kxk w3] | [1x1 w4, kxk w5, kxk w6]."""

    key = "InceptionABlockSpace"

    def __init__(self, config: SpaceConfig) -> None:
        super().__init__(config)
        if config.block_mask:
            if any(config.block_mask) and config.block_mask not in _warned_masks:
                _warned_masks.add(config.block_mask)
                log.warning(
                    "InceptionABlockSpace with block_mask %s: PaddleSlim builds every block "
                    "with stride 1 (it ignores the mask's 1s), and so does sanas, so that its "
                    "tokens mean the same networks; 'sanas.InceptionABlockSpace' honours the "
                    "mask",
                    list(config.block_mask),
                )
            self.layout = [(group, 1) for group, _ in self.layout]

    def range_table(self) -> list[int]:
        return ([len(INCEPTION_CHANNELS)] * 7 + [len(K_SIZE), len(POOLS)]) * self.blocks

    def init_tokens(self) -> list[int]:
        return [4, 3, 4, 3, 4, 4, 4, 0, 0] * self.blocks  # 8-16 wide branches, 3x3, avg

    def decode(self, tokens: Sequence[int], in_channels: int = 3) -> Architecture:
        t = self.check_tokens(tokens)
        blocks = []
        for i, (group, stride) in enumerate(self.layout):
            part = t[9 * group : 9 * group + 9]
            w = tuple(INCEPTION_CHANNELS[v] for v in part[:7])
            blocks.append(
                Block(
                    "inception_a",
                    w[0] + w[1] + w[3] + w[6],
                    kernel=K_SIZE[part[7]],
                    stride=stride,
                    branches=w,
                    pool=POOLS[part[8]],
                    name=f"inceptionA_{i + 1}",
                )
            )
        return Architecture(self.key, in_channels, tuple(blocks), call="block")


RESNET_CHANNELS = [48, 64, 96, 128, 160, 192, 224, 256, 320, 384, 512, 640]
RESNET_REPEAT = [0, 1, 2, 3, 4, 6, 7, 8, 10, 12, 14, 16]


@register_space("ResNetBlockSpace")
class ResNetBlockSpace(BlockLayoutSpace):
    """6 tokens per block: [f1, f2, f3, kernel, repeat1, repeat2]: repeat1 1x1 convs of f1
    channels, a kxk conv of f3 channels with the block's stride, repeat2 1x1 convs of f3
    channels, and a shortcut; f2 has no effect, as in PaddleSlim."""

    key = "ResNetBlockSpace"

    def range_table(self) -> list[int]:
        n = len(RESNET_CHANNELS)
        return [n, n, n, len(K_SIZE), len(RESNET_REPEAT), len(RESNET_REPEAT)] * self.blocks

    def init_tokens(self) -> list[int]:
        return [0, 0, 2, 0, 1, 1] * self.blocks  # 48 / 96 wide, 3x3, one 1x1 each side

    def decode(self, tokens: Sequence[int], in_channels: int = 3) -> Architecture:
        t = self.check_tokens(tokens)
        blocks = []
        for i, (group, stride) in enumerate(self.layout):
            f1, _f2, f3, k, r1, r2 = t[6 * group : 6 * group + 6]
            blocks.append(
                Block(
                    "resnet_unit",
                    RESNET_CHANNELS[f3],
                    kernel=K_SIZE[k],
                    stride=stride,
                    repeats=RESNET_REPEAT[r1],
                    tail_repeats=RESNET_REPEAT[r2],
                    mid_channels=RESNET_CHANNELS[f1],
                    inner_channels=RESNET_CHANNELS[f3],
                    name=f"resnet{i + 1}",
                )
            )
        return Architecture(self.key, in_channels, tuple(blocks), call="block")
