"""PaddleSlim's static-graph NAS tutorial, ported to Paddle 3 (PIR): `next_archs()` before
`program_guard`, `arch(input)` inside it, an evaluation program, a reward per step."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import paddle
import pytest
from paddle.nn import functional as F
from sklearn.datasets import load_digits

from sanas import SANAS
from sanas.nets.lazy import StaticArch

LOOPBACK = ("127.0.0.1", 0)
# Two stride-2 blocks on 8x8 digits: small enough for a few steps on 2 cores.
BLOCKS = [("MobileNetV2BlockSpace", {"input_size": 8, "output_size": 2, "block_num": 2})]


@pytest.fixture
def static_mode() -> Iterator[None]:
    paddle.enable_static()
    try:
        yield
    finally:
        paddle.disable_static()  # later tests expect dynamic mode


def digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype("float32").reshape(-1, 1, 8, 8)
    y = y.astype("int64").reshape(-1, 1)
    order = np.random.default_rng(0).permutation(len(x))
    train, test = order[:512], order[512:768]
    return x[train], y[train], x[test], y[test]


def head(features: paddle.Tensor) -> paddle.Tensor:
    """The tutorial's pooling + fc classifier on the searched body."""
    pooled = paddle.flatten(paddle.nn.AdaptiveAvgPool2D(1)(features), 1)
    return paddle.nn.Linear(pooled.shape[1], 10)(pooled)


def param_values(names: list[str]) -> dict[str, np.ndarray]:
    scope = paddle.static.global_scope()
    return {n: np.array(scope.find_var(n).get_tensor()) for n in names}


def test_tutorial_search_loop_trains_evaluates_and_rewards(tmp_path, static_mode):
    x_train, y_train, x_test, y_test = digits()
    sanas = SANAS(
        BLOCKS,
        server_addr=LOOPBACK,
        save_checkpoint=str(tmp_path),
        search_steps=3,
        seed=5,
        input_channels=1,
    )
    try:
        scores = []
        for _ in range(3):
            archs = sanas.next_archs()[0]  # before program_guard, as the tutorials do
            assert isinstance(archs, StaticArch)
            train_program, startup_program = paddle.static.Program(), paddle.static.Program()
            with paddle.static.program_guard(train_program, startup_program):
                image = paddle.static.data(name="image", shape=[None, 1, 8, 8], dtype="float32")
                label = paddle.static.data(name="label", shape=[None, 1], dtype="int64")
                (output,) = archs(image)  # a block space returns (x,), as PaddleSlim's
                logits = head(output)
                loss = F.cross_entropy(logits, label).mean()
                # Paddle 3's clone(for_test=True): clone before minimize, keep the
                # mapping to fetch the clone's own values, switch is_test on.
                value_map = paddle.pir.IrMapping()
                eval_program = train_program.clone(value_map)
                eval_program.set_is_test_attr()
                eval_logits = value_map.look_up(logits)
                # A train-mode forward-only clone refreshes the batch-norm statistics,
                # which lag far behind a briefly trained network.
                stats_map = paddle.pir.IrMapping()
                stats_program = train_program.clone(stats_map)
                stats_logits = stats_map.look_up(logits)
                paddle.optimizer.Adam(learning_rate=0.01).minimize(loss)

            names = [p.name for p in archs.layer(train_program).parameters()]
            assert names and set(names) <= set(train_program.get_all_parameter_values())
            assert set(names) <= set(eval_program.get_all_parameter_values())

            exe = paddle.static.Executor(paddle.CPUPlace())
            exe.run(startup_program)
            before = param_values(names)
            losses = []
            for _ in range(4):
                for start in range(0, len(x_train), 128):
                    feed = {
                        "image": x_train[start : start + 128],
                        "label": y_train[start : start + 128],
                    }
                    (value,) = exe.run(train_program, feed=feed, fetch_list=[loss])
                    losses.append(float(value))
            after = param_values(names)
            assert losses[-1] < losses[0]
            assert any(not np.array_equal(before[n], after[n]) for n in names)

            for _ in range(30):  # momentum 0.9: 0.9**30 of the stale statistics remain
                feed = {"image": x_train, "label": y_train}
                exe.run(stats_program, feed=feed, fetch_list=[stats_logits])
            refreshed = param_values(names)
            (predicted,) = exe.run(
                eval_program,
                feed={"image": x_test, "label": y_test},
                fetch_list=[eval_logits],
            )
            # The evaluation program only reads: the weights are as training left them.
            assert all(np.array_equal(refreshed[n], v) for n, v in param_values(names).items())
            score = float((predicted.argmax(axis=1) == y_test[:, 0]).mean())
            assert sanas.reward(score) is True
            scores.append(score)

        assert max(scores) > 0.3  # ten classes: trained networks, not chance (~0.1)
        info = sanas.current_info()
        assert info["best_reward"] == max(scores)
        assert info["best_tokens"] is not None and len(info["best_tokens"]) == 8
    finally:
        sanas.close()


def test_an_evaluation_program_with_its_own_program_guard_shares_the_weights(tmp_path, static_mode):
    """PaddleSlim's demos built the test program by a second `program_guard` on the same
    startup program (names kept equal by `unique_name.guard()`); the builder gives the
    second program the same parameters, so it evaluates the trained weights."""
    x_train, y_train, x_test, _ = digits()
    with SANAS(
        BLOCKS, server_addr=LOOPBACK, save_checkpoint=None, seed=2, input_channels=1
    ) as sanas:
        archs = sanas.next_archs()[0]
        startup = paddle.static.Program()

        def build(program: paddle.static.Program) -> tuple[paddle.Tensor, paddle.Tensor]:
            with paddle.static.program_guard(program, startup), paddle.utils.unique_name.guard():
                image = paddle.static.data(name="image", shape=[None, 1, 8, 8], dtype="float32")
                label = paddle.static.data(name="label", shape=[None, 1], dtype="int64")
                logits = head(archs(image)[0])
                return logits, F.cross_entropy(logits, label).mean()

        train_program, eval_program = paddle.static.Program(), paddle.static.Program()
        logits, loss = build(train_program)
        # Calling again in the same program reuses the Layer: no second set of weights.
        with paddle.static.program_guard(train_program, startup):
            assert archs.layer() is archs.layer(train_program)
        n_params = len(train_program.get_all_parameter_values())
        with paddle.static.program_guard(train_program, startup):
            clone_map = paddle.pir.IrMapping()
            cloned = train_program.clone(clone_map)
            cloned.set_is_test_attr()
            paddle.optimizer.Adam(learning_rate=0.01).minimize(loss)
        eval_logits, _ = build(eval_program)
        eval_program.set_is_test_attr()
        assert archs.layer(eval_program) is not archs.layer(train_program)
        shared = set(eval_program.get_all_parameter_values())
        assert len(shared) == n_params and shared <= set(train_program.get_all_parameter_values())

        exe = paddle.static.Executor(paddle.CPUPlace())
        exe.run(startup)
        feed = {"image": x_test[:64], "label": np.zeros((64, 1), "int64")}
        (untrained,) = exe.run(eval_program, feed=feed, fetch_list=[eval_logits])
        for _ in range(5):
            exe.run(train_program, feed={"image": x_train, "label": y_train}, fetch_list=[loss])
        (own_guard,) = exe.run(eval_program, feed=feed, fetch_list=[eval_logits])
        (by_clone,) = exe.run(cloned, feed=feed, fetch_list=[clone_map.look_up(logits)])
        assert not np.allclose(untrained, own_guard)  # it sees the training ...
        np.testing.assert_allclose(own_guard, by_clone, rtol=1e-5, atol=1e-6)  # ... both ways
        sanas.reward(0.5)


def test_the_api_document_examples_with_paddle_static_for_fluid(tmp_path, static_mode):
    # The document's scripts use the default programs; fresh ones keep other tests clean.
    with paddle.static.program_guard(paddle.static.Program(), paddle.static.Program()):
        config = [("MobileNetV2Space")]
        sanas = SANAS(configs=config, server_addr=LOOPBACK, save_checkpoint=str(tmp_path))
        try:
            print(sanas.current_info())
            # next_archs()
            input = paddle.static.data(name="input", shape=[None, 3, 32, 32], dtype="float32")
            archs = sanas.next_archs()
            for arch in archs:
                output = arch(input)
                input = output
            print(output)
            # reward(score)
            score = 1.0
            assert sanas.reward(float(score)) is True
            exe = paddle.static.Executor(paddle.CPUPlace())
            exe.run(paddle.static.default_startup_program())
            feed = {"input": np.random.rand(2, 3, 32, 32).astype("float32")}
            (a,) = exe.run(paddle.static.default_main_program(), feed=feed, fetch_list=[output])
            assert a.shape == (2, 1280, 1, 1)
            assert sanas.current_info()["best_reward"] == 1.0
            # tokens2arch(tokens): the document's own script, so its own default programs
            with paddle.static.program_guard(paddle.static.Program(), paddle.static.Program()):
                input = paddle.static.data(name="input", shape=[None, 3, 32, 32], dtype="float32")
                tokens = [0] * 25
                archs = sanas.tokens2arch(tokens)[0]
                print(archs(input))
                exe.run(paddle.static.default_startup_program())
                (b,) = exe.run(
                    paddle.static.default_main_program(), feed=feed, fetch_list=[archs(input)]
                )
                assert b.shape == (2, 1280, 1, 1)
        finally:
            sanas.close()


def test_dynamic_mode_still_returns_layers(tmp_path):
    with SANAS(BLOCKS, server_addr=LOOPBACK, save_checkpoint=None, input_channels=1) as sanas:
        (layer,) = sanas.next_archs()
        assert isinstance(layer, paddle.nn.Layer) and layer.parameters()
        assert isinstance(sanas.tokens2arch([0] * 8)[0], paddle.nn.Layer)
