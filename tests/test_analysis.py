"""`sanas.analysis.flops` gives PaddleSlim's own numbers for the same network.

The oracle (tests/data/paddleslim_flops_oracle.json) is PaddleSlim 2.6.0's
`paddleslim.analysis.flops` on the networks of tests/flops_networks.py in legacy static
mode, recorded by bench/paddleslim_flops_oracle.py. Here the same networks are counted
by sanas from PIR static programs (Paddle 3's default), from legacy static programs (in a
subprocess: FLAGS_enable_pir_api must be set before paddle is imported) and as
`paddle.nn.Layer`s, and every number must equal the oracle's, of the same kind (a float
once a conv is counted, as PaddleSlim's).
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import numpy as np
import paddle
import pytest
from flops_networks import LAYER_BATCHES, NETWORKS, layer, static_program
from helpers import ROOT, checkout_env
from paddle import nn

from sanas.analysis import flops

# Paddle's optimizers ask a PIR value for its place while building the training programs.
pytestmark = pytest.mark.filterwarnings("ignore:Tensor do not have 'place' interface")

ORACLE = json.loads((ROOT / "tests" / "data" / "paddleslim_flops_oracle.json").read_text())
LAYER_NETWORKS = [name for name, n in NETWORKS.items() if n.layer is not None]
DYGRAPH_CASES = [f"{name}@{batch}" for name in LAYER_NETWORKS for batch in LAYER_BATCHES]


def counts(model: Any, inputs: Any = None) -> dict[str, Any]:
    """The four calls the oracle recorded, JSON-shaped (tuples as lists)."""
    return json.loads(
        json.dumps(
            {
                "conv": flops(model, inputs),
                "all": flops(model, inputs, only_conv=False),
                "conv_detail": flops(model, inputs, detail=True),
                "all_detail": flops(model, inputs, only_conv=False, detail=True),
            }
        )
    )


def assert_same(got: Any, want: Any, where: str = "") -> None:
    """Equal values of the same kind: 13824.0 is not 13824 here."""
    assert type(got) is type(want), f"{where}: {got!r} vs {want!r}"
    if isinstance(want, dict):
        assert got.keys() == want.keys(), f"{where}: {sorted(got)} vs {sorted(want)}"
        for key in want:
            assert_same(got[key], want[key], f"{where}.{key}")
    elif isinstance(want, list):
        assert len(got) == len(want), where
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            assert_same(g, w, f"{where}[{i}]")
    else:
        assert got == want, f"{where}: {got!r} vs {want!r}"


def oracle(section: str, key: str) -> dict[str, Any]:
    entry = ORACLE[section][key]
    return {k: entry[k] for k in ("conv", "all", "conv_detail", "all_detail")}


@pytest.fixture
def static_mode() -> Iterator[None]:
    paddle.enable_static()
    try:
        yield
    finally:
        paddle.disable_static()


def test_the_oracle_covers_every_reference_network() -> None:
    assert ORACLE["versions"]["paddleslim"] == "2.6.0"
    assert sorted(ORACLE["static"]) == sorted(NETWORKS)
    assert sorted(ORACLE["dygraph"]) == sorted(DYGRAPH_CASES)


# --- PIR (Paddle 3's default static mode) -------------------------------------------


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_a_pir_program_counts_as_paddleslim(name: str, static_mode: None) -> None:
    program = static_program(NETWORKS[name])
    assert isinstance(program, paddle.pir.Program)
    assert_same(counts(program), oracle("static", name), name)
    assert not paddle.in_dynamic_mode()


@pytest.mark.parametrize("case", DYGRAPH_CASES)
def test_a_dygraph_layer_counts_as_paddleslim(case: str) -> None:
    name, batch = case.split("@")
    net = layer(NETWORKS[name])
    shape = [int(batch), *NETWORKS[name].shape]
    assert_same(counts(net, shape), oracle("dygraph", case), case)
    assert paddle.in_dynamic_mode()


@pytest.mark.parametrize("name", LAYER_NETWORKS)
def test_a_layer_made_in_static_mode_counts_the_same(name: str, static_mode: None) -> None:
    main = paddle.static.Program()
    with paddle.static.program_guard(main, paddle.static.Program()):
        net = layer(NETWORKS[name])
    before = len(main.global_block().ops)
    assert_same(counts(net, [1, *NETWORKS[name].shape]), oracle("dygraph", f"{name}@1"), name)
    assert not paddle.in_dynamic_mode()
    assert len(main.global_block().ops) == before  # traced elsewhere, not into the caller's


def test_the_fc_reshape_is_looked_through_only_for_fc(static_mode: None) -> None:
    # The same shapes without fc: PIR reshape + Linear was reshape2 + matmul_v2 in legacy,
    # whose X is 2-D: the flattened count, 128 * 10.
    main = paddle.static.Program()
    with paddle.static.program_guard(main, paddle.static.Program()):
        x = paddle.static.data("x", [-1, 8, 4, 4], "float32")
        nn.Linear(128, 10)(paddle.reshape(x, [-1, 128]))
        paddle.static.nn.fc(x, 10)  # legacy mul of the 4-D x: 8 * 10
    assert flops(main) == 128 * 10 + 8 * 10


def test_ops_in_nested_blocks_count_as_in_legacy_sub_blocks(static_mode: None) -> None:
    # PaddleSlim counts every block of a program, so both branches of a cond count.
    # (Paddle 3.3.1 cannot build a legacy cond, so there is no oracle number.)
    main = paddle.static.Program()
    with paddle.static.program_guard(main, paddle.static.Program()):
        x = paddle.static.data("x", [-1, 4], "float32")
        c = paddle.static.data("c", [1], "bool")
        a, b = nn.Linear(4, 3), nn.Linear(4, 5)
        y = paddle.static.nn.cond(c, lambda: a(x), lambda: b(x)[:, :3])
        nn.Linear(3, 2)(y)
    assert flops(main) == 4 * 3 + 4 * 5 + 3 * 2


# --- Layers: inputs, modes, side effects ---------------------------------------------


def test_inputs_as_paddleslim_takes_them() -> None:
    net = layer(NETWORKS["small_cnn"])
    want = ORACLE["dygraph"]["small_cnn@2"]["all"]
    for inputs in (
        [2, 3, 16, 16],
        (2, 3, 16, 16),
        [[2, 3, 16, 16]],
        paddle.ones([2, 3, 16, 16]),
        [paddle.ones([2, 3, 16, 16])],
        np.ones((2, 3, 16, 16), "float32"),
    ):
        assert flops(net, inputs, only_conv=False) == want, inputs


class TwoInputs(nn.Layer):
    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = nn.Linear(4, 3), nn.Linear(5, 3)

    def forward(self, a: Any, b: Any, scale: float = 1.0) -> Any:
        return self.a(a) * scale + self.b(b)


class DictInput(TwoInputs):
    def forward(self, d: dict[str, Any]) -> Any:  # type: ignore[override]
        return self.a(d["a"]) + self.b(d["b"])


def test_several_inputs_a_dict_and_plain_arguments() -> None:
    want = 2 * 4 * 3 + 2 * 5 * 3
    assert flops(TwoInputs(), [[2, 4], [2, 5]]) == want
    assert flops(TwoInputs(), [[2, 4], [2, 5]], dtypes=["float32", "float32"]) == want
    assert flops(TwoInputs(), [paddle.ones([2, 4]), paddle.ones([2, 5]), 3.0]) == want
    assert flops(DictInput(), {"a": paddle.ones([2, 4]), "b": paddle.ones([2, 5])}) == want


def test_the_layer_and_the_callers_names_are_left_as_they_were() -> None:
    net = layer(NETWORKS["small_cnn"])
    forward = net.forward
    x = paddle.rand([2, 3, 16, 16])
    net.eval()
    before = net(x).numpy()
    name_before = paddle.utils.unique_name.generate("tmp")
    flops(net, [1, 3, 16, 16])
    assert net.forward == forward and not net.training
    np.testing.assert_array_equal(net(x).numpy(), before)
    # The trace numbered its names apart: the caller's next name follows its last one.
    assert paddle.utils.unique_name.generate("tmp") == name_before[:-1] + str(
        int(name_before.rsplit("_", 1)[1]) + 1
    )


def test_a_dygraph_layer_counted_in_static_mode_leaves_static_mode() -> None:
    net = layer(NETWORKS["bn_activations"])
    paddle.enable_static()
    try:
        assert_same(counts(net, [1, 3, 8, 8]), oracle("dygraph", "bn_activations@1"))
        assert not paddle.in_dynamic_mode()
    finally:
        paddle.disable_static()


@pytest.mark.parametrize(
    "call,message",
    [
        (
            lambda: flops("resnet50"),
            r"paddle\.static\.Program \(PIR or legacy\) or a paddle\.nn\.Layer.*not str",
        ),
        (lambda: flops(paddle.ones([1])), r"not Tensor"),
        (lambda: flops(nn.ReLU()), r"a Layer needs its inputs; inputs must be an input shape"),
        (lambda: flops(nn.ReLU(), "1,3,32,32"), r"inputs must be an input shape .*got str"),
        (lambda: flops(nn.ReLU(), [[1, 3], object()]), r"a list of shapes .*got object"),
        (
            lambda: flops(nn.ReLU(), [1, 3], dtypes=["float32"] * 2),
            r"dtypes must be one dtype or a list of 1",
        ),
    ],
    ids=["string-model", "tensor-model", "no-inputs", "string-inputs", "unknown-arg", "dtypes"],
)
def test_a_bad_argument_says_what_is_accepted(call: Any, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        call()


# --- Legacy static mode (FLAGS_enable_pir_api=0), in its own process ------------------

LEGACY_SCRIPT = """
import json, sys
import paddle
assert not paddle.framework.use_pir_api()
from flops_networks import LAYER_BATCHES, NETWORKS, layer, static_program
from sanas.analysis import flops

def counts(model, inputs=None):
    return {
        "conv": flops(model, inputs),
        "all": flops(model, inputs, only_conv=False),
        "conv_detail": flops(model, inputs, detail=True),
        "all_detail": flops(model, inputs, only_conv=False, detail=True),
    }

out = {"static": {}, "dygraph": {}, "static_layer": {}, "modes": []}
paddle.enable_static()
for name, network in NETWORKS.items():
    program = static_program(network)
    assert isinstance(program, paddle.base.framework.Program), type(program)
    out["static"][name] = counts(program)
out["modes"].append(paddle.in_dynamic_mode())
for name, network in NETWORKS.items():
    if network.layer is None:
        continue
    main = paddle.static.Program()
    with paddle.static.program_guard(main, paddle.static.Program()):
        net = layer(network)
    out["static_layer"][name] = counts(net, [1, *network.shape])
out["modes"].append(paddle.in_dynamic_mode())
paddle.disable_static()
for name, network in NETWORKS.items():
    if network.layer is None:
        continue
    for batch in LAYER_BATCHES:
        net = layer(network)
        out["dygraph"][f"{name}@{batch}"] = counts(net, [batch, *network.shape])
out["modes"].append(paddle.in_dynamic_mode())
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def legacy() -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-c", LEGACY_SCRIPT],
        env=checkout_env(ROOT / "tests", FLAGS_enable_pir_api="0"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_legacy_counting_leaves_each_mode_as_it_was(legacy: dict[str, Any]) -> None:
    assert legacy["modes"] == [False, False, True]


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_a_legacy_program_counts_as_paddleslim(name: str, legacy: dict[str, Any]) -> None:
    assert_same(legacy["static"][name], oracle("static", name), name)


@pytest.mark.parametrize("case", DYGRAPH_CASES)
def test_a_layer_under_legacy_counts_as_paddleslim(case: str, legacy: dict[str, Any]) -> None:
    assert_same(legacy["dygraph"][case], oracle("dygraph", case), case)


@pytest.mark.parametrize("name", LAYER_NETWORKS)
def test_a_legacy_static_mode_layer_counts_as_paddleslim(name: str, legacy: dict[str, Any]) -> None:
    assert_same(legacy["static_layer"][name], oracle("dygraph", f"{name}@1"), name)


# --- The PaddleSlim-style training program, in both modes ----------------------------


@pytest.mark.parametrize("name", ["train_fc_momentum", "train_linear_adam"])
def test_a_training_program_counts_its_forward_only(
    name: str, legacy: dict[str, Any], static_mode: None
) -> None:
    """data -> network -> fc/Linear -> softmax cross entropy -> mean -> minimize: the
    backward and optimizer ops add nothing, in PIR and legacy programs alike."""
    network = NETWORKS[name]
    program = static_program(network)
    types = {op.name() for op in program.global_block().ops}
    assert {"pd_op.conv2d_grad", "pd_op.matmul_grad"} <= types  # minimize did run
    pir = counts(program)
    assert_same(pir, oracle("static", name), name)
    assert_same(legacy["static"][name], pir, name)
    forward_only = counts(static_program(dataclasses.replace(network, train=None)))
    assert_same(pir, forward_only, name)
