"""Search spaces as real Paddle networks, and their analytic cost against paddle.flops."""

from __future__ import annotations

import contextlib
import io
import random

import numpy as np
import paddle
import pytest
from helpers import custom_config

from sanas import errors
from sanas.nets import build, build_archs
from sanas.spaces import (
    CombinedSpace,
    SpaceConfig,
    SpaceConfigError,
    block_strides,
    paddleslim_layout,
)
from sanas.spaces.cost import architecture_cost, classifier_cost, network_cost
from sanas.study_config import study_config
from sanas_server import errors as server_errors
from sanas_server.controller import Controller
from sanas_server.spec import Constraints, StudyRequest
from sanas_server.storage import FileStorage, MemoryStorage

# PaddleSlim's networks (its keys) and sanas's earlier ones ("sanas." keys).
CONFIGS = [
    (SpaceConfig(key), size)
    for base, size in (
        ("MobileNetV2Space", 32),
        ("MobileNetV1Space", 32),
        ("ResNetSpace", 32),
        ("DartsSpace", 16),
    )
    for key in (base, "sanas." + base)
] + [
    (SpaceConfig(prefix + key, **params), size)
    for key, params, size in (
        ("MobileNetV2BlockSpace", {"input_size": 16, "output_size": 4, "block_num": 4}, 16),
        ("MobileNetV2BlockSpace", {"block_mask": (1, 0, 1, 1)}, 32),
        ("MobileNetV2BlockSpace", {"input_size": 8, "output_size": 8, "block_num": 2}, 8),
        ("MobileNetV1BlockSpace", {"input_size": 16, "output_size": 4, "block_num": 3}, 16),
        ("InceptionABlockSpace", {"input_size": 16, "output_size": 4, "block_num": 3}, 16),
        ("ResNetBlockSpace", {"block_mask": (1, 0, 1)}, 16),
    )
    for prefix in ("", "sanas.")
]
CLASSES = 10  # DartsSpace networks end in a classifier of the classes they are called with


def features(net, arch, x):
    """The network's main output, however its space calls and returns (PaddleSlim's
    conventions for its keys, a plain Layer for the "sanas." ones)."""
    if arch.call == "darts":
        return net(x, None, None, False, CLASSES)[0]
    out = net(x)
    return out[0] if arch.call == "block" else out


def expected_cost(arch, size):
    cost, out = architecture_cost(arch, size)
    if arch.call == "darts":
        return cost + classifier_cost(arch.out_channels, CLASSES, out), [CLASSES]
    return cost, [arch.out_channels, out, out]


class Probe(paddle.nn.Layer):
    """One network called as its space calls it, for paddle.flops."""

    def __init__(self, net, arch):
        super().__init__()
        self.net, self.arch = net, arch

    def forward(self, x):
        return features(self.net, self.arch, x)


@pytest.mark.parametrize(("config", "size"), CONFIGS, ids=lambda c: getattr(c, "key", str(c)))
def test_analytic_cost_equals_paddle_flops_and_forward_shapes(config, size):
    space = CombinedSpace.from_configs([config])
    rng = random.Random(size)
    vectors = [space.init_tokens() or [0] * len(space.range_table())] + [
        [rng.randrange(r) for r in space.range_table()] for _ in range(5)
    ]
    for tokens in vectors:
        (arch,) = space.decode(tokens)
        (net,) = build([arch])
        probe = Probe(net, arch)
        if arch.call == "darts":  # its classifier appears at the first call (dynamic mode)
            probe(paddle.zeros([1, 3, size, size]))
        with contextlib.redirect_stdout(io.StringIO()):  # paddle.flops prints a table
            flops = paddle.flops(probe, [1, 3, size, size])
        params = sum(int(p.numel()) for p in net.parameters())
        cost, shape = expected_cost(arch, size)
        assert (cost.flops, cost.params) == (flops, params), tokens
        out = probe(paddle.randn([2, 3, size, size]))
        assert out.shape == [2, *shape]


def test_block_space_in_a_static_program():
    config = SpaceConfig("sanas.MobileNetV2BlockSpace", input_size=16, output_size=4, block_num=4)
    space = CombinedSpace.from_configs([config])
    paddle.enable_static()
    try:
        main, startup = paddle.static.Program(), paddle.static.Program()
        with paddle.static.program_guard(main, startup):
            x = paddle.static.data(name="x", shape=[None, 3, 16, 16], dtype="float32")
            for layer in build(space.decode([1, 5, 1, 1] * 4)):
                x = layer(x)
        exe = paddle.static.Executor(paddle.CPUPlace())
        exe.run(startup)
        (out,) = exe.run(main, feed={"x": np.ones((2, 3, 16, 16), "float32")}, fetch_list=[x])
        assert out.shape == (2, 24, 4, 4)  # channel choice 5 is 24
    finally:
        paddle.disable_static()


def test_block_layouts_and_their_errors():
    assert block_strides(SpaceConfig("k", input_size=32, output_size=4, block_num=5)) == [
        2,
        1,
        2,
        1,
        2,
    ]
    assert block_strides(SpaceConfig("k", input_size=8, output_size=8, block_num=2)) == [1, 1]
    with pytest.raises(SpaceConfigError, match="does not halve exactly"):
        block_strides(SpaceConfig("k", input_size=30, output_size=4, block_num=5))
    with pytest.raises(SpaceConfigError, match="less than the 3 stride-2 blocks"):
        block_strides(SpaceConfig("k", input_size=32, output_size=4, block_num=2))
    with pytest.raises(SpaceConfigError, match="only 0 and 1"):
        block_strides(SpaceConfig("k", block_mask=(0, 2)))
    # The "sanas." spaces read every token group (PaddleSlim's repeated blocks do not).
    config = SpaceConfig("sanas.MobileNetV2BlockSpace", input_size=32, output_size=8, block_num=4)
    space = CombinedSpace.from_configs([config])
    a = space.decode([0] * 16)[0].blocks
    b = space.decode([0] * 12 + [5, 9, 2, 1])[0].blocks
    assert a[:3] == b[:3] and a[3] != b[3]


def test_paddleslim_layouts():
    """PaddleSlim 2.6.0's rule, read from its block spaces (tests/test_fidelity.py checks
    the networks): halvings round up; stage i is a stride-2 block on token group i, then
    stride-1 blocks on groups k*d + i, the leftovers going to the last stages."""
    layout = paddleslim_layout(SpaceConfig("k", input_size=32, output_size=4, block_num=5))
    assert layout == [(0, 2), (1, 2), (1, 1), (2, 2), (2, 1)]  # groups 3 and 4 unread
    layout = paddleslim_layout(SpaceConfig("k", input_size=28, output_size=4, block_num=7))
    assert layout == [(0, 2), (0, 1), (1, 2), (1, 1), (2, 2), (2, 1), (5, 1)]
    assert paddleslim_layout(SpaceConfig("k", block_mask=(0, 1))) == [(0, 1), (1, 2)]
    # PaddleSlim divides by zero here; sanas builds block_num stride-1 blocks.
    assert paddleslim_layout(SpaceConfig("k", input_size=8, output_size=8, block_num=2)) == [
        (0, 1),
        (1, 1),
    ]
    # 30 -> 15 -> 8 -> 4 (rounding up, as a stride-2 'same' convolution does), never 7.
    assert len(paddleslim_layout(SpaceConfig("k", input_size=30, output_size=4, block_num=3))) == 3
    with pytest.raises(SpaceConfigError, match="does not reach output_size"):
        paddleslim_layout(SpaceConfig("k", input_size=30, output_size=7, block_num=5))
    with pytest.raises(SpaceConfigError, match="less than the 3 stride-2 blocks"):
        paddleslim_layout(SpaceConfig("k", input_size=32, output_size=4, block_num=2))
    # So an unread group changes nothing, as in PaddleSlim.
    config = SpaceConfig("MobileNetV2BlockSpace", input_size=32, output_size=8, block_num=4)
    space = CombinedSpace.from_configs([config])
    assert space.decode([0] * 16) == space.decode([0] * 12 + [5, 9, 2, 1])


def constrained(max_flops: int, **kw) -> StudyRequest:
    return StudyRequest(
        (SpaceConfig("MobileNetV2BlockSpace", input_size=8, output_size=2, block_num=3),),
        seed=4,
        search_steps=60,
        constraints=Constraints(input_size=8, in_channels=16, max_flops=max_flops),
        **kw,
    )


def test_constraints_keep_every_issued_trial_within_budget(tmp_path):
    limit = 2_000_000
    c = Controller(FileStorage(tmp_path))
    c.create_study("s", constrained(limit, init_temperature=100.0))
    space = CombinedSpace.from_configs(constrained(limit).search_spaces)
    issued = []
    for i in range(40):
        t = c.suggest_trial("s", "w")
        cost = network_cost(space.decode(t.tokens, 16), 8)
        assert cost.flops <= limit
        c.complete_trial("s", t.trial_id, float(i % 7), False)  # a rough landscape
        issued.append(t.tokens)
    rejected = c.get_study("s").rejected_proposals
    assert rejected > 0  # over-budget candidates were met and never issued
    c.close()
    resumed = Controller(FileStorage(tmp_path))
    assert resumed.get_study("s").rejected_proposals == rejected


def test_constraint_errors():
    c = Controller(MemoryStorage())
    with pytest.raises(server_errors.InvalidArgument, match="decode to networks"):
        c.create_study(
            "x",
            StudyRequest(
                (SpaceConfig("custom", range_table=(3, 3)),), constraints=Constraints(max_flops=10)
            ),
        )
    negative = StudyRequest(constrained(10).search_spaces, constraints=Constraints(max_params=-1))
    with pytest.raises(server_errors.InvalidArgument, match=r"constraints\.max_params = -1"):
        c.create_study("x", negative)
    c.create_study("tight", constrained(1))  # nothing fits: said clearly, quickly
    with pytest.raises(server_errors.SearchSpaceExhausted, match="meets the constraints"):
        c.suggest_trial("tight", "w")


def test_suggest_can_return_the_architecture_and_its_cost(client):
    client.create_study(
        "arch",
        study_config(
            [("MobileNetV2BlockSpace", {"input_size": 16, "output_size": 4, "block_num": 3})],
            max_flops=50_000_000,
            constraint_input_size=16,
        ),
    )
    response = client.suggest_with_architecture("arch")
    space = CombinedSpace.from_configs(
        [SpaceConfig("MobileNetV2BlockSpace", input_size=16, output_size=4, block_num=3)]
    )
    archs = space.decode(list(response.trial.tokens))
    assert [b.out_channels for b in response.architectures[0].blocks] == [
        b.out_channels for b in archs[0].blocks
    ]
    assert response.architectures[0].blocks[0].kind == "inverted_residual"
    cost = network_cost(archs, 16)
    assert (response.flops, response.params) == (cost.flops, cost.params)
    plain = client.create_study("plain", custom_config([4, 4]))
    assert plain.study_id == "plain"
    assert list(client.suggest_with_architecture("plain").architectures) == []
    with pytest.raises(errors.InvalidArgumentError, match="decode to networks"):
        client.create_study("bad", custom_config([4, 4], max_flops=5))


@pytest.mark.parametrize(("config", "size"), CONFIGS, ids=lambda c: getattr(c, "key", str(c)))
@pytest.mark.parametrize("seed", [7])
def test_every_space_builds_inside_a_static_program(config, size, seed):
    space = CombinedSpace.from_configs([config])
    rng = random.Random(seed)
    tokens = [rng.randrange(r) for r in space.range_table()]
    (arch,) = space.decode(tokens)
    paddle.enable_static()
    try:
        main, startup = paddle.static.Program(), paddle.static.Program()
        with paddle.static.program_guard(main, startup):
            x = paddle.static.data(name="x", shape=[None, 3, size, size], dtype="float32")
            (builder,) = build_archs(space, tokens, 3)
            y = features(builder, arch, x)
        exe = paddle.static.Executor(paddle.CPUPlace())
        exe.run(startup)
        feed = {"x": np.random.rand(2, 3, size, size).astype("float32")}
        (out,) = exe.run(main, feed=feed, fetch_list=[y])
    finally:
        paddle.disable_static()
    assert list(out.shape) == [2, *expected_cost(arch, size)[1]]


def test_several_configs_concatenate_their_tokens(server):
    from sanas import SANAS

    configs = [
        ("MobileNetV2BlockSpace", {"input_size": 16, "output_size": 8, "block_num": 2}),
        ("MobileNetV1BlockSpace", {"input_size": 8, "output_size": 4, "block_num": 2}),
    ]
    with SANAS(
        configs,
        server_addr=("127.0.0.1", server.port),
        is_server=False,
        study_id="two",
        search_steps=4,
    ) as nas:
        archs = nas.next_archs()
        tokens = nas.current_tokens()
        assert len(archs) == 2 and len(tokens) == 4 * 2 + 3 * 2
        x = paddle.randn([2, 3, 16, 16])
        for arch in archs:  # the document's chaining; a block space returns (x,)
            x = arch(x)
        decoded = nas.decode(tokens)
        assert decoded[1].in_channels == decoded[0].out_channels
        assert isinstance(x, tuple) and x[0].shape == [2, decoded[1].out_channels, 4, 4]
        nas.reward(0.5)


def test_a_user_registered_space_works_end_to_end():
    from sanas.spaces import Architecture, Block, SearchSpace, register_space

    @register_space("TinyConvSpace")
    class TinyConvSpace(SearchSpace):
        """Two tokens: the width (8 or 16) and kernel (3 or 5) of one conv layer."""

        def range_table(self) -> list[int]:
            return [2, 2]

        def init_tokens(self) -> list[int]:
            return [0, 0]

        def decode(self, tokens, in_channels=3):
            width, kernel = self.check_tokens(tokens)
            return Architecture(
                "TinyConvSpace",
                in_channels,
                (Block("conv_bn", (8, 16)[width], kernel=(3, 5)[kernel], act="relu"),),
            )

    c = Controller(MemoryStorage())
    request = StudyRequest(
        (SpaceConfig("TinyConvSpace"),),
        search_steps=4,
        constraints=Constraints(input_size=8, max_flops=50_000),
    )
    c.create_study("tiny", request)
    space = CombinedSpace.from_configs([SpaceConfig("TinyConvSpace")])
    seen = set()
    for _ in range(3):
        tokens = c.suggest_trial("tiny", "w").tokens
        seen.add(tokens)
        assert network_cost(space.decode(tokens), 8).flops <= 50_000
    # 16 channels, 5x5 at 8x8: 78,848 FLOPs, over the budget, so never issued.
    assert network_cost(space.decode([1, 1]), 8).flops == 78_848
    assert (1, 1) not in seen
    with pytest.raises(server_errors.SearchSpaceExhausted):
        c.suggest_trial("tiny", "w")  # only three vectors fit the budget
    net = paddle.nn.Sequential(*build(space.decode([1, 0])))
    assert net(paddle.randn([1, 3, 8, 8])).shape == [1, 16, 8, 8]
