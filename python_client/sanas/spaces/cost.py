"""FLOPs and parameter counts of decoded architectures, without Paddle.

Counted exactly as `paddle.flops` counts the networks sanas.nets builds (input batch 1):
a convolution costs out_elements x (in_channels / groups x k x k), batch norm 2 x
elements (parameters: scale, shift, running mean and variance), ReLU/ReLU6 and the
residual addition nothing, adaptive average pooling (window area + 1) x out_elements.
Tests compare both on many random token vectors per space.
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

    def __add__(self, other: Cost) -> Cost:
        return Cost(self.flops + other.flops, self.params + other.params)


ZERO = Cost(0, 0)


def _out(size: int, stride: int) -> int:
    return (size - 1) // stride + 1  # 'same' padding, odd kernels


def conv_bn(
    size: int, cin: int, cout: int, kernel: int, stride: int, groups: int = 1
) -> tuple[Cost, int]:
    out = _out(size, stride)
    elements = cout * out * out
    conv = Cost(
        elements * (cin // groups) * kernel * kernel, cout * (cin // groups) * kernel * kernel
    )
    bn = Cost(2 * elements, 4 * cout)
    return conv + bn, out


def _block(block: Block, size: int, cin: int) -> tuple[Cost, int, int]:
    if block.kind == "conv_bn":
        cost, size = conv_bn(size, cin, block.out_channels, block.kernel, block.stride)
        return cost, size, block.out_channels
    if block.kind == "inverted_residual":
        total = ZERO
        for i in range(block.repeats):
            unit_in = cin if i == 0 else block.out_channels
            hidden = unit_in * block.expansion
            expand, _ = conv_bn(size, unit_in, hidden, 1, 1)
            depthwise, size = conv_bn(
                size, hidden, hidden, block.kernel, block.stride if i == 0 else 1, groups=hidden
            )
            project, _ = conv_bn(size, hidden, block.out_channels, 1, 1)
            total = total + expand + depthwise + project
        return total, size, block.out_channels
    if block.kind == "depthwise_separable":
        total = ZERO
        for i in range(block.repeats):
            unit_in = cin if i == 0 else block.out_channels
            groups = math.gcd(unit_in, block.mid_channels)
            dw, size = conv_bn(
                size,
                unit_in,
                block.mid_channels,
                block.kernel,
                block.stride if i == 0 else 1,
                groups=groups,
            )
            pw, _ = conv_bn(size, block.mid_channels, block.out_channels, 1, 1)
            total = total + dw + pw
        return total, size, block.out_channels
    if block.kind == "bottleneck":
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
        return total, size, block.out_channels
    if block.kind == "inception_a":
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
        total = b1 + b2a + b2b + b3a + b3b + b3c + pool + b4
        return total, out, block.out_channels
    if block.kind == "darts_network":
        return _darts(block, size, cin)
    if block.kind == "max_pool":
        return ZERO, _out(size, block.stride), cin  # paddle.flops counts pooling maxima as 0
    if block.kind == "global_avg_pool":
        return Cost((size * size + 1) * cin, 0), 1, cin
    raise SpaceConfigError(f"no cost model for block kind {block.kind!r}")


def architecture_cost(arch: Architecture, input_size: int) -> tuple[Cost, int]:
    """Cost of one architecture on input_size x input_size maps; also the output size."""
    total, size, channels = ZERO, input_size, arch.in_channels
    for block in arch.blocks:
        cost, size, channels = _block(block, size, channels)
        total = total + cost
    return total, size


def network_cost(archs: Sequence[Architecture], input_size: int) -> Cost:
    """Cost of the chained architectures of one token vector."""
    total, size = ZERO, input_size
    for arch in archs:
        cost, size = architecture_cost(arch, size)
        total = total + cost
    return total


def _darts(block: Block, size: int, cin: int) -> tuple[Cost, int, int]:
    from .darts import NORMAL, REDUCE, REDUCTIONS

    def relu_conv_bn(h: int, c_in: int, c_out: int) -> Cost:
        return conv_bn(h, c_in, c_out, 1, 1)[0]

    def factorized_reduce(h: int, c_in: int, c_out: int) -> tuple[Cost, int]:
        if h % 2:
            raise SpaceConfigError(f"DartsSpace reduces a {h}x{h} map: sizes must be even")
        half = c_out // 2
        out = h // 2
        convs = 2 * out * out * half * c_in  # two 1x1 stride-2 convolutions
        return Cost(convs + 2 * c_out * out * out, 2 * half * c_in + 4 * c_out), out

    def op(name: str, h: int, c: int, stride: int) -> tuple[Cost, int]:
        if name == "sep_conv_3x3":
            dw1, out = conv_bn(h, c, c, 3, stride, groups=c)
            pw1, _ = conv_bn(out, c, c, 1, 1)
            dw2, _ = conv_bn(out, c, c, 3, 1, groups=c)
            pw2, _ = conv_bn(out, c, c, 1, 1)
            # Each depthwise conv is followed directly by its 1x1 conv, then one BN:
            # drop the BN that conv_bn added after each depthwise conv.
            no_bn = Cost(2 * c * out * out, 4 * c)
            return dw1 + pw1 + dw2 + pw2 + Cost(-2 * no_bn.flops, -2 * no_bn.params), out
        if name == "dil_conv_3x3":
            dw, out = conv_bn(h, c, c, 3, stride, groups=c)
            pw, _ = conv_bn(out, c, c, 1, 1)
            return dw + pw + Cost(-2 * c * out * out, -4 * c), out
        if name == "max_pool_3x3":
            return ZERO, _out(h, stride)
        if name == "skip_connect":
            return factorized_reduce(h, c, c) if stride == 2 else (ZERO, h)
        raise SpaceConfigError(f"unknown DARTS operation {name!r}")

    stem, size = conv_bn(size, cin, block.mid_channels, 3, 1)
    total = stem
    c_pp, c_p, reduction_prev = block.mid_channels, block.mid_channels, False
    h_pp = h_p = size
    for i, c in enumerate(block.branches):
        reduction = i in REDUCTIONS
        if reduction_prev:
            pre0, _ = factorized_reduce(h_pp, c_pp, c)
        else:
            pre0 = relu_conv_bn(h_pp, c_pp, c)
        total = total + pre0 + relu_conv_bn(h_p, c_p, c)
        h_out = h_p // 2 if reduction else h_p
        for name, index in REDUCE if reduction else NORMAL:
            stride = 2 if reduction and index < 2 else 1
            cost, _ = op(name, h_p if index < 2 else h_out, c, stride)
            total = total + cost
        c_pp, c_p, reduction_prev = c_p, 4 * c, reduction
        h_pp, h_p = h_p, h_out
    return total, h_p, c_p
