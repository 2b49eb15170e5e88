"""paddle.nn layers for the blocks of sanas.spaces. Works in dynamic mode and inside
`paddle.static.program_guard` (PIR), since only paddle.nn layers are used."""

from __future__ import annotations

import math

import paddle
from paddle import nn

from ..spaces import Architecture, Block

_ACTIVATIONS = {"relu": nn.ReLU, "relu6": nn.ReLU6}


def _act(name: str | None) -> nn.Layer:
    if name is None:
        return nn.Identity()
    if name not in _ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; known: {sorted(_ACTIVATIONS)}")
    return _ACTIVATIONS[name]()


class ConvBNAct(nn.Sequential):
    """Convolution without bias, batch norm, activation; 'same' padding."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel: int,
        stride: int = 1,
        groups: int = 1,
        act: str | None = None,
    ) -> None:
        super().__init__(
            nn.Conv2D(
                in_channels,
                out_channels,
                kernel,
                stride=stride,
                padding=kernel // 2,
                groups=groups,
                bias_attr=False,
            ),
            nn.BatchNorm2D(out_channels),
            _act(act),
        )


class InvertedResidual(nn.Layer):
    """MobileNetV2 unit: 1x1 expand, kxk depthwise, 1x1 linear projection; identity
    shortcut when the shape is kept."""

    def __init__(
        self, in_channels: int, out_channels: int, expansion: int, kernel: int, stride: int
    ) -> None:
        super().__init__()
        hidden = in_channels * expansion
        self.body = nn.Sequential(
            ConvBNAct(in_channels, hidden, 1, act="relu6"),
            ConvBNAct(hidden, hidden, kernel, stride=stride, groups=hidden, act="relu6"),
            ConvBNAct(hidden, out_channels, 1, act=None),
        )
        self.shortcut = stride == 1 and in_channels == out_channels

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        y = self.body(x)
        return x + y if self.shortcut else y


class DepthwiseSeparable(nn.Sequential):
    """kxk conv grouped by gcd(in, mid) (a true depthwise conv when mid == in), then a
    1x1 conv; batch norm and ReLU after each."""

    def __init__(
        self, in_channels: int, mid: int, out_channels: int, kernel: int, stride: int
    ) -> None:
        super().__init__(
            ConvBNAct(
                in_channels, mid, kernel, stride, groups=math.gcd(in_channels, mid), act="relu"
            ),
            ConvBNAct(mid, out_channels, 1, act="relu"),
        )


class Bottleneck(nn.Layer):
    """ResNet bottleneck: 1x1 to mid, kxk to inner (default mid), 1x1 to out; projection
    shortcut when the shape changes; ReLU after the addition."""

    def __init__(
        self,
        in_channels: int,
        mid: int,
        out_channels: int,
        kernel: int,
        stride: int,
        inner: int = 0,
    ) -> None:
        super().__init__()
        inner = inner or mid
        self.body = nn.Sequential(
            ConvBNAct(in_channels, mid, 1, act="relu"),
            ConvBNAct(mid, inner, kernel, stride, act="relu"),
            ConvBNAct(inner, out_channels, 1, act=None),
        )
        self.shortcut = (
            ConvBNAct(in_channels, out_channels, 1, stride, act=None)
            if stride != 1 or in_channels != out_channels
            else None
        )
        self.relu = nn.ReLU()

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        skip = x if self.shortcut is None else self.shortcut(x)
        return self.relu(self.body(x) + skip)


class InceptionA(nn.Layer):
    """Four branches, concatenated: 1x1 | 1x1, kxk | 1x1, kxk, kxk | 3x3 pool, 1x1. The
    block's stride applies to the last layer of each branch and to the pool."""

    def __init__(
        self, in_channels: int, widths: tuple[int, ...], kernel: int, stride: int, pool: str
    ) -> None:
        super().__init__()
        c1, c2, c3, c4, c5, c6, c7 = widths
        self.b1 = ConvBNAct(in_channels, c1, 1, stride, act="relu")
        self.b2 = nn.Sequential(
            ConvBNAct(in_channels, c2, 1, act="relu"),
            ConvBNAct(c2, c3, kernel, stride, act="relu"),
        )
        self.b3 = nn.Sequential(
            ConvBNAct(in_channels, c4, 1, act="relu"),
            ConvBNAct(c4, c5, kernel, act="relu"),
            ConvBNAct(c5, c6, kernel, stride, act="relu"),
        )
        pooling = nn.AvgPool2D if pool == "avg" else nn.MaxPool2D
        self.b4 = nn.Sequential(
            pooling(3, stride=stride, padding=1),
            ConvBNAct(in_channels, c7, 1, act="relu"),
        )

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return paddle.concat([self.b1(x), self.b2(x), self.b3(x), self.b4(x)], axis=1)


def _block_layers(block: Block, in_channels: int) -> list[nn.Layer]:
    if block.kind == "conv_bn":
        return [
            ConvBNAct(in_channels, block.out_channels, block.kernel, block.stride, act=block.act)
        ]
    if block.kind == "inverted_residual":
        layers = []
        for i in range(block.repeats):
            layers.append(
                InvertedResidual(
                    in_channels if i == 0 else block.out_channels,
                    block.out_channels,
                    block.expansion,
                    block.kernel,
                    block.stride if i == 0 else 1,
                )
            )
        return layers
    if block.kind == "depthwise_separable":
        return [
            DepthwiseSeparable(
                in_channels if i == 0 else block.out_channels,
                block.mid_channels,
                block.out_channels,
                block.kernel,
                block.stride if i == 0 else 1,
            )
            for i in range(block.repeats)
        ]
    if block.kind == "bottleneck":
        return [
            Bottleneck(
                in_channels if i == 0 else block.out_channels,
                block.mid_channels,
                block.out_channels,
                block.kernel,
                block.stride if i == 0 else 1,
                block.inner_channels,
            )
            for i in range(block.repeats)
        ]
    if block.kind == "inception_a":
        return [InceptionA(in_channels, block.branches, block.kernel, block.stride, block.pool)]
    if block.kind == "max_pool":
        return [nn.MaxPool2D(3, stride=block.stride, padding=1)]
    if block.kind == "global_avg_pool":
        return [nn.AdaptiveAvgPool2D(1)]
    raise ValueError(f"no Paddle builder for block kind {block.kind!r}")


def build_layer(arch: Architecture) -> nn.Sequential:
    layers: list[nn.Layer] = []
    channels = arch.in_channels
    for block in arch.blocks:
        layers += _block_layers(block, channels)
        if block.kind not in ("global_avg_pool", "max_pool"):
            channels = block.out_channels
    return nn.Sequential(*layers)
