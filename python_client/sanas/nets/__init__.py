"""Paddle builders: framework-neutral architectures -> `paddle.nn.Layer`.

Paddle is imported on first use only, so `import sanas` stays fast and a controller host
needs no Paddle. Architectures of PaddleSlim's keys build PaddleSlim's networks, called
and returning as PaddleSlim's do (`paddleslim_layers`); those of the "sanas." spaces build
one `paddle.nn.Sequential` each (`paddle_layers`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..spaces import Architecture, CombinedSpace, CustomTokenSpace


def build_one(arch: Architecture, static_names: bool = False) -> Any:
    """The Layer of one architecture; `static_names`: PaddleSlim's parameter names."""
    if arch.call == "layer":
        from .paddle_layers import build_layer

        return build_layer(arch)
    from .paddleslim_layers import build_network

    return build_network(arch, static_names)


def build(archs: Sequence[Architecture]) -> list[Any]:
    """One `paddle.nn.Layer` per architecture, with generated parameter names."""
    return [build_one(arch) for arch in archs]


def build_archs(space: CombinedSpace, tokens: Sequence[int], in_channels: int) -> list[Any]:
    """What `SANAS.next_archs()` returns: in dynamic mode one `paddle.nn.Layer` per config,
    built for `in_channels` input channels (the next config's for the previous one's
    output); in static mode one `StaticArch` per config, which builds when called, in the
    program current then, for the channels of its input (PaddleSlim's builders did the
    same, and scripts call `next_archs()` before `program_guard`). A custom token space
    (no network) gives its tokens, as a list."""
    import paddle

    out: list[Any] = []
    for sub, part in zip(space.spaces, space.split(tokens), strict=True):
        if isinstance(sub, CustomTokenSpace):
            out.append(list(part))
            continue
        arch = sub.decode(part, in_channels)
        if paddle.in_dynamic_mode():
            out.append(build_one(arch))
        else:
            from .lazy import StaticArch

            out.append(StaticArch(sub, part, arch))
        in_channels = arch.out_channels
    return out
