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
