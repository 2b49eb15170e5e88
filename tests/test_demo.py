"""A shortened `make demo` end to end: controller, two trainer processes, real training."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import matplotlib.image
from helpers import CHECKOUT_ENV

from sanas_server.spec import DEFAULT_POLICY


def demo(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sanas.demo", *args],
        capture_output=True,
        text=True,
        timeout=600,
        env=CHECKOUT_ENV,
    )


def summary_of(out: Path) -> dict:
    return json.loads((out / "best.json").read_text())


def test_short_demo_runs_end_to_end(tmp_path):
    out = tmp_path / "demo"
    run = demo("--steps", "4", "--epochs", "2", "--out", str(out))
    assert run.returncode == 0, run.stderr[-3000:]
    assert "best test accuracy" in run.stdout
    assert "expected time" in run.stdout and "ETA" in run.stdout
    assert f"proposal policy: {DEFAULT_POLICY}" in run.stdout  # the default, by name
    for noise in ("No ccache found", "we now always track global mean and variance"):
        assert noise not in run.stdout + run.stderr  # Paddle's warnings, trainers' too
    summary = json.loads((out / "best.json").read_text())
    assert summary["trials"] == 4 and 0.5 < summary["best_accuracy"] <= 1.0
    assert summary["trials_this_run"] == 4 and summary["trials_resumed"] == 0
    assert summary["params"] > 0 and len(summary["blocks"]) == 3
    image = matplotlib.image.imread(out / "search.png")
    assert image.shape[0] >= 300 and image.shape[1] >= 600
    assert image[..., :3].std() > 0.05  # a drawn plot, not a blank canvas


def write_fake_cifar10(folder, per_batch: int = 40) -> None:
    """A tiny archive in Paddle's CIFAR-10 format (pickled batches in a tar.gz)."""
    import io
    import pickle
    import tarfile

    import numpy as np

    rng = np.random.default_rng(0)

    def batch() -> bytes:
        labels = rng.integers(0, 10, per_batch)
        data = (rng.integers(0, 60, (per_batch, 3072)) + 19 * labels[:, None]).astype("uint8")
        return pickle.dumps({b"data": data, b"labels": labels.tolist()})

    with tarfile.open(folder / "cifar-10-python.tar.gz", "w:gz") as tar:
        for name in ["data_batch_1", "data_batch_2", "test_batch"]:
            payload = batch()
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))


def test_demo_on_cifar10_from_a_local_folder_with_another_space(tmp_path):
    data = tmp_path / "cifar"
    data.mkdir()
    write_fake_cifar10(data)
    out = tmp_path / "demo"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "sanas.demo",
            "--steps",
            "3",
            "--epochs",
            "2",
            "--out",
            str(out),
            "--data-dir",
            str(data),
            "--space",
            "MobileNetV1BlockSpace",
            "--trainers",
            "1",
            "--max-flops",
            "20000000",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=CHECKOUT_ENV,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    summary = json.loads((out / "best.json").read_text())
    assert summary["trials"] == 3 and summary["searched_flops"] <= 20_000_000
    assert 0.0 <= summary["best_accuracy"] <= 1.0
    # The 32x32x3 images really went through: costs are counted at 32x32 after the stem.
    from sanas.spaces import CombinedSpace, SpaceConfig
    from sanas.spaces.cost import network_cost

    space = CombinedSpace.from_configs(
        [SpaceConfig("MobileNetV1BlockSpace", input_size=32, output_size=8, block_num=3)]
    )
    cost = network_cost(space.decode(summary["best_tokens"], 16), 32)
    assert (cost.flops, cost.params) == (summary["searched_flops"], summary["searched_params"])


def test_whole_network_spaces_get_no_stem():
    import argparse

    import paddle

    from sanas.demo import build_model, space_configs
    from sanas.nets import build
    from sanas.spaces import CombinedSpace, SpaceConfig

    args = argparse.Namespace(space="ResNetSpace", data_dir=None, blocks=3)
    assert space_configs(args) == ["ResNetSpace"]
    space = CombinedSpace.from_configs([SpaceConfig("ResNetSpace")])
    archs = space.decode([0] * 8, 1)  # digits have one channel
    model = build_model(build(archs), archs[-1].out_channels, args)
    assert model(paddle.randn([2, 1, 8, 8])).shape == [2, 10]


def test_flags_in_the_equals_form_reach_the_trainers(tmp_path):
    out = tmp_path / "demo"
    run = demo("--steps=2", "--epochs=1", "--seed=3", f"--out={out}")
    assert run.returncode == 0, run.stderr[-3000:]
    assert summary_of(out)["trials"] == 2


def test_trainer_arguments_repeat_every_study_flag():
    from sanas.demo import parse_args, trainer_argv

    flags = ["--steps=7", "--epochs", "3", "--blocks=4", "--space=MobileNetV1BlockSpace"]
    flags += ["--seed", "-2", "--study=s-1", "--max-flops=99", "--data-dir=/d", "--train-limit=5"]
    given = parse_args(flags)
    again = parse_args(["--as-trainer", "0", "--address", "h:1", *trainer_argv(given, 12.5)])
    for flag in ("steps", "epochs", "blocks", "space", "seed", "study", "max_flops", "data_dir"):
        assert getattr(again, flag) == getattr(given, flag), flag
    assert again.train_limit == 5 and again.deadline == 12.5


def test_a_rerun_refuses_resumes_or_starts_fresh(tmp_path):
    out = tmp_path / "demo"
    first = demo("--steps", "2", "--epochs", "1", "--out", str(out))
    assert first.returncode == 0, first.stderr[-3000:]
    written = (out / "best.json").read_text()

    again = demo("--steps", "2", "--epochs", "1", "--out", str(out))
    assert again.returncode == 2
    assert "--resume" in again.stderr and "--fresh" in again.stderr, again.stderr
    assert (out / "best.json").read_text() == written  # the real timing is kept

    resumed = demo("--steps", "2", "--epochs", "1", "--out", str(out), "--resume")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    summary = summary_of(out)
    assert (summary["trials_this_run"], summary["trials_resumed"]) == (0, 2)
    assert "0 trials evaluated in this run, 2 by earlier runs" in resumed.stdout

    other = demo("--steps", "3", "--epochs", "1", "--out", str(out), "--resume")
    assert other.returncode == 2 and "Traceback" not in other.stderr
    assert "--steps 2 (then) vs 3 (now)" in other.stderr, other.stderr
    assert "--fresh" in other.stderr

    fresh = demo("--steps", "3", "--epochs", "1", "--out", str(out), "--fresh")
    assert fresh.returncode == 0, fresh.stderr[-3000:]
    summary = summary_of(out)
    assert (summary["trials"], summary["trials_this_run"], summary["trials_resumed"]) == (3, 3, 0)


def test_a_time_budget_ends_the_search_early_and_says_so(tmp_path):
    out = tmp_path / "demo"
    started = time.monotonic()
    run = demo("--steps", "60", "--epochs", "1", "--time-budget", "25", "--out", str(out))
    elapsed = time.monotonic() - started
    assert run.returncode == 0, run.stderr[-3000:]
    assert elapsed < 25 + 30
    assert "time budget of 25 s spent" in run.stdout and "--resume" in run.stdout, run.stdout
    summary = summary_of(out)
    assert summary["stopped_by_time_budget"] and summary["time_budget"] == 25
    assert 0 < summary["trials_this_run"] < 60 and summary["seconds"] < elapsed


def test_the_demo_stops_weak_trials_early_and_prints_what_it_saved(tmp_path):
    out = tmp_path / "demo"
    run = demo(
        "--steps", "6", "--epochs", "3", "--early-stop-start", "1", "--out", str(out)
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    printed = re.search(
        r"early stopping \(successive halving from epoch 1\): (\d+) of 6 trials stopped, "
        r"(\d+) of 18 epochs saved \((\d+)%\)",
        run.stdout,
    )
    assert printed, run.stdout
    summary = json.loads((out / "best.json").read_text())
    stopped, saved = int(printed.group(1)), int(printed.group(2))
    assert stopped > 0 and (stopped, saved) == (
        summary["trials_stopped_early"],
        summary["epochs_saved"],
    )
    assert saved == 2 * stopped  # rung 1 stops save 2 epochs; the last epoch is never judged
    assert summary["trials"] == 6 - stopped  # the completed ones
    off = demo(
        "--steps", "2", "--epochs", "1", "--early-stop", "none", "--out", str(tmp_path / "o")
    )
    assert "early stopping: off (--early-stop none)" in off.stdout, off.stdout
