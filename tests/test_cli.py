"""The `sanas` command, WatchStudy, metrics and progress, against a live server."""

from __future__ import annotations

import csv
import fcntl
import io
import json
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator

import matplotlib.image
import pytest
from helpers import CHECKOUT_ENV, ROOT, SANAS_BIN, custom_config, run_sanas
from prometheus_client.parser import text_string_to_metric_families

from sanas import SANAS, Client
from sanas.study_config import study_config
from sanas.v1 import sanas_pb2 as pb
from sanas_server.server import start_server

BLOCKS = [("MobileNetV2BlockSpace", {"input_size": 16, "output_size": 4, "block_num": 3})]


sanas = run_sanas


def drive(client: Client, study: str, steps: int) -> list[tuple[int, float]]:
    done = []
    for _ in range(steps):
        t = client.suggest_trial(study)
        reward = float(sum(t.tokens)) / 100
        client.complete_trial(study, t.trial_id, reward)
        done.append((t.trial_id, reward))
    return done


@pytest.fixture
def live(server_process):
    server = server_process(extra=("--metrics-port", "0"))
    with (
        Client(server.address, client_id="trainer-a") as a,
        Client(server.address, client_id="trainer-b") as b,
    ):
        a.wait_ready()
        a.create_study("run", study_config(BLOCKS, search_steps=40, seed=7))
        results = drive(a, "run", 20) + drive(b, "run", 10)
        bad = b.suggest_trial("run")
        b.complete_trial("run", bad.trial_id, infeasible=True)
        b.suggest_trial("run")  # left running
        yield server, results


def test_studies_status_and_trials(live, tmp_path):
    server, results = live
    out = sanas(server.address, "studies").stdout
    assert "run" in out and "32/40" in out and "active" in out
    status = sanas(server.address, "status", "run").stdout
    assert "32/40 (8 left)" in status
    assert "32 (1 running, 30 succeeded, 1 infeasible, 0 stopped, 0 skipped)" in status
    assert "trainer-a" in status and "trainer-b" in status
    best = max(r for _, r in results)
    assert f"{best:.6g}" in status
    path = tmp_path / "top.csv"
    sanas(
        server.address,
        "trials",
        "run",
        "--state",
        "succeeded",
        "--sort",
        "reward",
        "--desc",
        "--limit",
        "5",
        "--format",
        "csv",
        "-o",
        str(path),
    )
    rows = list(csv.DictReader(path.open()))
    rewards = [float(r["reward"]) for r in rows]
    assert len(rows) == 5 and rewards == sorted(rewards, reverse=True) and rewards[0] == best
    records = json.loads(sanas(server.address, "trials", "run", "--format", "json").stdout)
    assert [r["trial_id"] for r in records] == list(range(32))
    assert {r["state"] for r in records} == {"succeeded", "infeasible", "active"}
    table = sanas(server.address, "trials", "run", "--state", "active").stdout
    assert "active" in table and "trainer-b" in table and "succeeded" not in table


def test_best_shows_tokens_architecture_flops_and_params(live):
    server, _ = live
    with Client(server.address) as c:
        study = c.get_study("run")
    out = sanas(server.address, "best", "run").stdout
    assert f"tokens {list(study.best_tokens)}" in out
    assert out.count("inverted_residual") == 3 and "stride 2" in out
    import paddle

    from sanas.nets import build
    from sanas.spaces import CombinedSpace, SpaceConfig

    space = CombinedSpace.from_configs([SpaceConfig.from_user(BLOCKS[0])])
    net = paddle.nn.Sequential(*build(space.decode(list(study.best_tokens))))
    params = sum(int(p.numel()) for p in net.parameters())
    assert f"params {params:,}" in out and "FLOPs" in out and "at 16x16" in out


def test_plot_writes_a_real_png(live, tmp_path):
    server, _ = live
    path = tmp_path / "run.png"
    sanas(server.address, "plot", "run", "-o", str(path))
    image = matplotlib.image.imread(path)
    assert image.shape[0] == 800 and image.shape[1] == 900
    rgb = image[..., :3]
    assert rgb.std() > 0.05  # drawn, not blank
    red = (rgb[..., 0] > 0.7) & (rgb[..., 1] < 0.3) & (rgb[..., 2] < 0.3)
    assert red.sum() > 200  # the best-so-far line is there


def test_watch_follows_the_study_to_its_end(live):
    server, _ = live
    watcher = subprocess.Popen(
        [SANAS_BIN, "--address", server.address, "watch", "run"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=CHECKOUT_ENV,
    )
    first = watcher.stdout.readline()
    assert "current_state: 32/40 issued" in first
    with Client(server.address, client_id="trainer-c") as c:
        for t in c.list_trials("run", state=pb.TRIAL_STATE_ACTIVE):
            c.complete_trial("run", t, 9.0)  # a new best (bound to the listed Trial)
        drive(c, "run", 8)
    out, err = watcher.communicate(timeout=60)
    assert watcher.returncode == 0, err
    for kind in ("trial_completed", "new_best", "trial_suggested", "study_completed"):
        assert kind in out, out
    assert "reward 9 (accepted)" in out and "#31 by trainer-b reward 9" in out


def test_watch_from_grpcurl_on_a_finished_study(live):
    server, _ = live
    with Client(server.address) as c:
        for t in c.list_trials("run", state=pb.TRIAL_STATE_ACTIVE):
            c.complete_trial("run", t, 1.0)
        drive(c, "run", 8)
    result = subprocess.run(
        [
            str(ROOT / ".tools" / "bin" / "grpcurl"),
            "-plaintext",
            "-d",
            '{"study_id": "run"}',
            server.address,
            "sanas.v1.ControllerService/WatchStudy",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert '"type": "STUDY_EVENT_TYPE_CURRENT_STATE"' in result.stdout
    assert '"type": "STUDY_EVENT_TYPE_STUDY_COMPLETED"' in result.stdout


def test_metrics_scrape(live):
    server, results = live
    text = urllib.request.urlopen(server.metrics_url, timeout=10).read().decode()
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    assert samples[("sanas_trials", (("state", "succeeded"), ("study", "run")))] == 30
    assert samples[("sanas_trials", (("state", "active"), ("study", "run")))] == 1
    assert samples[("sanas_best_reward", (("study", "run"),))] == max(r for _, r in results)
    accepted = samples[("sanas_moves_total", (("result", "accepted"), ("study", "run")))]
    rejected = samples[("sanas_moves_total", (("result", "rejected"), ("study", "run")))]
    assert accepted + rejected == 30 and accepted >= 1
    assert samples[("sanas_lease_expirations_total", (("study", "run"),))] == 0
    completes = samples[
        ("sanas_rpc_duration_seconds_count", (("code", "OK"), ("method", "CompleteTrial")))
    ]
    assert completes == 31
    assert samples[("sanas_journal_fsync_seconds_count", ())] > 0
    assert ("sanas_temperature", (("study", "run"),)) in samples


def test_import_delete_and_errors(live, tmp_path):
    server, _ = live
    checkpoint = tmp_path / "sanas.checkpoints"
    checkpoint.write_text(
        json.dumps(
            {
                "_range_table": [9, 9, 9],
                "_tokens": [1, 2, 3],
                "_reward": 0.5,
                "_max_reward": 0.5,
                "_best_tokens": [1, 2, 3],
                "_iter": 1,
                "_searched": {"[1, 2, 3]": 0.5},
            }
        )
    )
    out = sanas(
        server.address,
        "import-paddleslim",
        str(checkpoint),
        "--study",
        "old",
        "--search-steps",
        "10",
    ).stdout
    assert "imported 1 results into study 'old': best 0.5, 9 trials left" in out
    sanas(
        server.address,
        "import-paddleslim",
        str(checkpoint),
        "--study",
        "sa-import",
        "--policy",
        "annealer",
    )
    with Client(server.address) as c:
        assert c.get_study("old").config.policy == pb.PROPOSAL_POLICY_MODEL_GUIDED  # default
        assert c.get_study("sa-import").config.policy == pb.PROPOSAL_POLICY_ANNEALER
    refused = sanas(server.address, "delete", "old", check=False)
    assert refused.returncode == 2 and "--yes" in refused.stderr
    sanas(server.address, "delete", "old", "--yes")
    assert "old" not in sanas(server.address, "studies").stdout
    missing = sanas(server.address, "status", "nope", check=False)
    assert missing.returncode == 1 and "no study 'nope'" in missing.stderr


def test_progress_log_and_bar(server, capsys):
    for mode in ("log", "bar"):
        with SANAS(
            BLOCKS,
            server_addr=("127.0.0.1", server.port),
            is_server=False,
            study_id=f"p-{mode}",
            search_steps=3,
            progress=mode,
        ) as nas:
            for score in (0.2, 0.7, 0.4):
                nas.next_archs()
                nas.reward(score)
        err = capsys.readouterr().err
        if mode == "log":
            assert "sanas step 1/3  reward 0.2000  best 0.2000" in err
            assert "sanas step 3/3  reward 0.4000  best 0.7000" in err
        else:
            assert "\r[" in err and "3/3  best 0.7000" in err and err.endswith("\n")
    with pytest.raises(ValueError, match="progress"):
        SANAS(BLOCKS, server_addr=("127.0.0.1", server.port), is_server=False, progress="fancy")


def test_watch_stream_ends_when_the_server_stops(server):
    with Client(server.address) as c:
        c.create_study("w", study_config(BLOCKS, search_steps=5))
        events, errors = [], []

        def follow() -> None:
            try:
                for e in c.watch_study("w"):
                    events.append(e.type)
            except Exception as exc:
                errors.append(exc)

        thread = threading.Thread(target=follow)
        thread.start()
        time.sleep(0.3)
        started = time.monotonic()
        server.stop(grace=10)
        thread.join(10)
    assert time.monotonic() - started < 5  # the open stream did not hold the drain
    assert events == [pb.STUDY_EVENT_TYPE_CURRENT_STATE]
    assert errors and "shutting down" in str(errors[0])


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_without_a_server_it_fails_fast_and_says_what_to_do():
    started = time.monotonic()
    result = sanas(f"127.0.0.1:{free_port()}", "studies", check=False)
    assert time.monotonic() - started < 10
    assert result.returncode == 1
    for hint in ("sanas-server", "make serve", "--address", "SANAS_ADDRESS"):
        assert hint in result.stderr, result.stderr


def test_an_address_without_a_port_gets_the_controllers_default_port():
    from sanas.channel import with_default_port

    assert with_default_port("localhost") == "localhost:8881"
    assert with_default_port("10.0.0.5:9000") == "10.0.0.5:9000"
    assert with_default_port("::1") == "[::1]:8881"
    assert with_default_port("[::1]") == "[::1]:8881"
    assert with_default_port("[::1]:9000") == "[::1]:9000"
    assert with_default_port("unix:/tmp/sanas.sock") == "unix:/tmp/sanas.sock"
    with pytest.raises(ValueError, match="port"):
        with_default_port("localhost:http")
    assert Client("localhost").address == "localhost:8881"
    refused = sanas("localhost:http", "studies", check=False)
    assert refused.returncode == 2 and "HOST:PORT" in refused.stderr
    result = sanas("localhost", "studies", check=False)
    # Port 8881, not gRPC's 443: either a controller there answers or the error names it.
    assert result.returncode == 0 or "localhost:8881" in result.stderr, result.stderr


def test_best_takes_channels_and_size_from_the_study_config(server):
    from sanas.spaces import CombinedSpace, SpaceConfig
    from sanas.spaces.cost import network_cost

    demo_like = [("MobileNetV2BlockSpace", {"input_size": 8, "output_size": 2, "block_num": 3})]
    config = study_config(
        demo_like, search_steps=5, seed=1, constraint_in_channels=16, constraint_input_size=8
    )
    with Client(server.address) as c:
        c.create_study("digits", config)
        drive(c, "digits", 3)
        study = c.get_study("digits")
    result = sanas(server.address, "best", "digits")
    out = result.stdout
    assert "No ccache found" not in result.stderr
    space = CombinedSpace.from_configs([SpaceConfig.from_user(demo_like[0])])
    cost = network_cost(space.decode(list(study.best_tokens), 16), 8)
    assert f"FLOPs {cost.flops:,} at 8x8" in out and "in 16 channels" in out, out


def test_every_argument_has_help_text():
    import argparse

    from sanas.cli import parser

    top = parser()
    commands = next(a for a in top._actions if isinstance(a, argparse._SubParsersAction))
    missing = [
        f"{name} {action.dest}"
        for name, sub in [("sanas", top), *commands.choices.items()]
        for action in sub._actions
        if not isinstance(action, argparse._HelpAction | argparse._SubParsersAction)
        and not action.help
    ]
    assert missing == []


def test_plot_writes_study_png_by_default(live, tmp_path):
    server, _ = live
    result = subprocess.run(
        [SANAS_BIN, "--address", server.address, "plot", "run"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=CHECKOUT_ENV,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "run.png").is_file() and "wrote run.png" in result.stdout


def test_trials_and_plot_show_early_stopped_trials_and_learning_curves(server, tmp_path):
    from sanas.study_config import median_stopping

    with Client(server.address, client_id="curves") as c:
        config = study_config(BLOCKS, search_steps=12, seed=3)
        config.early_stopping.CopyFrom(median_stopping(start_step=1, min_trials=2))
        c.create_study("curves", config)
        for quality in (0.9, 0.8, 0.2, 0.85, 0.1):
            t = c.suggest_trial("curves")
            for epoch in range(1, 6):
                answer = c.report_progress(
                    "curves", t.trial_id, epoch, quality * (1 - 0.5**epoch), max_step=5
                )
                if answer.should_stop:
                    break
            c.complete_trial("curves", t.trial_id, quality * (1 - 0.5**epoch))
    out = sanas(server.address, "trials", "curves", "--state", "stopped").stdout
    rows = [line.split() for line in out.splitlines()[2:]]
    assert [(r[0], r[1], r[3]) for r in rows] == [("2", "stopped", "1/5"), ("4", "stopped", "1/5")]
    listed = json.loads(sanas(server.address, "trials", "curves", "--format", "json").stdout)
    assert [r["last_step"] for r in listed] == [5, 5, 1, 5, 1]
    assert "median rule" in listed[2]["stop_reason"]
    path = tmp_path / "curves.png"
    sanas(server.address, "plot", "curves", "-o", str(path))
    image = matplotlib.image.imread(path)
    assert image.shape[:2] == (1050, 900)  # a fourth panel: the learning curves
    rgb = image[..., :3]
    bottom = rgb[800:]
    red = (bottom[..., 0] > 0.7) & (bottom[..., 1] < 0.3) & (bottom[..., 2] < 0.3)
    assert red.sum() > 10  # the stops are marked


@pytest.fixture
def stopping(server) -> str:
    """A study in every trial state: 5 succeeded (each better than the last, so each
    accepted), 3 stopped early by the median rule, 1 infeasible, 1 running; 10 of 12 issued.
    Returns the controller's address."""
    from sanas.study_config import median_stopping

    with Client(server.address, client_id="stopper") as c:
        config = study_config(BLOCKS, search_steps=12, seed=3)
        config.early_stopping.CopyFrom(median_stopping(start_step=1, min_trials=2))
        c.create_study("stops", config)
        for quality in (0.5, 0.6, 0.1, 0.7, 0.05, 0.8, 0.02, 0.9):
            t = c.suggest_trial("stops")
            for epoch in range(1, 6):
                value = quality * (1 - 0.5**epoch)
                if c.report_progress("stops", t.trial_id, epoch, value, max_step=5).should_stop:
                    break
            c.complete_trial("stops", t.trial_id, value)  # after a stop: changes nothing
        c.complete_trial("stops", c.suggest_trial("stops").trial_id, infeasible=True)
        c.suggest_trial("stops")  # left running
        listed = list(c.list_trials("stops"))
    states = [t.state for t in listed]
    assert states.count(pb.TRIAL_STATE_STOPPED) == 3 and len(listed) == 10
    return server.address


def test_status_counts_every_state_and_adds_up_to_the_trials_issued(stopping):
    status = sanas(stopping, "status", "stops").stdout
    assert "10/12 (2 left)" in status
    assert "10 (1 running, 5 succeeded, 1 infeasible, 3 stopped, 0 skipped)" in status, status


def test_plot_acceptance_counts_a_stopped_trial_as_the_rejected_move_it_is(stopping, tmp_path):
    # In `stopping` every completed trial is accepted and every stopped one is not (the
    # trials' `accepted`), so the acceptance line (window 1 at 8 finished trials) must
    # reach 0 at each stopped trial, as the dashboard's does; it stayed at 1.0 while the
    # plot left stopped trials out.
    with Client(stopping) as c:
        listed = list(c.list_trials("stops"))
    finished = [t for t in listed if t.state in (pb.TRIAL_STATE_SUCCEEDED, pb.TRIAL_STATE_STOPPED)]
    assert [t.accepted for t in finished] == [t.state == pb.TRIAL_STATE_SUCCEEDED for t in finished]
    path = tmp_path / "stops.png"
    sanas(stopping, "plot", "stops", "-o", str(path))
    rgb = matplotlib.image.imread(path)[..., :3]
    tab_green = (44 / 255, 160 / 255, 44 / 255)  # the acceptance line, and only it
    green = (abs(rgb - tab_green) < 0.08).all(axis=-1)
    rows = green.any(axis=1).nonzero()[0]
    assert rows.size and rows.max() - rows.min() > 100, rows  # from 1.0 down to 0.0


@pytest.fixture(scope="module")
def many(tmp_path_factory) -> Iterator[str]:
    """A controller with a finished study of 400 trials of 20 tokens, whose
    `trials --format json` is about 180 KB. Yields the controller's address."""
    running = start_server("127.0.0.1", 0, tmp_path_factory.mktemp("many") / "ckpt")
    with Client(running.address, client_id="many") as c:
        c.create_study("many", custom_config([9] * 20, search_steps=400, seed=1))
        drive(c, "many", 400)
    yield running.address
    running.stop(grace=1)


@pytest.mark.parametrize(
    "unbuffered",
    # Block-buffered stdout, as in a user's shell; unbuffered, as with PYTHONUNBUFFERED=1.
    [False, True],
    ids=["buffered", "unbuffered"],
)
@pytest.mark.parametrize(
    ("args", "lines_read"),
    [
        # `sanas trials many --format json | head -n 1`: the reader goes away while the
        # CLI is still writing more than the pipe holds.
        (("trials", "many", "--format", "json"), 1),
        # Closed before anything was read: the write fails when the output is printed,
        # or when stdout's buffer is flushed at the end.
        (("status", "many"), 0),
        (("studies",), 0),
        # watch flushes each line: the write fails inside the command.
        (("watch", "many"), 0),
    ],
    ids=["trials", "status", "studies", "watch"],
)
def test_a_closed_pipe_ends_every_command_quietly(many, args, lines_read, unbuffered):
    env = {k: v for k, v in CHECKOUT_ENV.items() if k != "PYTHONUNBUFFERED"}
    if unbuffered:
        env["PYTHONUNBUFFERED"] = "1"
    proc = subprocess.Popen(
        [SANAS_BIN, "--address", many, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    if lines_read:
        full = sanas(many, *args).stdout.encode()
        # More than the pipe and the reader's and writer's buffers hold: the CLI cannot have
        # written it all before the pipe closes.
        held = fcntl.fcntl(proc.stdout.fileno(), fcntl.F_GETPIPE_SZ) + 2 * io.DEFAULT_BUFFER_SIZE
        assert len(full) > 2 * held
        for _ in range(lines_read):
            assert proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.wait(timeout=60)
    assert err == "" and proc.returncode in (0, 141), (proc.returncode, err)
