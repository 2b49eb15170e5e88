"""paddle.nn layers for the blocks of sanas.spaces. Works in dynamic mode and inside
`paddle.static.program_guard` (PIR), since only paddle.nn layers are used."""

from __future__ import annotations

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
    if block.kind == "global_avg_pool":
        return [nn.AdaptiveAvgPool2D(1)]
    raise ValueError(f"no Paddle builder for block kind {block.kind!r}")


def build_layer(arch: Architecture) -> nn.Sequential:
    layers: list[nn.Layer] = []
    channels = arch.in_channels
    for block in arch.blocks:
        layers += _block_layers(block, channels)
        if block.kind != "global_avg_pool":
            channels = block.out_channels
    return nn.Sequential(*layers)
