"""Reference networks for `sanas.analysis.flops`, shared by the PaddleSlim oracle
(bench/paddleslim_flops_oracle.py, legacy static mode in PaddleSlim's environment) and
tests/test_analysis.py (PIR static, legacy static and dygraph), so both count the very
same network.

Each network is built inside `paddle.utils.unique_name.guard()`, so its parameter names
(the keys of `flops(..., detail=True)`) start from 0 wherever it is built.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paddle
import paddle.nn.functional as F
from paddle import nn


class Sigmoid(nn.Layer):
    """`nn.Sigmoid` that also builds in legacy static mode.

    Paddle 3.3.1's `F.sigmoid` calls `_C_ops.sigmoid`, which accepts only PIR values, so
    in legacy static mode (FLAGS_enable_pir_api=0) it raises TypeError. There the legacy
    `sigmoid` op, the one Paddle 2's `nn.Sigmoid` emitted, is appended by hand.
    """

    def forward(self, x: Any) -> Any:
        if paddle.framework.in_dynamic_or_pir_mode():
            return F.sigmoid(x)
        from paddle.base.layer_helper import LayerHelper

        helper = LayerHelper("sigmoid")
        out = helper.create_variable_for_type_inference(x.dtype)
        helper.append_op(type="sigmoid", inputs={"X": [x]}, outputs={"Out": [out]})
        return out


@dataclass(frozen=True)
class Network:
    """A reference network: `layer()` makes it as a `paddle.nn.Layer` (None: it exists
    only as a static program, e.g. `paddle.static.nn.fc`); `forward(x)` appends it to the
    current static program; `train` adds a loss and `optimizer.minimize`."""

    name: str
    shape: tuple[int, ...]  # one sample, without the batch dimension
    layer: Callable[[], nn.Layer] | None
    forward: Callable[[Any], Any]
    train: str | None = None  # None, or the optimizer ("momentum", "adam")


def _seq(*make: Callable[[], nn.Layer]) -> Callable[[], nn.Layer]:
    return lambda: nn.Sequential(*(m() for m in make))


def _layer_forward(make: Callable[[], nn.Layer]) -> Callable[[Any], Any]:
    return lambda x: make()(x)


def _layer_network(name: str, shape: tuple[int, ...], *make: Callable[[], nn.Layer]) -> Network:
    layer = _seq(*make)
    return Network(name, shape, layer, _layer_forward(layer))


# Every fc is named: in PIR mode, fc takes its default name ("fc_N") from the legacy
# default program's name generator, which neither a new program nor
# `unique_name.guard()` restarts, so unnamed fc weights would be fc_0 in the oracle but
# fc_4 in a test process that built other fc networks first.


def _fc_head(x: Any) -> Any:
    # fc straight on the 4-D conv output: legacy `mul` keeps X 4-D, and PaddleSlim counts
    # x[0] * x[1] * y[1] of that shape; PIR's fc reshapes to 2-D first.
    y = nn.Conv2D(3, 8, 3, stride=2, padding=1)(x)
    y = paddle.static.nn.fc(y, 10, activation="relu", name="fc_a")
    return paddle.static.nn.fc(y, 4, name="fc_b")


def _fc_flatten_dims(x: Any) -> Any:
    y = nn.Conv2D(3, 6, 3)(x)  # [-1, 6, 4, 4]
    y = paddle.static.nn.fc(y, 5, num_flatten_dims=2, name="fc_a")  # [-1, 6, 5]
    return paddle.static.nn.fc(y, 3, name="fc_b")


_SMALL_CNN = (
    lambda: nn.Conv2D(3, 8, 3, padding=1),
    lambda: nn.BatchNorm2D(8),
    lambda: nn.ReLU(),
    lambda: nn.Conv2D(8, 8, 3, stride=2, padding=1, groups=8, bias_attr=False),
    lambda: nn.BatchNorm2D(8),
    lambda: nn.ReLU6(),
    lambda: nn.Conv2D(8, 16, 1, bias_attr=False),
    lambda: nn.AvgPool2D(2),
)


def _train_fc(x: Any) -> Any:
    y = _seq(*_SMALL_CNN)()(x)
    return paddle.static.nn.fc(y, 10, name="fc_out")


def _train_linear(x: Any) -> Any:
    y = _seq(*_SMALL_CNN, lambda: nn.AdaptiveAvgPool2D(1), lambda: nn.Flatten())()(x)
    return nn.Linear(16, 10)(y)


NETWORKS: dict[str, Network] = {
    n.name: n
    for n in [
        _layer_network("conv_bias", (3, 8, 8), lambda: nn.Conv2D(3, 8, 3, padding=1)),
        _layer_network(
            "conv_no_bias", (3, 9, 9), lambda: nn.Conv2D(3, 8, 3, stride=2, bias_attr=False)
        ),
        _layer_network(
            "grouped_depthwise",
            (4, 10, 10),
            lambda: nn.Conv2D(4, 8, 3, groups=2),
            lambda: nn.Conv2D(8, 8, 3, padding=1, groups=8),  # depthwise
            lambda: nn.Conv2D(8, 16, 1, groups=8, bias_attr=False),  # depth multiplier 2
        ),
        _layer_network(
            "linear",
            (3, 4, 4),
            lambda: nn.Flatten(),
            lambda: nn.Linear(48, 10),
            lambda: nn.ReLU(),
            lambda: nn.Linear(10, 5),
        ),
        _layer_network(
            "bn_activations",
            (3, 8, 8),
            lambda: nn.Conv2D(3, 8, 3),
            lambda: nn.BatchNorm2D(8),
            lambda: nn.ReLU(),
            lambda: nn.Conv2D(8, 8, 1),
            lambda: nn.BatchNorm2D(8),
            lambda: nn.ReLU6(),
            lambda: Sigmoid(),
        ),
        _layer_network(
            "pools",
            (3, 16, 16),
            lambda: nn.Conv2D(3, 8, 3, padding=1),
            lambda: nn.AvgPool2D(2),
            lambda: nn.MaxPool2D(2),
            lambda: nn.AvgPool2D(kernel_size=(3, 2), stride=1, padding=1),
            lambda: nn.AdaptiveAvgPool2D(2),
            lambda: nn.AdaptiveAvgPool2D(1),
        ),
        _layer_network(
            "linear_batchnorm1d",
            (16,),
            lambda: nn.Linear(16, 8),
            lambda: nn.BatchNorm1D(8),
            lambda: nn.ReLU(),
        ),
        _layer_network(
            "small_cnn",
            (3, 16, 16),
            *_SMALL_CNN,
            lambda: nn.AdaptiveAvgPool2D(1),
            lambda: nn.Flatten(),
            lambda: nn.Linear(16, 10),
        ),
        Network("fc_on_4d", (3, 8, 8), None, _fc_head),
        Network("fc_num_flatten_dims", (3, 6, 6), None, _fc_flatten_dims),
        Network("train_fc_momentum", (3, 16, 16), None, _train_fc, train="momentum"),
        Network("train_linear_adam", (3, 16, 16), None, _train_linear, train="adam"),
    ]
}

# The Layer networks are also counted from dygraph with these batch sizes: PaddleSlim
# counts the batch of a given input shape in matmul, activations and batch norm.
LAYER_BATCHES = (1, 2)


def static_program(network: Network) -> Any:
    """`network` as the main program of a new static program pair (the current mode
    must be static): data [-1, *shape] -> network [-> loss -> optimizer.minimize]."""
    main, startup = paddle.static.Program(), paddle.static.Program()
    with paddle.static.program_guard(main, startup), paddle.utils.unique_name.guard():
        x = paddle.static.data("x", [-1, *network.shape], "float32")
        out = network.forward(x)
        if network.train is not None:
            label = paddle.static.data("label", [-1, 1], "int64")
            loss = paddle.mean(F.cross_entropy(out, label))
            if network.train == "momentum":
                optimizer: Any = paddle.optimizer.Momentum(learning_rate=0.1)
            else:
                optimizer = paddle.optimizer.Adam(learning_rate=0.01)
            optimizer.minimize(loss)
    return main


def layer(network: Network) -> nn.Layer:
    """A fresh Layer of `network`, with parameter names from 0."""
    assert network.layer is not None, f"{network.name} is a static-only network"
    with paddle.utils.unique_name.guard():
        return network.layer()
