"""PaddleSlim 2.6.0's DartsSpace network in paddle.nn layers: the cells of
sanas.spaces.darts, PaddleSlim's parameter names and initialisers, and its call
`arch(input, drop_prob, drop_path_mask, is_train, num_classes) -> (logits, aux_logits)`.

The classifier (and, in training, the auxiliary head) depends on `num_classes`, which
PaddleSlim takes at call time. Static programs build the network at call time, so the
parameters are created in PaddleSlim's order; in dynamic mode those heads are created at
the first call, so create the optimizer after one forward pass.

Drop path multiplies each cell operation's output by drop_path_mask[:, cell, node,
branch] / (1 - drop_prob[0]), one factor per sample (PaddleSlim's multiply lined the
[N] mask up with the width axis, which fails unless N equals the width, and its training
graph does not build on Paddle 3; sanas broadcasts per sample, the evident intent).
"""

from __future__ import annotations

from typing import Any

import paddle
from paddle import nn

from ..spaces import Architecture
from ..spaces.darts import AUX_CELL, REDUCTIONS
from .paddleslim_layers import Names


def _uniform(names: Names, name: str, fan_in: int) -> paddle.ParamAttr | None:
    bound = (1.0 / fan_in) ** 0.5
    init = nn.initializer.Uniform(low=-bound, high=bound)
    return names.attr(name, initializer=init)


def _conv(
    names: Names,
    name: str,
    cin: int,
    cout: int,
    kernel: int,
    stride: int = 1,
    padding: int = 0,
    dilation: int = 1,
    groups: int = 1,
) -> nn.Conv2D:
    return nn.Conv2D(
        cin,
        cout,
        kernel,
        stride=stride,
        padding=padding,
        dilation=dilation,
        groups=groups,
        weight_attr=_uniform(names, name, cin // groups * kernel * kernel),
        bias_attr=False,
    )


def _bn(names: Names, channels: int, scale: str, offset: str, mean: str, variance: str) -> nn.Layer:
    return nn.BatchNorm(
        channels,
        param_attr=names.attr(scale, initializer=nn.initializer.Constant(1.0)),
        bias_attr=names.attr(offset, initializer=nn.initializer.Constant(0.0)),
        moving_mean_name=names.name(mean),
        moving_variance_name=names.name(variance),
    )


class ConvBN(nn.Sequential):
    """PaddleSlim's `_conv_bn`: conv (`/conv`) and batch norm (`/bn_*`), no activation."""

    def __init__(
        self, names: Names, name: str, cin: int, cout: int, kernel: int, padding: int
    ) -> None:
        super().__init__(
            _conv(names, f"{name}/conv", cin, cout, kernel, padding=padding),
            _bn(
                names,
                cout,
                f"{name}/bn_scale",
                f"{name}/bn_offset",
                f"{name}/bn_mean",
                f"{name}/bn_variance",
            ),
        )


class ReLUConvBN(nn.Sequential):
    """ReLU, 1x1 conv (`/rcb_conv`), batch norm (`/rcb_bn/gama`, ...)."""

    def __init__(self, names: Names, name: str, cin: int, cout: int) -> None:
        super().__init__(
            nn.ReLU(),
            _conv(names, f"{name}/rcb_conv", cin, cout, 1),
            _bn(
                names,
                cout,
                f"{name}/rcb_bn/gama",
                f"{name}/rcb_bn/beta",
                f"{name}/rcb_mean",
                f"{name}/rcb_variance",
            ),
        )


class FactorizedReduce(nn.Layer):
    """ReLU, two 1x1 stride-2 convs (the second one pixel off), concatenated, BN."""

    def __init__(self, names: Names, name: str, cin: int, cout: int) -> None:
        super().__init__()
        self.relu = nn.ReLU()
        self.conv1 = _conv(names, f"{name}/fr_conv1", cin, cout // 2, 1, stride=2)
        self.conv2 = _conv(names, f"{name}/fr_conv2", cin, cout // 2, 1, stride=2)
        self.bn = _bn(
            names,
            cout,
            f"{name}/fr_bn/gama",
            f"{name}/fr_bn/beta",
            f"{name}/fr_mean",
            f"{name}/fr_variance",
        )

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        x = self.relu(x)
        return self.bn(paddle.concat([self.conv1(x), self.conv2(x[:, :, 1:, 1:])], axis=1))


class SepConv(nn.Sequential):
    """Twice: ReLU, kxk depthwise, 1x1, BN (PaddleSlim's `_sep_conv`)."""

    def __init__(self, names: Names, name: str, c: int, kernel: int, padding: int) -> None:
        super().__init__(
            nn.ReLU(),
            _conv(names, f"{name}/sep_conv_1_1", c, c, kernel, padding=padding, groups=c),
            _conv(names, f"{name}/sep_conv_1_2", c, c, 1),
            _bn(
                names,
                c,
                f"{name}/sep_conv_bn1/gama",
                f"{name}/sep_conv_bn1/beta",
                f"{name}/sep_bn1_mean",
                f"{name}/sep_bn1_variance",
            ),
            nn.ReLU(),
            _conv(names, f"{name}/sep_conv2_1", c, c, kernel, padding=padding, groups=c),
            _conv(names, f"{name}/sep_conv2_2", c, c, 1),
            _bn(
                names,
                c,
                f"{name}/sep_conv_bn2/gama",
                f"{name}/sep_conv_bn2/beta",
                f"{name}/sep_bn2_mean",
                f"{name}/sep_bn2_variance",
            ),
        )


class DilConv(nn.Sequential):
    """ReLU, kxk depthwise dilated 2, 1x1, BN (PaddleSlim's `_dil_conv`)."""

    def __init__(self, names: Names, name: str, c: int, kernel: int, padding: int) -> None:
        super().__init__(
            nn.ReLU(),
            _conv(names, f"{name}/dil_conv1", c, c, kernel, padding=padding, dilation=2, groups=c),
            _conv(names, f"{name}/dil_conv2", c, c, 1),
            _bn(
                names,
                c,
                f"{name}/dil_conv_bn/gama",
                f"{name}/dil_conv_bn/beta",
                f"{name}/dil_bn_mean",
                f"{name}/dil_bn_variance",
            ),
        )


def _drop_path(x: paddle.Tensor, keep: paddle.Tensor, mask: paddle.Tensor) -> paddle.Tensor:
    return x / keep * paddle.reshape(mask, [-1, 1, 1, 1])


class Cell(nn.Layer):
    """One of PaddleSlim's cells (see sanas.spaces.darts for the wiring)."""

    def __init__(
        self,
        names: Names,
        name: str,
        c_pp: int,
        c_p: int,
        c: int,
        reduction: bool,
        reduction_prev: bool,
    ) -> None:
        super().__init__()
        self.reduction = reduction
        self.pre0 = (
            FactorizedReduce(names, f"{name}/s-2", c_pp, c)
            if reduction_prev
            else ReLUConvBN(names, f"{name}/s-2", c_pp, c)
        )
        self.pre1 = ReLUConvBN(names, f"{name}/s-1", c_p, c)
        if reduction:
            h = f"{name}_reduction_cell_hidden"
            self.pool = nn.MaxPool2D(3, stride=2, padding=1)
            self.reduce = FactorizedReduce(names, f"{h}0_1", c, c)
            self.dil = DilConv(names, f"{h}2_1", c, 5, 4)
        else:
            h = f"{name}_normal_cell_hidden"
            self.ops = nn.LayerList(
                [
                    DilConv(names, f"{h}0_0", c, 3, 2),
                    SepConv(names, f"{h}0_1", c, 3, 1),
                    SepConv(names, f"{h}1_0", c, 3, 1),
                    SepConv(names, f"{h}1_1", c, 3, 1),
                    SepConv(names, f"{h}2_0", c, 3, 1),
                    SepConv(names, f"{h}2_1", c, 3, 1),
                    SepConv(names, f"{h}3_1", c, 3, 1),
                ]
            )

    def forward(self, s0: paddle.Tensor, s1: paddle.Tensor, drop: Any = None) -> paddle.Tensor:
        """`drop`: None, or (keep probability, this cell's mask [N, 4, 2])."""

        def dp(x: paddle.Tensor, node: int, branch: int) -> paddle.Tensor:
            return x if drop is None else _drop_path(x, drop[0], drop[1][:, node, branch])

        s0, s1 = self.pre0(s0), self.pre1(s1)
        if self.reduction:
            r0 = dp(self.pool(s0), 0, 0) + self.reduce(s1)
            r1 = dp(self.pool(s1), 1, 0) + r0
            r2 = r0 + dp(self.dil(r1), 2, 0)
            r3 = r0 + dp(self.pool(s1), 3, 0)
            return paddle.concat([r0, r1, r2, r3], axis=1)
        op = self.ops
        n0 = dp(op[0](s0), 0, 0) + dp(op[1](s1), 0, 1)
        n1 = dp(op[2](s0), 1, 0) + dp(op[3](s1), 1, 1)
        n2 = dp(op[4](s0), 2, 0) + dp(op[5](s1), 2, 1)
        n3 = s0 + dp(op[6](s1), 3, 1)
        return paddle.concat([n0, n1, n2, n3], axis=1)


class Classifier(nn.Layer):
    """Global average pooling and an fc with bias (`<name>/fc_weights`, `/fc_bias`)."""

    def __init__(self, names: Names, name: str, features: int, classes: int) -> None:
        super().__init__()
        bound = (1.0 / features) ** 0.5
        init = nn.initializer.Uniform(low=-bound, high=bound)
        self.pool = nn.AdaptiveAvgPool2D(1)
        self.fc = nn.Linear(
            features,
            classes,
            weight_attr=names.attr(f"{name}/fc_weights", initializer=init),
            bias_attr=names.attr(f"{name}/fc_bias", initializer=init),
        )

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return self.fc(paddle.squeeze(self.pool(x), axis=[2, 3]))


class AuxiliaryHead(nn.Sequential):
    """ReLU, 5x5 average pooling (stride 3), 1x1 conv-BN 128, ReLU, 2x2 conv-BN 768,
    ReLU, classifier: PaddleSlim's `_auxiliary_cifar`."""

    def __init__(self, names: Names, name: str, features: int, classes: int) -> None:
        super().__init__(
            nn.ReLU(),
            nn.AvgPool2D(5, stride=3, padding=0),
            ConvBN(names, f"{name}/conv_bn1", features, 128, 1, 0),
            nn.ReLU(),
            ConvBN(names, f"{name}/conv_bn2", 128, 768, 2, 0),
            nn.ReLU(),
            Classifier(names, name, 768, classes),
        )


class DartsNetwork(nn.Layer):
    """`arch(input, drop_prob, drop_path_mask, is_train, num_classes)`, PaddleSlim's
    call; returns (logits, aux_logits), aux_logits None unless is_train."""

    def __init__(
        self,
        arch: Architecture,
        names: Names,
        num_classes: int | None = None,
        is_train: bool = False,
    ) -> None:
        super().__init__()
        (body,) = arch.blocks
        self.architecture = arch
        self._names = names
        prefix = body.name or "cifar10_darts"
        self._prefix = prefix
        self.stem = ConvBN(names, f"{prefix}_conv0", arch.in_channels, body.mid_channels, 3, 1)
        self.cells = nn.LayerList()
        self.aux: nn.Layer | None = None
        self.classifier: nn.Layer | None = None
        c_pp = c_p = body.mid_channels
        reduction_prev = False
        for i, c in enumerate(body.branches):
            reduction = i in REDUCTIONS
            self.cells.append(
                Cell(names, f"{prefix}_layer{i + 1}", c_pp, c_p, c, reduction, reduction_prev)
            )
            c_pp, c_p, reduction_prev = c_p, 4 * c, reduction
            if i == AUX_CELL:
                self._aux_features = c_p
                if is_train and num_classes is not None:  # PaddleSlim creates it here
                    self.aux = self._make_aux(num_classes)
        self._features = c_p
        if num_classes is not None:
            self.classifier = Classifier(names, prefix, c_p, num_classes)

    def _make_aux(self, num_classes: int) -> nn.Layer:
        return AuxiliaryHead(
            self._names, f"{self._prefix}_/l{AUX_CELL}/aux", self._aux_features, num_classes
        )

    def forward(
        self,
        x: paddle.Tensor,
        drop_prob: Any = None,
        drop_path_mask: Any = None,
        is_train: bool = False,
        num_classes: int | None = None,
    ) -> tuple[paddle.Tensor, paddle.Tensor | None]:
        if num_classes is None:
            raise TypeError(
                "a DartsSpace network is called as arch(input, drop_prob, drop_path_mask, "
                "is_train, num_classes), as in PaddleSlim: num_classes is missing"
            )
        if self.classifier is None:  # dynamic mode: the heads appear at the first call
            self.classifier = Classifier(self._names, self._prefix, self._features, num_classes)
        if is_train and self.aux is None:
            self.aux = self._make_aux(num_classes)
        drop = None
        if is_train and drop_prob is not None and drop_path_mask is not None:
            keep = 1.0 - paddle.reshape(drop_prob, [-1])[0]
            drop = (keep, drop_path_mask)
        s0 = s1 = self.stem(x)
        aux = None
        for i, cell in enumerate(self.cells):
            cell_drop = None if drop is None else (drop[0], drop[1][:, i, :, :])
            s0, s1 = s1, cell(s0, s1, cell_drop)
            if i == AUX_CELL and is_train and self.aux is not None:
                aux = self.aux(s1)
        return self.classifier(s1), aux
