"""paddle.nn layers for the blocks of the "sanas." spaces (sanas's own networks; PaddleSlim's
are in paddleslim_layers). Works in dynamic mode and inside `paddle.static.program_guard`
(PIR), since only paddle.nn layers are used."""

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


class _ReLUConvBN(nn.Sequential):
    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__(
            nn.ReLU(), nn.Conv2D(c_in, c_out, 1, bias_attr=False), nn.BatchNorm2D(c_out)
        )


class _FactorizedReduce(nn.Layer):
    """Halves the map with two offset 1x1 stride-2 convolutions, concatenated."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.relu = nn.ReLU()
        self.conv1 = nn.Conv2D(c_in, c_out // 2, 1, stride=2, bias_attr=False)
        self.conv2 = nn.Conv2D(c_in, c_out // 2, 1, stride=2, bias_attr=False)
        self.bn = nn.BatchNorm2D(c_out)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        x = self.relu(x)
        return self.bn(paddle.concat([self.conv1(x), self.conv2(x[:, :, 1:, 1:])], axis=1))


def _darts_op(name: str, c: int, stride: int) -> nn.Layer:
    if name == "sep_conv_3x3":
        return nn.Sequential(
            nn.ReLU(),
            nn.Conv2D(c, c, 3, stride=stride, padding=1, groups=c, bias_attr=False),
            nn.Conv2D(c, c, 1, bias_attr=False),
            nn.BatchNorm2D(c),
            nn.ReLU(),
            nn.Conv2D(c, c, 3, padding=1, groups=c, bias_attr=False),
            nn.Conv2D(c, c, 1, bias_attr=False),
            nn.BatchNorm2D(c),
        )
    if name == "dil_conv_3x3":
        return nn.Sequential(
            nn.ReLU(),
            nn.Conv2D(c, c, 3, stride=stride, padding=2, dilation=2, groups=c, bias_attr=False),
            nn.Conv2D(c, c, 1, bias_attr=False),
            nn.BatchNorm2D(c),
        )
    if name == "max_pool_3x3":
        return nn.MaxPool2D(3, stride=stride, padding=1)
    if name == "skip_connect":
        return nn.Identity() if stride == 1 else _FactorizedReduce(c, c)
    raise ValueError(f"unknown DARTS operation {name!r}")


class _DartsCell(nn.Layer):
    def __init__(
        self, genotype: tuple, c_pp: int, c_p: int, c: int, reduction: bool, reduction_prev: bool
    ) -> None:
        super().__init__()
        self.pre0 = _FactorizedReduce(c_pp, c) if reduction_prev else _ReLUConvBN(c_pp, c)
        self.pre1 = _ReLUConvBN(c_p, c)
        self.inputs = [index for _, index in genotype]
        self.ops = nn.LayerList(
            [_darts_op(name, c, 2 if reduction and index < 2 else 1) for name, index in genotype]
        )

    def forward(self, s0: paddle.Tensor, s1: paddle.Tensor) -> paddle.Tensor:
        states = [self.pre0(s0), self.pre1(s1)]
        for node in range(len(self.ops) // 2):
            a, b = 2 * node, 2 * node + 1
            states.append(self.ops[a](states[self.inputs[a]]) + self.ops[b](states[self.inputs[b]]))
        return paddle.concat(states[2:], axis=1)


class DartsNetwork(nn.Layer):
    """3x3 stem, then DARTS-V2 cells of the given widths (reductions at 1/3 and 2/3)."""

    def __init__(self, in_channels: int, stem: int, widths: tuple[int, ...]) -> None:
        super().__init__()
        from ..spaces.sanas_variants import DARTS_NORMAL as NORMAL
        from ..spaces.sanas_variants import DARTS_REDUCE as REDUCE
        from ..spaces.sanas_variants import DARTS_REDUCTIONS as REDUCTIONS

        self.stem = nn.Sequential(
            nn.Conv2D(in_channels, stem, 3, padding=1, bias_attr=False), nn.BatchNorm2D(stem)
        )
        cells, c_pp, c_p, reduction_prev = [], stem, stem, False
        for i, c in enumerate(widths):
            reduction = i in REDUCTIONS
            genotype = REDUCE if reduction else NORMAL
            cells.append(_DartsCell(genotype, c_pp, c_p, c, reduction, reduction_prev))
            c_pp, c_p, reduction_prev = c_p, 4 * c, reduction
        self.cells = nn.LayerList(cells)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        s0 = s1 = self.stem(x)
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1)
        return s1


def _block_layers(block: Block, in_channels: int) -> list[nn.Layer]:
    if block.kind == "conv_bn":
        return [
            ConvBNAct(in_channels, block.out_channels, block.kernel, block.stride, act=block.act)
        ]
    units = {
        "inverted_residual": lambda cin, stride: InvertedResidual(
            cin, block.out_channels, block.expansion, block.kernel, stride
        ),
        "depthwise_separable": lambda cin, stride: DepthwiseSeparable(
            cin, block.mid_channels, block.out_channels, block.kernel, stride
        ),
        "bottleneck": lambda cin, stride: Bottleneck(
            cin,
            block.mid_channels,
            block.out_channels,
            block.kernel,
            stride,
            block.inner_channels,
        ),
    }
    if block.kind in units:
        # `repeats` units: the first takes the block's input and stride, the rest keep shape.
        make = units[block.kind]
        return [
            make(in_channels if i == 0 else block.out_channels, block.stride if i == 0 else 1)
            for i in range(block.repeats)
        ]
    if block.kind == "darts_network":
        return [DartsNetwork(in_channels, block.mid_channels, block.branches)]
    if block.kind == "inception_a_sanas":
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
