"""Paddle builders: framework-neutral architectures -> `paddle.nn.Layer`.

Paddle is imported on first use only, so `import sanas` stays fast and a controller host
needs no Paddle.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..spaces import Architecture


def build(archs: Sequence[Architecture]) -> list[Any]:
    """One `paddle.nn.Layer` per architecture; chain them: `for a in layers: x = a(x)`."""
    from . import paddle_layers  # imports paddle

    return [paddle_layers.build_layer(arch) for arch in archs]


def build_archs(archs: Sequence[Architecture]) -> list[Any]:
    """What `SANAS.next_archs()` returns: in dynamic mode one `paddle.nn.Layer` per
    architecture; in static mode one `StaticArch` per architecture, which creates its
    parameters when called, in the program current at that time (PaddleSlim's builders
    did the same, and scripts call `next_archs()` before `program_guard`)."""
    import paddle

    if paddle.in_dynamic_mode():
        return build(archs)
    from .lazy import StaticArch

    return [StaticArch(arch) for arch in archs]
