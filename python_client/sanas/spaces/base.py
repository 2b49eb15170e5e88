"""Search spaces as plain data: range tables, initial tokens and a decoder from tokens to
a framework-neutral architecture. No Paddle here: the controller host imports this.

Limits: every range_table entry is in [1, MAX_RANGE] (2**31 - 1), because tokens are
int32 on the wire (see `check_range_table`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

# The largest token range: tokens are int32 on the wire, so a token is at most 2**31 - 2.
MAX_RANGE = 2**31 - 1


class SpaceConfigError(ValueError):
    """A search-space config or token vector is invalid; the message says what to fix."""


@dataclass(frozen=True)
class SpaceConfig:
    """One search-space config, named as in PaddleSlim's API document.

    Integers left at 0 (or an empty list) mean "not set".
    """

    key: str
    input_size: int = 0
    output_size: int = 0
    block_num: int = 0
    block_mask: tuple[int, ...] = ()
    range_table: tuple[int, ...] = ()

    @classmethod
    def from_user(cls, item: object) -> SpaceConfig:
        """Accept PaddleSlim's forms: `"Key"`, `("Key",)`, `("Key", {...})`, or a SpaceConfig."""
        if isinstance(item, SpaceConfig):
            return item
        if isinstance(item, str):
            return cls(key=item)
        if isinstance(item, tuple | list) and 1 <= len(item) <= 2 and isinstance(item[0], str):
            params = item[1] if len(item) == 2 else {}
            if params is None:
                params = {}
            if not isinstance(params, dict):
                raise SpaceConfigError(
                    f"config {item!r}: the second element must be a dict of "
                    "input_size/output_size/block_num/block_mask"
                )
            known = {"input_size", "output_size", "block_num", "block_mask", "range_table"}
            unknown = set(params) - known
            if unknown:
                raise SpaceConfigError(
                    f"config {item[0]!r}: unknown parameter(s) {sorted(unknown)}; "
                    f"expected some of {sorted(known)}"
                )
            return cls(
                key=item[0],
                input_size=int(params.get("input_size") or 0),
                output_size=int(params.get("output_size") or 0),
                block_num=int(params.get("block_num") or 0),
                block_mask=tuple(int(v) for v in (params.get("block_mask") or ())),
                range_table=tuple(int(v) for v in (params.get("range_table") or ())),
            )
        raise SpaceConfigError(
            f"config {item!r} is not a search-space config: use 'Key', ('Key',) or "
            "('Key', {'input_size': ..., 'output_size': ..., 'block_num': ..., 'block_mask': ...})"
        )


@dataclass(frozen=True)
class Block:
    """One stage of a decoded network, in framework-neutral terms. Convolutions use
    'same' padding and no bias, each followed by batch norm (and `act` where a kind says
    so).

    kind:
    - "conv_bn": a kxk convolution (`groups`, 0 = 1), batch norm, `act`.
    - "inverted_residual": MobileNetV2 units: 1x1 expand (ReLU6), kxk depthwise
      (ReLU6), 1x1 linear projection. The first unit expands to `mid_channels` (0: its
      input channels x `expansion`) and takes `stride`; the others expand
      `out_channels` x `expansion` and add an identity shortcut. The first unit adds one
      when its shape is kept only if `first_shortcut` (PaddleSlim's never does).
    - "depthwise_separable": a kxk convolution to `mid_channels` grouped by `groups`
      (0: gcd(input, mid)), then a 1x1 convolution; `act` after each.
    - "bottleneck": ResNet units: 1x1 to `mid_channels` (ReLU), kxk to `inner_channels`
      (0: mid) with the unit's stride (ReLU), 1x1 to `out_channels`; a 1x1 projection
      shortcut when the shape changes; `act` after the addition.
    - "resnet_unit": PaddleSlim's ResNetBlockSpace block: `repeats` 1x1 convolutions to
      `mid_channels` (ReLU), a kxk convolution to `inner_channels` with the stride
      (ReLU), `tail_repeats` 1x1 convolutions to `out_channels`; projection shortcut
      when the shape changes; no activation after the addition.
    - "inception_a": PaddleSlim's InceptionA: branches [kxk pool (stride 1), 1x1 w0] |
      [1x1 w1] | [1x1 w2, kxk w3] | [1x1 w4, kxk w5, kxk w6], the block's stride on the
      last convolution of each, ReLU after each convolution; `branches` = w0..w6.
    - "inception_a_sanas": sanas's earlier InceptionA (the "sanas." spaces).
    - "darts_cells": PaddleSlim's DartsSpace body: a 3x3 stem to `mid_channels`, then one
      cell per width in `branches` (reductions at cells 7 and 14).
    - "darts_network": sanas's earlier DARTS-V2 network (the "sanas." spaces).
    - "max_pool" (3x3) or "global_avg_pool".
    Units repeat `repeats` times; only the first has `stride`.

    `name` is the parameter-name prefix PaddleSlim gives the block in static programs
    ("{unit}" in it stands for the unit's index): scripts read parameters by name, and
    two programs share weights through equal names. Empty: names are generated.
    """

    kind: str
    out_channels: int
    kernel: int = 1
    stride: int = 1
    expansion: int = 1
    repeats: int = 1
    act: str | None = None
    mid_channels: int = 0
    inner_channels: int = 0
    branches: tuple[int, ...] = ()
    pool: str = ""
    groups: int = 0
    first_shortcut: bool = True
    tail_repeats: int = 0
    name: str = ""


@dataclass(frozen=True)
class Architecture:
    """A decoded token vector: what a builder in any framework needs."""

    space: str
    in_channels: int
    blocks: tuple[Block, ...]
    # How the built network is called and what it returns, after PaddleSlim's builder
    # of the same space: "backbone" (x, scale, return_block, end_points, output_stride)
    # -> tensor; "block" (x, return_mid_layer, return_block) -> (tensor,); "darts" (x,
    # drop_prob, drop_path_mask, is_train, num_classes) -> (logits, aux logits);
    # "layer" (x) -> tensor (sanas's "sanas." spaces).
    call: str = "layer"

    @property
    def out_channels(self) -> int:
        channels = self.in_channels
        for block in self.blocks:
            if block.kind not in ("global_avg_pool", "max_pool"):
                channels = block.out_channels
        return channels


class SearchSpace:
    """A token space. Subclasses give the range table, initial tokens and a decoder."""

    key: str = ""

    def __init__(self, config: SpaceConfig) -> None:
        self.config = config

    def range_table(self) -> list[int]:
        raise NotImplementedError

    def init_tokens(self) -> list[int] | None:
        """The space's own starting point, or None for "draw one at random"."""
        return None

    def decode(self, tokens: Sequence[int], in_channels: int = 3) -> Architecture:
        raise SpaceConfigError(
            f"search space {self.config.key!r} is a bare token space and has no network to decode"
        )

    def check_tokens(self, tokens: Sequence[int], what: str = "tokens") -> list[int]:
        """Return tokens as a list of int, or raise with the first offending position."""
        table = self.range_table()
        return check_tokens(tokens, table, what)


def check_tokens(tokens: Sequence[int], table: Sequence[int], what: str = "tokens") -> list[int]:
    """Validate a token vector against a range table (token i in [0, table[i]))."""
    values = list(tokens)
    if len(values) != len(table):
        raise SpaceConfigError(
            f"{what} has {len(values)} tokens but the search space has {len(table)}"
        )
    for i, (value, limit) in enumerate(zip(values, table, strict=True)):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < limit:
            raise SpaceConfigError(f"{what}[{i}] = {value!r} is outside [0, {limit})")
    return values


def check_range_table(table: Sequence[int], what: str = "range_table") -> list[int]:
    """Validate a range table: non-empty, every entry an integer in [1, MAX_RANGE].

    MAX_RANGE is 2**31 - 1 because tokens are int32 on the wire; the one place for the
    rule (PaddleSlim checkpoint imports use it too).
    """
    values = list(table)
    if not values:
        raise SpaceConfigError(f"{what} is empty: give at least one token range")
    for i, value in enumerate(values):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise SpaceConfigError(f"{what}[{i}] = {value!r}: every range must be an integer >= 1")
        if value > MAX_RANGE:
            raise SpaceConfigError(
                f"{what}[{i}] = {value!r}: a range may be at most {MAX_RANGE} (2**31 - 1), "
                "since tokens are int32 on the wire"
            )
    return values


class BlockLayoutSpace(SearchSpace):
    """A space of blocks laid out by PaddleSlim's rule (`paddleslim_layout`): `blocks`
    token groups, and `layout`, the (token group, stride) of each block built."""

    def __init__(self, config: SpaceConfig) -> None:
        super().__init__(config)
        self.layout = paddleslim_layout(config)
        self.blocks = len(config.block_mask) or config.block_num


class SanasLayoutSpace(SearchSpace):
    """A space of blocks laid out by sanas's rule (`block_strides`): one token group per
    block, in order."""

    def __init__(self, config: SpaceConfig) -> None:
        super().__init__(config)
        self.strides = block_strides(config)


class CustomTokenSpace(SearchSpace):
    """A space given only by an explicit range table: annealed without any network."""

    def __init__(self, config: SpaceConfig) -> None:
        super().__init__(config)
        self._table = check_range_table(config.range_table, f"{config.key or 'custom'}.range_table")

    def range_table(self) -> list[int]:
        return list(self._table)


SpaceFactory = Callable[[SpaceConfig], SearchSpace]
_REGISTRY: dict[str, SpaceFactory] = {}


def register_space(key: str, factory: SpaceFactory | None = None) -> Callable[..., SpaceFactory]:
    """Register a search space under `key`; usable as a class decorator.

    A registered space is known to every process that imports its module: the server
    needs it too, unless clients send an explicit range_table.
    """

    def add(f: SpaceFactory) -> SpaceFactory:
        if not key or not isinstance(key, str):
            raise SpaceConfigError("a search space key must be a non-empty string")
        _REGISTRY[key] = f
        return f

    if factory is not None:
        add(factory)
    return add


def registered_spaces() -> list[str]:
    return sorted(_REGISTRY)


def create_space(config: SpaceConfig) -> SearchSpace:
    """Instantiate the space a config names; an explicit range_table makes a custom space."""
    if config.range_table:
        return CustomTokenSpace(config)
    factory = _REGISTRY.get(config.key)
    if factory is None:
        raise SpaceConfigError(
            f"unknown search space key {config.key!r}: known keys are {registered_spaces()}, "
            "or give an explicit range_table for a custom token space"
        )
    return factory(config)


@dataclass
class CombinedSpace:
    """Several configs in one study: their token vectors are concatenated, in order."""

    spaces: list[SearchSpace]
    _offsets: list[int] = field(init=False)

    def __post_init__(self) -> None:
        if not self.spaces:
            raise SpaceConfigError("a study needs at least one search-space config")
        self._offsets = [0]
        for space in self.spaces:
            self._offsets.append(self._offsets[-1] + len(space.range_table()))

    @classmethod
    def from_configs(cls, configs: Sequence[SpaceConfig]) -> CombinedSpace:
        return cls([create_space(c) for c in configs])

    def range_table(self) -> list[int]:
        return [r for space in self.spaces for r in space.range_table()]

    def init_tokens(self) -> list[int] | None:
        """Concatenated initial tokens, or None when any space has none of its own."""
        parts = [space.init_tokens() for space in self.spaces]
        if any(p is None for p in parts):
            return None
        return [t for p in parts if p is not None for t in p]

    def split(self, tokens: Sequence[int]) -> list[list[int]]:
        checked = check_tokens(tokens, self.range_table())
        return [checked[a:b] for a, b in zip(self._offsets, self._offsets[1:], strict=False)]

    def decode(self, tokens: Sequence[int], in_channels: int = 3) -> list[Architecture]:
        """One architecture per config; each takes the previous one's output channels."""
        archs = []
        for space, part in zip(self.spaces, self.split(tokens), strict=True):
            arch = space.decode(part, in_channels)
            archs.append(arch)
            in_channels = arch.out_channels
        return archs

    def size(self) -> int:
        return math.prod(self.range_table())


def _check_layout_config(config: SpaceConfig) -> None:
    if config.block_mask:
        if any(m not in (0, 1) for m in config.block_mask):
            raise SpaceConfigError(
                f"{config.key}: block_mask {list(config.block_mask)} may hold only 0 and 1"
            )
        return
    if config.input_size <= 0 or config.output_size <= 0 or config.block_num <= 0:
        raise SpaceConfigError(
            f"{config.key} needs block_mask, or input_size, output_size and block_num (all > 0)"
        )


def downsample_count(config: SpaceConfig) -> int:
    """PaddleSlim's number of stride-2 blocks from input_size to output_size: halvings
    rounded up (a stride-2 'same' convolution maps n to ceil(n / 2)), which must land
    exactly on output_size."""
    halvings, size = 0, config.input_size
    while size > config.output_size:
        size = -(-size // 2)
        halvings += 1
    if size != config.output_size:
        raise SpaceConfigError(
            f"{config.key}: input_size {config.input_size} does not reach output_size "
            f"{config.output_size} by halving (each halving rounds up)"
        )
    if config.block_num < halvings:
        raise SpaceConfigError(
            f"{config.key}: block_num {config.block_num} is less than the {halvings} "
            f"stride-2 blocks needed from {config.input_size} to {config.output_size}"
        )
    return halvings


def paddleslim_layout(config: SpaceConfig) -> list[tuple[int, int]]:
    """The blocks PaddleSlim 2.6.0's block spaces build, as (token group, stride).

    block_mask: block i reads token group i; stride 2 where the mask is 1.
    block_num: with d stride-2 blocks (`downsample_count`), r = block_num // d and
    m = block_num % d: stage i is a stride-2 block on group i, then r - 1 stride-1
    blocks on groups k * d + i (k = 0 .. r - 2: the first of them re-reads group i, so
    group (r - 1) * d + i is read only by the last m stages), then, in the last m
    stages, one more stride-1 block on group (r - 1) * d + i. Groups nothing reads have
    no effect on the network; that is PaddleSlim's meaning, kept so its checkpoints and
    published tokens build the same networks ("sanas." spaces read every group).
    input_size == output_size (PaddleSlim divides by zero): block_num stride-1 blocks.
    """
    _check_layout_config(config)
    if config.block_mask:
        return [(i, 2 if m else 1) for i, m in enumerate(config.block_mask)]
    d = downsample_count(config)
    if d == 0:
        return [(i, 1) for i in range(config.block_num)]
    repeat, leftover = divmod(config.block_num, d)
    layout: list[tuple[int, int]] = []
    for i in range(d):
        layout.append((i, 2))
        layout += [(k * d + i, 1) for k in range(repeat - 1)]
        if d - i <= leftover:
            layout.append((d * (repeat - 1) + i, 1))
    return layout


def block_strides(config: SpaceConfig) -> list[int]:
    """Stride of each block of a block space, from block_mask or from
    input_size / output_size / block_num.

    block_num mode: d = log2(input_size / output_size) stride-2 blocks (it must land
    exactly), each followed by stride-1 blocks so there are block_num blocks in all; the
    extra stride-1 blocks are spread over the stages, earlier stages first. Every block
    has its own tokens (PaddleSlim's repeated blocks re-read the stride-2 block's tokens).
    input_size == output_size gives block_num stride-1 blocks (PaddleSlim divided by 0).
    This is the rule of the "sanas." spaces; PaddleSlim's is `paddleslim_layout`.
    """
    _check_layout_config(config)
    if config.block_mask:
        return [2 if m else 1 for m in config.block_mask]
    halvings, size = 0, config.input_size
    while size > config.output_size and size % 2 == 0:
        size //= 2
        halvings += 1
    if size != config.output_size:
        raise SpaceConfigError(
            f"{config.key}: input_size {config.input_size} does not halve exactly to "
            f"output_size {config.output_size}"
        )
    if config.block_num < halvings:
        raise SpaceConfigError(
            f"{config.key}: block_num {config.block_num} is less than the {halvings} "
            f"stride-2 blocks needed from {config.input_size} to {config.output_size}"
        )
    if halvings == 0:
        return [1] * config.block_num
    extra, rest = divmod(config.block_num - halvings, halvings)
    strides: list[int] = []
    for stage in range(halvings):
        strides += [2] + [1] * (extra + (1 if stage < rest else 0))
    return strides
