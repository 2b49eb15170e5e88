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
    """One stage of a decoded network, in framework-neutral terms.

    kind: "conv_bn" (conv + batch norm + act), "inverted_residual" (MobileNetV2 unit),
    "depthwise_separable" (kxk grouped conv to `mid_channels`, then 1x1 conv; both with
    batch norm and ReLU), "bottleneck" (ResNet unit: 1x1 to `mid_channels`, kxk, 1x1 to
    `out_channels`, projection shortcut when the shape changes), "max_pool" (3x3) or
    "global_avg_pool". Units repeat `repeats` times; only the first has `stride`.
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


@dataclass(frozen=True)
class Architecture:
    """A decoded token vector: what a builder in any framework needs."""

    space: str
    in_channels: int
    blocks: tuple[Block, ...]

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
    """A space of blocks whose strides come from block_mask or input/output sizes."""

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


def block_strides(config: SpaceConfig) -> list[int]:
    """Stride of each block of a block space, from block_mask or from
    input_size / output_size / block_num.

    block_num mode: d = log2(input_size / output_size) stride-2 blocks (it must land
    exactly), each followed by stride-1 blocks so there are block_num blocks in all; the
    extra stride-1 blocks are spread over the stages, earlier stages first. Every block
    has its own tokens (PaddleSlim's repeated blocks re-read the stride-2 block's tokens).
    input_size == output_size gives block_num stride-1 blocks (PaddleSlim divided by 0).
    """
    if config.block_mask:
        if any(m not in (0, 1) for m in config.block_mask):
            raise SpaceConfigError(
                f"{config.key}: block_mask {list(config.block_mask)} may hold only 0 and 1"
            )
        return [2 if m else 1 for m in config.block_mask]
    if config.input_size <= 0 or config.output_size <= 0 or config.block_num <= 0:
        raise SpaceConfigError(
            f"{config.key} needs block_mask, or input_size, output_size and block_num (all > 0)"
        )
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
