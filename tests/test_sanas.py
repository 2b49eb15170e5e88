"""`SANAS`, PaddleSlim's documented API, with real Paddle networks and a real server."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import paddle
import pytest
from helpers import checkout_env

from sanas import SANAS, Client, errors

MNV2 = [("MobileNetV2Space")]  # the document's form: a list holding a bare string
LOOPBACK = ("127.0.0.1", 0)


def param_count(archs) -> int:
    return sum(int(np.prod(p.shape)) for a in archs for p in a.parameters())


def test_full_300_step_search_with_real_networks(tmp_path):
    # Reward: closeness to a parameter budget, read off the built network itself.
    target = 400_000
    with SANAS(MNV2, server_addr=LOOPBACK, save_checkpoint=str(tmp_path), seed=3) as nas:
        assert nas.current_info() == {
            "best_tokens": None,
            "best_reward": -1,
            "current_tokens": [
                4,
                4,
                5,
                1,
                0,
                4,
                4,
                2,
                0,
                4,
                4,
                3,
                0,
                4,
                5,
                2,
                0,
                4,
                7,
                2,
                0,
                4,
                9,
                0,
                0,
            ],
        }
        rewards = []
        for _ in range(300):
            archs = nas.next_archs()
            assert len(archs) == 1 and isinstance(archs[0], paddle.nn.Layer)
            score = -abs(param_count(archs) - target) / target
            assert nas.reward(score) is True
            rewards.append(score)
        with pytest.raises(errors.SearchFinished, match="all 300 trials"):
            nas.next_archs()
        info = nas.current_info()
        assert info["best_reward"] == max(rewards)
        rebuilt = param_count(nas.tokens2arch(info["best_tokens"]))
        assert -abs(rebuilt - target) / target == info["best_reward"]
        with Client(nas.address) as c:
            trials = list(c.list_trials(nas.study_id))
        assert len({tuple(t.tokens) for t in trials}) == 300  # never a repeat
        assert max(rewards) > rewards[0]  # the search improved on its start


def test_document_example_in_dynamic_mode(tmp_path):
    with SANAS(MNV2, server_addr=LOOPBACK, save_checkpoint=str(tmp_path)) as nas:
        x = paddle.randn([2, 3, 32, 32])
        for arch in nas.next_archs():
            x = arch(x)
        assert x.shape == [2, 1280, 1, 1]
        out = nas.tokens2arch([0] * 25)[0](paddle.randn([1, 3, 32, 32]))
        assert out.shape == [1, 1280, 1, 1]


def test_document_example_in_a_static_program(tmp_path):
    nas = SANAS(MNV2, server_addr=LOOPBACK, save_checkpoint=str(tmp_path))
    paddle.enable_static()
    try:
        main, startup = paddle.static.Program(), paddle.static.Program()
        with paddle.static.program_guard(main, startup):
            input = paddle.static.data(name="input", shape=[None, 3, 32, 32], dtype="float32")
            for arch in nas.next_archs():
                output = arch(input)
                input = output
        exe = paddle.static.Executor(paddle.CPUPlace())
        exe.run(startup)
        feed = {"input": np.random.rand(2, 3, 32, 32).astype("float32")}
        (a,) = exe.run(main, feed=feed, fetch_list=[output])
        assert a.shape == (2, 1280, 1, 1)
        # Another network of the space: its own programs, since both use PaddleSlim's
        # parameter names (the same startup program refuses the second, saying why).
        with (
            paddle.static.program_guard(main, startup),
            pytest.raises(ValueError, match="cannot share a startup program"),
        ):
            nas.tokens2arch([0] * 25)[0](paddle.static.data("x1", [None, 3, 32, 32], "float32"))
        other, other_startup = paddle.static.Program(), paddle.static.Program()
        with paddle.static.program_guard(other, other_startup):
            x0 = paddle.static.data(name="x0", shape=[None, 3, 32, 32], dtype="float32")
            tokens_out = nas.tokens2arch([0] * 25)[0](x0)
        exe.run(other_startup)
        feed = {"x0": np.random.rand(3, 3, 32, 32).astype("float32")}
        (b,) = exe.run(other, feed=feed, fetch_list=[tokens_out])
        assert b.shape == (3, 1280, 1, 1)
        assert nas.reward(1.0) is True
    finally:
        paddle.disable_static()
        nas.close()


def test_port_zero_means_a_free_port_that_the_client_really_uses(tmp_path):
    with SANAS(MNV2, server_addr=("127.0.0.1", 0), save_checkpoint=None) as nas:
        host, port = nas.address.rsplit(":", 1)
        assert host == "127.0.0.1" and int(port) > 0
        # A second trainer joins the same study on that port.
        worker = SANAS(MNV2, server_addr=(host, int(port)), is_server=False, save_checkpoint=None)
        worker.next_archs()
        worker.reward(0.5)
        assert nas.current_info()["best_reward"] == 0.5
        worker.close()


def test_errors_are_clear(tmp_path):
    with pytest.raises(errors.InvalidArgumentError, match="unknown search space key 'Nope'"):
        SANAS(["Nope"], server_addr=LOOPBACK, save_checkpoint=None)
    with pytest.raises(errors.InvalidArgumentError, match="init_tokens has 3 tokens"):
        SANAS(MNV2, server_addr=LOOPBACK, save_checkpoint=None, init_tokens=[0, 0, 0])
    with SANAS(MNV2, server_addr=LOOPBACK, save_checkpoint=None) as nas:
        with pytest.raises(RuntimeError, match="call next_archs"):
            nas.reward(1.0)
        nas.next_archs()
        with pytest.raises(errors.InvalidArgumentError, match="not a finite number"):
            nas.reward(float("nan"))
        with pytest.raises(errors.InvalidArgumentError, match=r"tokens\[0\] = 99"):
            nas.tokens2arch([99] + [0] * 24)
    with pytest.raises(errors.ControllerUnavailableError, match="no sanas controller"):
        SANAS(MNV2, server_addr=("127.0.0.1", 1), is_server=False, save_checkpoint=None)


def test_load_checkpoint_resumes_the_study(tmp_path):
    with SANAS(MNV2, server_addr=LOOPBACK, save_checkpoint=str(tmp_path), search_steps=10) as a:
        for score in (0.1, 0.9, 0.3):
            a.next_archs()
            last = a.current_tokens()
            a.reward(score)
        info = a.current_info()
        assert info["current_tokens"] == last  # PaddleSlim's: the candidate just proposed
        with Client(a.address) as c:
            base = list(c.get_study("sanas").current_tokens)
    with SANAS(MNV2, server_addr=LOOPBACK, load_checkpoint=str(tmp_path), search_steps=10) as b:
        # As PaddleSlim's restored controller: the best as before, and the annealer's
        # base as the current tokens until this run's first next_archs().
        assert b.current_info() == {**info, "current_tokens": base}
        with Client(b.address) as c:
            assert c.get_study("sanas").budget_remaining == 7


def test_load_checkpoint_imports_a_paddleslim_checkpoint(tmp_path):
    legacy = tmp_path / "nas_checkpoint"
    legacy.mkdir()
    start = [4, 4, 5, 1, 0, 4, 4, 2, 0, 4, 4, 3, 0, 4, 5, 2, 0, 4, 7, 2, 0, 4, 9, 0, 0]
    better = [*start[:-1], 1]
    (legacy / "sanas.checkpoints").write_text(
        json.dumps(
            {
                "_range_table": [
                    7,
                    5,
                    8,
                    6,
                    2,
                    5,
                    8,
                    6,
                    2,
                    5,
                    8,
                    6,
                    2,
                    5,
                    10,
                    6,
                    2,
                    5,
                    10,
                    6,
                    2,
                    5,
                    12,
                    6,
                    2,
                ],
                "_tokens": better,
                "_reward": 0.8,
                "_max_reward": 0.8,
                "_best_tokens": better,
                "_iter": 2,
                "_searched": {json.dumps(start): 0.5, json.dumps(better): 0.8},
            }
        )
    )
    with SANAS(MNV2, server_addr=LOOPBACK, load_checkpoint=str(legacy), search_steps=20) as nas:
        info = nas.current_info()
        assert info["best_tokens"] == better and info["best_reward"] == 0.8
        archs = nas.next_archs()
        assert nas.current_tokens() not in (start, better) and len(archs) == 1


def test_import_sanas_and_the_server_never_import_paddle():
    code = (
        "import sys, sanas, sanas.spaces\n"
        # sanas.analysis imports paddle only when flops() is called.
        "from sanas.analysis import flops\n"
        "from sanas_server.server import start_server\n"
        "from sanas.study_config import study_config\n"
        "s = start_server('127.0.0.1', 0, None)\n"
        "c = sanas.Client(s.address); c.wait_ready()\n"
        "study = c.create_study('m', study_config(['MobileNetV2Space']))\n"
        "c.suggest_trial('m'); s.stop(1)\n"
        "print(len(study.range_table), 'paddle' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env=checkout_env(),
    )
    assert out.stdout.split() == ["25", "False"]
