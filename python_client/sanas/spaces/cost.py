"""FLOPs and parameter counts of decoded architectures, without Paddle.

Two FLOPs conventions, both exact for the networks sanas.nets builds (input batch 1):
- `flops`, as `paddle.flops` counts: a convolution costs out_elements x (in_channels /
  groups x k x k), batch norm 2 x elements, ReLU/ReLU6, max pooling and the residual
  addition nothing, average pooling one per output element, adaptive average pooling
  (window area + 1) x out_elements. Cost limits of a study (max_flops) use this one.
- `conv_flops`, as PaddleSlim counts (`paddleslim.analysis.flops`, and
  `sanas.analysis.flops`, with only_conv=True): convolutions (and fc layers) only, the
  same count per convolution. PaddleSlim scripts' FLOPs budgets mean this one.
`params` counts every parameter tensor, batch norm's running mean and variance included
(as PaddleSlim's programs list them). Tests compare these with paddle.flops, with sanas's
own count of built programs, and with PaddleSlim's networks.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from .base import Architecture, Block, SpaceConfigError


@dataclass(frozen=True)
class Cost:
    flops: int
    params: int
    conv_flops: int = 0

    def __add__(self, other: Cost) -> Cost:
        return Cost(
            self.flops + other.flops,
            self.params + other.params,
            self.conv_flops + other.conv_flops,
        )


ZERO = Cost(0, 0)


def _out(size: int, stride: int) -> int:
    return (size - 1) // stride + 1  # 'same' padding, odd kernels


def conv(
    size: int, cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1
) -> tuple[Cost, int]:
    """A convolution without bias and its output size."""
    out = _out(size, stride)
    mul_adds = cout * out * out * (cin // groups) * kernel * kernel
    return Cost(mul_adds, cout * (cin // groups) * kernel * kernel, mul_adds), out


def batch_norm(size: int, channels: int) -> Cost:
    return Cost(2 * channels * size * size, 4 * channels)


def conv_bn(
    size: int, cin: int, cout: int, kernel: int, stride: int, groups: int = 1
) -> tuple[Cost, int]:
    cost, out = conv(size, cin, cout, kernel, stride, groups)
    return cost + batch_norm(out, cout), out


def unit_hidden(block: Block, unit: int, unit_in: int) -> int:
    """Expanded channels of an inverted-residual unit (the first may be given)."""
    if unit == 0 and block.mid_channels:
        return block.mid_channels
    return round(unit_in * block.expansion)


def unit_groups(block: Block, unit: int, unit_in: int) -> int:
    """Groups of a depthwise-separable unit's kxk convolution."""
    if unit == 0 and block.groups:
        return block.groups
    return math.gcd(unit_in, block.mid_channels)


def _inverted_residual(block: Block, size: int, cin: int) -> tuple[Cost, int]:
    total = ZERO
    for i in range(block.repeats):
        unit_in = cin if i == 0 else block.out_channels
        hidden = unit_hidden(block, i, unit_in)
        expand, _ = conv_bn(size, unit_in, hidden, 1, 1)
        stride = block.stride if i == 0 else 1
        depthwise, size = conv_bn(size, hidden, hidden, block.kernel, stride, groups=hidden)
        project, _ = conv_bn(size, hidden, block.out_channels, 1, 1)
        total = total + expand + depthwise + project
    return total, size


def _depthwise_separable(block: Block, size: int, cin: int) -> tuple[Cost, int]:
    total = ZERO
    for i in range(block.repeats):
        unit_in = cin if i == 0 else block.out_channels
        groups = unit_groups(block, i, unit_in)
        stride = block.stride if i == 0 else 1
        dw, size = conv_bn(size, unit_in, block.mid_channels, block.kernel, stride, groups)
        pw, _ = conv_bn(size, block.mid_channels, block.out_channels, 1, 1)
        total = total + dw + pw
    return total, size


def _bottleneck(block: Block, size: int, cin: int) -> tuple[Cost, int]:
    total = ZERO
    for i in range(block.repeats):
        unit_in = cin if i == 0 else block.out_channels
        stride = block.stride if i == 0 else 1
        inner = block.inner_channels or block.mid_channels
        reduce, _ = conv_bn(size, unit_in, block.mid_channels, 1, 1)
        middle, out = conv_bn(size, block.mid_channels, inner, block.kernel, stride)
        expand, _ = conv_bn(out, inner, block.out_channels, 1, 1)
        total = total + reduce + middle + expand
        if stride != 1 or unit_in != block.out_channels:
            shortcut, _ = conv_bn(size, unit_in, block.out_channels, 1, stride)
            total = total + shortcut
        size = out
    return total, size


def _resnet_unit(block: Block, size: int, cin: int) -> tuple[Cost, int]:
    total, channels = ZERO, cin
    if block.stride != 1 or cin != block.out_channels:
        total, _ = conv_bn(size, cin, block.out_channels, 1, block.stride)
    for _ in range(block.repeats):
        cost, _ = conv_bn(size, channels, block.mid_channels, 1, 1)
        total, channels = total + cost, block.mid_channels
    cost, size = conv_bn(size, channels, block.inner_channels, block.kernel, block.stride)
    total, channels = total + cost, block.inner_channels
    for _ in range(block.tail_repeats):
        cost, _ = conv_bn(size, channels, block.out_channels, 1, 1)
        total, channels = total + cost, block.out_channels
    return total, size


def _inception_a(block: Block, size: int, cin: int) -> tuple[Cost, int]:
    w0, w1, w2, w3, w4, w5, w6 = block.branches
    k, s = block.kernel, block.stride
    # The pool keeps the size (stride 1); paddle.flops counts an average one per output.
    pool = Cost(cin * size * size if block.pool == "avg" else 0, 0)
    b1, out = conv_bn(size, cin, w0, 1, s)
    b2, _ = conv_bn(size, cin, w1, 1, s)
    b3a, _ = conv_bn(size, cin, w2, 1, 1)
    b3b, _ = conv_bn(size, w2, w3, k, s)
    b4a, _ = conv_bn(size, cin, w4, 1, 1)
    b4b, _ = conv_bn(size, w4, w5, k, 1)
    b4c, _ = conv_bn(size, w5, w6, k, s)
    return pool + b1 + b2 + b3a + b3b + b4a + b4b + b4c, out


def _inception_a_sanas(block: Block, size: int, cin: int) -> tuple[Cost, int]:
    c1, c2, c3, c4, c5, c6, c7 = block.branches
    k, s = block.kernel, block.stride
    b1, out = conv_bn(size, cin, c1, 1, s)
    b2a, _ = conv_bn(size, cin, c2, 1, 1)
    b2b, _ = conv_bn(size, c2, c3, k, s)
    b3a, _ = conv_bn(size, cin, c4, 1, 1)
    b3b, _ = conv_bn(size, c4, c5, k, 1)
    b3c, _ = conv_bn(size, c5, c6, k, s)
    # paddle.flops counts average pooling as one op per output element, max as none.
    pool = Cost(cin * out * out if block.pool == "avg" else 0, 0)
    b4, _ = conv_bn(out, cin, c7, 1, 1)
    return b1 + b2a + b2b + b3a + b3b + b3c + pool + b4, out


def _block(block: Block, size: int, cin: int) -> tuple[Cost, int, int]:
    """Cost of one block on size x size maps of cin channels: (cost, size, channels)."""
    units = {
        "inverted_residual": _inverted_residual,
        "depthwise_separable": _depthwise_separable,
        "bottleneck": _bottleneck,
        "resnet_unit": _resnet_unit,
        "inception_a": _inception_a,
        "inception_a_sanas": _inception_a_sanas,
    }
    if block.kind in units:
        cost, size = units[block.kind](block, size, cin)
        return cost, size, block.out_channels
    if block.kind == "conv_bn":
        cost, size = conv_bn(
            size, cin, block.out_channels, block.kernel, block.stride, block.groups or 1
        )
        return cost, size, block.out_channels
    if block.kind == "darts_cells":
        return _darts_cells(block, size, cin)
    if block.kind == "darts_network":
        return _darts_network(block, size, cin)
    if block.kind == "max_pool":
        return ZERO, _out(size, block.stride), cin  # paddle.flops counts pooling maxima as 0
    if block.kind == "global_avg_pool":
        return Cost((size * size + 1) * cin, 0), 1, cin
    raise SpaceConfigError(f"no cost model for block kind {block.kind!r}")


def architecture_cost(arch: Architecture, input_size: int) -> tuple[Cost, int]:
    """Cost of one architecture on input_size x input_size maps; also the output size."""
    total, size, channels = ZERO, input_size, arch.in_channels
    for block in arch.blocks:
        cost, size, channels = _block(block, size, cin=channels)
        total = total + cost
    return total, size


def network_cost(archs: Sequence[Architecture], input_size: int) -> Cost:
    """Cost of the chained architectures of one token vector."""
    total, size = ZERO, input_size
    for arch in archs:
        cost, size = architecture_cost(arch, size)
        total = total + cost
    return total


def classifier_cost(features: int, classes: int, size: int = 1) -> Cost:
    """Global average pooling of size x size maps, then an fc layer with bias:
    PaddleSlim counts the fc's matmul, paddle.flops the pooling too."""
    pool = (size * size + 1) * features
    return Cost(pool + features * classes, features * classes + classes, features * classes)


def _factorized_reduce(h: int, c_in: int, c_out: int, what: str) -> tuple[Cost, int]:
    """Two 1x1 stride-2 convolutions (the second one pixel off), concatenated, BN."""
    if h % 2:
        raise SpaceConfigError(f"{what} reduces a {h}x{h} map: sizes must be even")
    half, out = c_out // 2, h // 2
    one, _ = conv(h, c_in, half, 1, 2)
    return one + one + batch_norm(out, c_out), out


def _separable(h: int, c: int, kernel: int, separable_twice: bool) -> Cost:
    """ReLU, kxk depthwise, 1x1, BN (twice for a separable conv, once for a dilated one:
    the dilation changes no count at these paddings)."""
    dw, _ = conv(h, c, c, kernel, groups=c)
    pw, _ = conv(h, c, c, 1)
    once = dw + pw + batch_norm(h, c)
    return once + once if separable_twice else once


def _darts_cells(block: Block, size: int, cin: int) -> tuple[Cost, int, int]:
    from .darts import REDUCTIONS

    total, h = conv_bn(size, cin, block.mid_channels, 3, 1)
    c_pp = c_p = block.mid_channels
    h_pp, reduction_prev = h, False
    for i, c in enumerate(block.branches):
        if reduction_prev:
            pre0, _ = _factorized_reduce(h_pp, c_pp, c, "DartsSpace")
        else:
            pre0, _ = conv_bn(h_pp, c_pp, c, 1, 1)
        pre1, _ = conv_bn(h, c_p, c, 1, 1)
        total = total + pre0 + pre1
        if i in REDUCTIONS:
            reduce, out = _factorized_reduce(h, c, c, "DartsSpace")
            total = total + reduce + _separable(out, c, 5, separable_twice=False)
        else:
            out = h
            dil = _separable(h, c, 3, separable_twice=False)
            sep = _separable(h, c, 3, separable_twice=True)
            total = total + dil + Cost(6 * sep.flops, 6 * sep.params, 6 * sep.conv_flops)
        c_pp, c_p, reduction_prev = c_p, 4 * c, i in REDUCTIONS
        h_pp, h = h, out
    return total, h, c_p


def _darts_network(block: Block, size: int, cin: int) -> tuple[Cost, int, int]:
    from .sanas_variants import DARTS_NORMAL, DARTS_REDUCE, DARTS_REDUCTIONS

    def relu_conv_bn(h: int, c_in: int, c_out: int) -> Cost:
        return conv_bn(h, c_in, c_out, 1, 1)[0]

    def op(name: str, h: int, c: int, stride: int) -> tuple[Cost, int]:
        if name == "sep_conv_3x3":
            dw1, out = conv(h, c, c, 3, stride, groups=c)
            pw1, _ = conv(out, c, c, 1)
            dw2, _ = conv(out, c, c, 3, 1, groups=c)
            pw2, _ = conv(out, c, c, 1)
            return dw1 + pw1 + dw2 + pw2 + batch_norm(out, c) + batch_norm(out, c), out
        if name == "dil_conv_3x3":
            dw, out = conv(h, c, c, 3, stride, groups=c)
            pw, _ = conv(out, c, c, 1)
            return dw + pw + batch_norm(out, c), out
        if name == "max_pool_3x3":
            return ZERO, _out(h, stride)
        if name == "skip_connect":
            return _factorized_reduce(h, c, c, "DartsSpace") if stride == 2 else (ZERO, h)
        raise SpaceConfigError(f"unknown DARTS operation {name!r}")

    stem, size = conv_bn(size, cin, block.mid_channels, 3, 1)
    total = stem
    c_pp, c_p, reduction_prev = block.mid_channels, block.mid_channels, False
    h_pp = h_p = size
    for i, c in enumerate(block.branches):
        reduction = i in DARTS_REDUCTIONS
        if reduction_prev:
            pre0, _ = _factorized_reduce(h_pp, c_pp, c, "DartsSpace")
        else:
            pre0 = relu_conv_bn(h_pp, c_pp, c)
        total = total + pre0 + relu_conv_bn(h_p, c_p, c)
        h_out = h_p // 2 if reduction else h_p
        for name, index in DARTS_REDUCE if reduction else DARTS_NORMAL:
            stride = 2 if reduction and index < 2 else 1
            cost, _ = op(name, h_p if index < 2 else h_out, c, stride)
            total = total + cost
        c_pp, c_p, reduction_prev = c_p, 4 * c, reduction
        h_pp, h_p = h_p, h_out
    return total, h_p, c_p
