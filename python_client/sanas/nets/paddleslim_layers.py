"""paddle.nn networks that are PaddleSlim 2.6.0's networks for the same tokens: the same
layers, channels, strides, 'same' padding, parameters (created in the same order and, in
static programs, with the same names), call signatures and return values, built from the
decoded blocks of sanas.spaces. Only paddle.nn layers are used, so they work in dynamic
mode and in static programs, PIR and legacy alike (PaddleSlim's own builders, on
paddle.static.nn, need legacy mode). `tests/test_fidelity.py` compares them with
PaddleSlim's networks; the notes on each class say where a rule comes from.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import paddle
from paddle import nn

from ..spaces import Architecture, Block
from ..spaces.cost import unit_hidden
from ..spaces.darts import AUX_CELL, REDUCTIONS

_ACTIVATIONS: dict[str | None, Callable[[], nn.Layer]] = {
    None: nn.Identity,
    "relu": nn.ReLU,
    "relu6": nn.ReLU6,
}


class Names:
    """Parameter names: PaddleSlim's in static programs (scripts look parameters up by
    name, and a second program finds the trained weights through them), generated ones
    in dynamic mode (names that repeat would confuse optimizers' per-name state)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def attr(self, name: str, **kwargs: Any) -> paddle.ParamAttr | None:
        if not self.enabled and not kwargs:
            return None
        return paddle.ParamAttr(name=name if self.enabled else None, **kwargs)

    def name(self, name: str) -> str | None:
        return name if self.enabled else None


class ConvBN(nn.Layer):
    """PaddleSlim's conv_bn_layer: a convolution without bias ('same' padding) named
    `<name>_weights`, batch norm named `<name>_bn_{scale,offset,mean,variance}`, `act`."""

    def __init__(
        self,
        names: Names,
        name: str,
        cin: int,
        cout: int,
        kernel: int,
        stride: int = 1,
        groups: int = 1,
        act: str | None = None,
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2D(
            cin,
            cout,
            kernel,
            stride=stride,
            padding="SAME",
            groups=groups,
            weight_attr=names.attr(f"{name}_weights"),
            bias_attr=False,
        )
        self.bn = nn.BatchNorm(
            cout,
            param_attr=names.attr(f"{name}_bn_scale"),
            bias_attr=names.attr(f"{name}_bn_offset"),
            moving_mean_name=names.name(f"{name}_bn_mean"),
            moving_variance_name=names.name(f"{name}_bn_variance"),
        )
        self.act = _ACTIVATIONS[act]()

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return self.act(self.bn(self.conv(x)))


class InvertedResidual(nn.Layer):
    """A group of MobileNetV2 units. PaddleSlim: the first unit takes the stride and never
    adds a shortcut (even when its shape is kept); later units always do. forward returns
    the output and the last unit's depthwise output (PaddleSlim's return_block taps)."""

    def __init__(self, names: Names, block: Block, cin: int) -> None:
        super().__init__()
        self.units = nn.LayerList()
        self.shortcuts: list[bool] = []
        for i in range(block.repeats):
            unit_in = cin if i == 0 else block.out_channels
            hidden = unit_hidden(block, i, unit_in)
            stride = block.stride if i == 0 else 1
            name = f"{block.name}_{i + 1}"
            self.units.append(
                nn.LayerList(
                    [
                        ConvBN(names, f"{name}_expand", unit_in, hidden, 1, act="relu6"),
                        ConvBN(
                            names,
                            f"{name}_dwise",
                            hidden,
                            hidden,
                            block.kernel,
                            stride,
                            groups=hidden,
                            act="relu6",
                        ),
                        ConvBN(names, f"{name}_linear", hidden, block.out_channels, 1),
                    ]
                )
            )
            keeps_shape = stride == 1 and unit_in == block.out_channels
            self.shortcuts.append(i > 0 or (block.first_shortcut and keeps_shape))

    def forward(self, x: paddle.Tensor) -> tuple[paddle.Tensor, paddle.Tensor]:
        depthwise = x
        for (expand, dwise, linear), shortcut in zip(self.units, self.shortcuts, strict=True):
            depthwise = dwise(expand(x))
            y = linear(depthwise)
            x = paddle.add(x, y) if shortcut else y
        return x, depthwise


class Separable(nn.Sequential):
    """PaddleSlim's depthwise-separable unit: kxk conv grouped by `groups` to
    `mid_channels` (`<name>_dw`), 1x1 conv (`<name>_sep`), `act` after each (PaddleSlim's
    have none)."""

    def __init__(self, names: Names, block: Block, cin: int) -> None:
        groups = block.groups or cin
        super().__init__(
            ConvBN(
                names,
                f"{block.name}_dw",
                cin,
                block.mid_channels,
                block.kernel,
                block.stride,
                groups=groups,
                act=block.act,
            ),
            ConvBN(
                names, f"{block.name}_sep", block.mid_channels, block.out_channels, 1, act=block.act
            ),
        )


class Bottleneck(nn.Layer):
    """One ResNetSpace unit: 1x1 (ReLU), 3x3 with the stride (ReLU), 1x1 to 4x; a 1x1
    projection shortcut when the shape changes (created after the body, as PaddleSlim
    does); `act` after the addition (PaddleSlim: none)."""

    def __init__(self, names: Names, block: Block, cin: int, unit: int) -> None:
        super().__init__()
        name = block.name.format(unit=unit)
        stride = block.stride if unit == 0 else 1
        mid, out = block.mid_channels, block.out_channels
        self.conv0 = ConvBN(names, f"{name}_bottleneck_conv0", cin, mid, 1, act="relu")
        self.conv1 = ConvBN(
            names,
            f"{name}_bottleneck_conv1",
            mid,
            block.inner_channels or mid,
            block.kernel,
            stride,
            act="relu",
        )
        self.conv2 = ConvBN(names, f"{name}_bottleneck_conv2", block.inner_channels or mid, out, 1)
        self.shortcut = (
            ConvBN(names, f"{name}_shortcut_conv", cin, out, 1, stride)
            if cin != out or stride != 1
            else None
        )
        self.act = _ACTIVATIONS[block.act]()

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        y = self.conv2(self.conv1(self.conv0(x)))
        short = x if self.shortcut is None else self.shortcut(x)
        return self.act(paddle.add(short, y))


class ResNetUnit(nn.Layer):
    """PaddleSlim's ResNetBlockSpace block: the projection shortcut first (when the shape
    changes), `repeats` 1x1 convs (ReLU), the kxk conv with the stride (ReLU),
    `tail_repeats` 1x1 convs; added, no activation."""

    def __init__(self, names: Names, block: Block, cin: int) -> None:
        super().__init__()
        name, out = block.name, block.out_channels
        self.shortcut = (
            ConvBN(names, f"{name}_shortcut", cin, out, 1, block.stride)
            if cin != out or block.stride != 1
            else None
        )
        layers, channels = [], cin
        for r in range(block.repeats):
            layers.append(
                ConvBN(
                    names,
                    f"{name}_bottleneck_conv0_{r}",
                    channels,
                    block.mid_channels,
                    1,
                    act="relu",
                )
            )
            channels = block.mid_channels
        layers.append(
            ConvBN(
                names,
                f"{name}_bottleneck_conv1",
                channels,
                block.inner_channels,
                block.kernel,
                block.stride,
                act="relu",
            )
        )
        channels = block.inner_channels
        for r in range(block.tail_repeats):
            layers.append(ConvBN(names, f"{name}_bottleneck_conv2_{r}", channels, out, 1))
            channels = out
        self.body = nn.Sequential(*layers)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        short = x if self.shortcut is None else self.shortcut(x)
        return paddle.add(short, self.body(x))


class InceptionA(nn.Layer):
    """PaddleSlim's InceptionA: [kxk pool (stride 1), 1x1 w0] | [1x1 w1] | [1x1 w2, kxk w3]
    | [1x1 w4, kxk w5, kxk w6], the stride on each branch's last conv, ReLU after every
    conv, concatenated."""

    def __init__(self, names: Names, block: Block, cin: int) -> None:
        super().__init__()
        n, k, s = block.name, block.kernel, block.stride
        w0, w1, w2, w3, w4, w5, w6 = block.branches
        pooling = nn.AvgPool2D if block.pool == "avg" else nn.MaxPool2D
        self.pool = pooling(k, stride=1, padding="SAME")
        self.conv1 = ConvBN(names, f"{n}_conv1", cin, w0, 1, s, act="relu")
        self.conv2 = ConvBN(names, f"{n}_conv2", cin, w1, 1, s, act="relu")
        self.conv3 = nn.Sequential(
            ConvBN(names, f"{n}_conv3_1", cin, w2, 1, act="relu"),
            ConvBN(names, f"{n}_conv3_2", w2, w3, k, s, act="relu"),
        )
        self.conv4 = nn.Sequential(
            ConvBN(names, f"{n}_conv4_1", cin, w4, 1, act="relu"),
            ConvBN(names, f"{n}_conv4_2", w4, w5, k, act="relu"),
            ConvBN(names, f"{n}_conv4_3", w5, w6, k, s, act="relu"),
        )

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        branches = [self.conv1(self.pool(x)), self.conv2(x), self.conv3(x), self.conv4(x)]
        return paddle.concat(branches, axis=1)


def check_points(count: int, points: Any) -> bool:
    """PaddleSlim's test of a stage index against return_block / end_points (an int or a
    list of them)."""
    if points is None:
        return False
    if isinstance(points, list):
        return count in points
    return bool(count == points)


def unwrap(x: Any) -> Any:
    """The tensor of a block network's 1-tuple output: configs chain as
    `for arch in archs: x = arch(x)` even after a block space (PaddleSlim's fails)."""
    if isinstance(x, tuple | list) and len(x) == 1:
        return x[0]
    return x


class _Network(nn.Layer):
    """Holds what every network checks first: the channels it was built for."""

    def __init__(self, arch: Architecture) -> None:
        super().__init__()
        self.architecture = arch

    def check_input(self, x: paddle.Tensor) -> None:
        channels = x.shape[1]
        if channels not in (-1, None) and int(channels) != self.architecture.in_channels:
            raise ValueError(
                f"{self.architecture.space} was built for {self.architecture.in_channels} "
                f"input channels but is called on {int(channels)}: in dynamic mode give "
                "SANAS(..., input_channels=...) the channels of the network's input (static "
                "programs take them from the input, as PaddleSlim did)"
            )


class BlockNetwork(_Network):
    """PaddleSlim's block spaces: `arch(x, return_mid_layer=False, return_block=None)`
    returns `(x,)`, or `(x, mid_layers)` with return_mid_layer: the input of the
    stride-2 block that starts stage k+1 (MobileNetV2BlockSpace: the last depthwise
    output before it, and after the last block) for each k in return_block."""

    def __init__(self, arch: Architecture, names: Names) -> None:
        super().__init__(arch)
        self.stages = nn.LayerList()
        channels = arch.in_channels
        for block in arch.blocks:
            self.stages.append(_unit(names, block, channels))
            channels = block.out_channels
        self.depthwise_taps = any(b.kind == "inverted_residual" for b in arch.blocks)

    def forward(
        self, x: paddle.Tensor, return_mid_layer: bool = False, return_block: Any = None
    ) -> tuple[Any, ...]:
        x = unwrap(x)
        self.check_input(x)
        mid: dict[int, Any] = {}
        count, depthwise = 0, None
        for block, stage in zip(self.architecture.blocks, self.stages, strict=True):
            if block.stride == 2:
                count += 1
            if check_points(count - 1, return_block):
                mid[count - 1] = depthwise if self.depthwise_taps else x
            if self.depthwise_taps:
                x, depthwise = stage(x)
            else:
                x = stage(x)
        if self.depthwise_taps and check_points(count, return_block):
            mid[count] = depthwise
        return (x, mid) if return_mid_layer else (x,)


class BackboneNetwork(_Network):
    """PaddleSlim's MobileNetV2Space, MobileNetV1Space and ResNetSpace: `arch(x, scale=1.0,
    return_block=None, end_points=None, output_stride=None)` returns the output tensor,
    or `(x, decode_ends)` as soon as the stage count reaches end_points. `scale` and
    `output_stride` shape the network, so they are applied when it is built: static
    programs build at call time; in dynamic mode they must be the defaults."""

    def __init__(self, arch: Architecture, names: Names) -> None:
        super().__init__(arch)
        self.layers = nn.LayerList()
        self.stage: list[bool] = []  # which layers are search stages (taps apply)
        self.strides: list[int] = []
        channels = arch.in_channels
        for block in arch.blocks:
            if block.kind == "bottleneck":  # ResNet: every unit is a stage step
                for unit in range(block.repeats):
                    self.layers.append(Bottleneck(names, block, channels, unit))
                    self.stage.append(True)
                    self.strides.append(block.stride if unit == 0 else 1)
                    channels = block.out_channels
                continue
            self.layers.append(_unit(names, block, channels))
            self.stage.append(block.kind not in ("conv_bn", "global_avg_pool"))
            self.strides.append(block.stride)
            if block.kind != "global_avg_pool":
                channels = block.out_channels
        self.depthwise_taps = arch.space == "MobileNetV2Space"

    def forward(
        self,
        x: paddle.Tensor,
        scale: float = 1.0,
        return_block: Any = None,
        end_points: Any = None,
        output_stride: int | None = None,
    ) -> Any:
        if scale != 1.0 or output_stride is not None:
            raise ValueError(
                f"scale={scale}, output_stride={output_stride}: a built network's shape is "
                "fixed; in dynamic mode build it with them (tokens2arch in a static program "
                "applies them at call time, as PaddleSlim did)"
            )
        return self.run(x, return_block, end_points)

    def run(self, x: paddle.Tensor, return_block: Any, end_points: Any) -> Any:
        x = unwrap(x)
        self.check_input(x)
        ends: dict[int, Any] = {}
        count, depthwise, started, finished = 1, None, False, False
        for layer, is_stage, stride in zip(self.layers, self.stage, self.strides, strict=True):
            if is_stage:
                started = True
                if stride == 2:
                    count += 1
                if check_points(count - 1, return_block):
                    ends[count - 1] = depthwise if self.depthwise_taps else x
                if check_points(count - 1, end_points):
                    return x, ends
                if self.depthwise_taps:
                    x, depthwise = layer(x)
                else:
                    x = layer(x)
                continue
            if started and not finished:  # the first layer after the stages
                finished = True
                if self.depthwise_taps and check_points(count, return_block):
                    ends[count] = depthwise
                if check_points(count, end_points):
                    return x, ends
            x = layer(x)
        if not finished and check_points(count, end_points):  # ResNet: nothing after
            return x, ends
        return x


def _unit(names: Names, block: Block, cin: int) -> nn.Layer:
    if block.kind == "conv_bn":
        return ConvBN(
            names,
            block.name,
            cin,
            block.out_channels,
            block.kernel,
            block.stride,
            block.groups or 1,
            block.act,
        )
    if block.kind == "inverted_residual":
        return InvertedResidual(names, block, cin)
    if block.kind == "depthwise_separable":
        return Separable(names, block, cin)
    if block.kind == "resnet_unit":
        return ResNetUnit(names, block, cin)
    if block.kind == "inception_a":
        return InceptionA(names, block, cin)
    if block.kind == "global_avg_pool":
        return nn.AdaptiveAvgPool2D(1)
    raise ValueError(f"no PaddleSlim builder for block kind {block.kind!r}")


def build_network(arch: Architecture, static_names: bool) -> nn.Layer:
    """The network of one PaddleSlim-keyed architecture (its `call` says which)."""
    names = Names(static_names)
    if arch.call == "block":
        return BlockNetwork(arch, names)
    if arch.call == "backbone":
        return BackboneNetwork(arch, names)
    if arch.call == "darts":
        from .darts_layers import DartsNetwork

        return DartsNetwork(arch, names)
    raise ValueError(f"architecture {arch.space!r} has no PaddleSlim call convention")


__all__ = ["AUX_CELL", "REDUCTIONS", "BackboneNetwork", "BlockNetwork", "build_network"]
