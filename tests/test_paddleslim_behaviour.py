"""PaddleSlim's behaviour where its scripts depend on it: MedianStop without a trial, the
trainer loop's end when the server script is gone, a rerun after kill -9 continuing its
own trial, and an evaluation program that never saw the trained weights."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import paddle
import pytest
from helpers import checkout_env

from sanas import SANAS, Client, EvaluationProgramError, SearchFinished
from sanas.early_stop import MedianStop

LOOPBACK = ("127.0.0.1", 0)
CUSTOM = [("custom", {"range_table": [6, 6, 6]})]
BLOCKS = [("MobileNetV2BlockSpace", {"block_mask": [1]})]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_median_stop_without_a_trial_judges_this_process_curves(caplog):
    """PaddleSlim's test and API document call get_status before any next_archs(), with
    the same steps again: it answers (PaddleSlim's fallback rule) and says why."""
    with SANAS(CUSTOM, server_addr=LOOPBACK, save_checkpoint=None) as nas:
        stop = MedianStop(nas, 2)
        caplog.set_level(logging.WARNING, logger="sanas.early_stop")
        assert [stop.get_status(step, 1.0, 5) for step in range(5)] == ["GOOD"] * 5
        assert "no trial is held" in caplog.text
        # Second epoch of each step: 0.5 against the others' 0.5 (lower median) is GOOD;
        # a curve that falls below the median of its epoch is BAD.
        assert stop.get_status(0, 0.5, 5) == "GOOD"
        assert stop.get_status(1, 0.5, 5) == "GOOD"
        assert stop.get_status(2, 0.1, 5) == "BAD"
        minimizing = MedianStop(nas, 1, mode="minimize")
        assert [minimizing.get_status(s, v, 3) for s, v in ((0, 1.0), (1, 2.0), (2, 9.0))] == [
            "GOOD",
            "GOOD",
            "BAD",
        ]
        with Client(nas.address) as c:  # nothing reached the controller
            assert list(c.list_trials("sanas")) == []


def test_median_stop_a_new_step_on_a_held_trial_starts_a_local_curve(caplog):
    with SANAS(CUSTOM, server_addr=LOOPBACK, save_checkpoint=None) as nas:
        stop = MedianStop(nas, 1)
        nas.next_archs()
        assert stop.get_status(7, 0.4, 3) == "GOOD"  # reported: the trial's curve
        caplog.set_level(logging.WARNING, logger="sanas.early_stop")
        assert stop.get_status(8, 0.3, 3) in ("GOOD", "BAD")  # another curve: local
        assert "a new step is a new curve" in caplog.text
        with Client(nas.address) as c:
            (trial,) = c.list_trials("sanas")
        assert [(m.step, m.value) for m in trial.measurements] == [(1, 0.4)]


SERVER_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from sanas import SANAS
    port, folder, steps = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    nas = SANAS([("custom", {"range_table": [6, 6, 6]})], server_addr=("127.0.0.1", port),
                save_checkpoint=folder, search_steps=steps, seed=5)
    nas.next_archs()
    print("holding", nas.current_info()["current_tokens"], flush=True)
    if sys.argv[4] == "hold":
        time.sleep(600)  # killed here
    nas.reward(1.0)
    print("done", flush=True)
    """
)


def test_a_rerun_after_kill_9_continues_its_own_trial_at_once(tmp_path):
    """A single-trainer server script killed while training; run again over its folder,
    it gets the same trial back at once instead of waiting a 60 s lease for it."""
    script = tmp_path / "search.py"
    script.write_text(SERVER_SCRIPT)
    folder = str(tmp_path / "ckpt")
    proc = subprocess.Popen(
        [sys.executable, str(script), str(free_port()), folder, "3", "hold"],
        env=checkout_env(),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("holding"), line
        held = [int(v) for v in line.split("[", 1)[1].rstrip("]\n").split(",")]
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        proc.kill()
    started = time.monotonic()
    with SANAS(CUSTOM, server_addr=LOOPBACK, save_checkpoint=folder, search_steps=3) as again:
        again.next_archs()
        assert again.current_info()["current_tokens"] == held
        assert time.monotonic() - started < 10  # not a lease
        again.reward(0.5)
        with Client(again.address) as c:
            (trial,) = [t for t in c.list_trials("sanas") if t.state != 1]
            assert list(trial.tokens) == held and trial.issue_count == 1


def test_the_trainer_loop_ends_and_current_info_answers_when_the_server_script_is_gone(
    tmp_path, caplog
):
    """The README's loop: a trainer waits in next_archs() while the server script ends;
    it gets SearchFinished in seconds, and current_info() then answers from the last
    state instead of retrying for 10 minutes."""
    script = tmp_path / "server.py"
    script.write_text(SERVER_SCRIPT)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, str(script), str(port), str(tmp_path / "ckpt"), "2", "go"],
        env=checkout_env(),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout.readline().startswith("holding")
        trainer = SANAS(CUSTOM, server_addr=("127.0.0.1", port), is_server=False)
        trainer.next_archs()  # the second and last trial of the budget
        trainer.reward(2.0)
        assert server.stdout.readline().startswith("done")
        server.wait(timeout=30)  # the server script ended with its search
        caplog.set_level(logging.WARNING, logger="sanas.nas")
        started = time.monotonic()
        with pytest.raises(SearchFinished):
            trainer.next_archs()
        asked = time.monotonic()
        info = trainer.current_info()
        # Found gone by next_archs(): no second wait for it (it took 11 s more before).
        assert time.monotonic() - asked < 2
        assert time.monotonic() - started < 40
        assert info["best_reward"] == 2.0 and "last answer" in caplog.text
        trainer.close()
    finally:
        server.kill()


@pytest.fixture
def static_mode():
    paddle.enable_static()
    try:
        yield
    finally:
        paddle.disable_static()


def test_a_score_from_an_untrained_head_is_refused_and_a_shared_one_accepted(static_mode):
    """PaddleSlim's demos build the evaluation program again under unique_name.guard().
    Under PIR, paddle.static.nn.fc does not restart its names there, so the evaluation
    head is a new fc_N (N depends on what ran before), initialised but never trained:
    reward() says so instead of recording that score. With names that match, the same reward is
    accepted."""
    with SANAS(BLOCKS, server_addr=LOOPBACK, save_checkpoint=None) as nas:
        archs = nas.next_archs()[0]
        startup = paddle.static.Program()

        def build(program, named: bool, train: bool):
            with paddle.static.program_guard(program, startup), paddle.utils.unique_name.guard():
                x = paddle.static.data("x", [None, 3, 8, 8], "float32")
                features = paddle.flatten(archs(x)[0], 1)
                attr = (
                    {
                        "weight_attr": paddle.ParamAttr(name="head_w"),
                        "bias_attr": paddle.ParamAttr(name="head_b"),
                    }
                    if named
                    else {}
                )
                logits = paddle.static.nn.fc(features, 10, **attr)
                if train:
                    paddle.optimizer.SGD(0.1).minimize(logits.mean())

        build(paddle.static.Program(), named=False, train=True)
        build(paddle.static.Program(), named=False, train=False)
        with pytest.raises(EvaluationProgramError, match=r"fc_\d+\.(w|b)_0"):
            nas.reward(0.9)
        assert nas.current_trial_id() is not None  # refused: nothing was sent
        archs = nas.next_archs()[0]  # (skips that trial) the same script, named heads
        startup = paddle.static.Program()
        build(paddle.static.Program(), named=True, train=True)
        build(paddle.static.Program(), named=True, train=False)
        assert nas.reward(0.9) is True
        exe = paddle.static.Executor(paddle.CPUPlace())
        exe.run(startup)
        assert np.isfinite(paddle.static.global_scope().find_var("head_w").get_tensor()).all()
