"""Clients in Go, TypeScript and C++: generated code matches the schema, and each example
trainer runs a whole 50-step study against the Python server, heartbeating its trials,
reporting every epoch's progress, stopping the trials the study's rule stops and leaving a
trial whose lease it lost to the trainer that holds it now."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import ROOT

from sanas import Client, errors
from sanas.v1 import sanas_pb2 as pb

sys.path.insert(0, str(ROOT / "tools"))
from gen_clients import generate_all, generated_files

CLIENTS = ROOT / "clients"


def run(args: list[str], cwd: Path, timeout: float = 600) -> str:
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{args}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_committed_client_code_matches_the_schema(tmp_path):
    generate_all(tmp_path)
    fresh, committed = set(generated_files(tmp_path)), set(generated_files(CLIENTS))
    assert fresh == committed, f"generated files differ: {fresh ^ committed}"
    drifted = [
        n for n in sorted(fresh) if (tmp_path / n).read_bytes() != (CLIENTS / n).read_bytes()
    ]
    assert not drifted, f"{drifted} differ from the schema: run `make stubs` and commit"


@pytest.fixture(scope="module")
def go_trainer(tmp_path_factory) -> list[str]:
    binary = tmp_path_factory.mktemp("go") / "trainer"
    run(["go", "vet", "./..."], CLIENTS / "go")
    run(["go", "build", "-o", str(binary), "./cmd/trainer"], CLIENTS / "go")
    return [str(binary), "--addr"]


@pytest.fixture(scope="module")
def ts_trainer() -> list[str]:
    run(["npm", "run", "--silent", "build"], CLIENTS / "ts")
    return ["node", str(CLIENTS / "ts" / "dist" / "trainer.js"), "--addr"]


@pytest.fixture(scope="module")
def cpp_trainer(tmp_path_factory) -> list[str]:
    build = tmp_path_factory.mktemp("cpp")
    run(
        ["cmake", "-S", str(CLIENTS / "cpp"), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release"], build
    )
    run(["cmake", "--build", str(build), "-j", "2"], build)
    return [str(build / "sanas_trainer"), "--addr"]


@pytest.mark.parametrize("language", ["go", "ts", "cpp"])
def test_example_trainer_completes_a_50_step_study(language, request, server, client):
    command = request.getfixturevalue(f"{language}_trainer")
    study_id = f"{language}-study"

    def trainer(steps: int) -> subprocess.CompletedProcess:
        args = [*command, server.address, "--study", study_id, "--steps", str(steps)]
        return subprocess.run(args, capture_output=True, text=True, timeout=120)

    first = trainer(50)
    assert first.returncode == 0, first.stderr
    study = client.get_study(study_id)
    assert study.trial_counts.succeeded == 50 and study.state == pb.STUDY_STATE_COMPLETED
    printed = re.search(
        r"completed 50 trials; study STUDY_STATE_COMPLETED: best reward (\S+),", first.stdout
    )
    assert printed and float(printed.group(1)) == study.best_reward, first.stdout
    trials = list(client.list_trials(study_id))
    assert {t.client_id for t in trials} == {f"{language}-trainer"}
    # Five epochs by default, each reported; the reward is the last epoch's value.
    for t in trials:
        assert [m.step for m in t.measurements] == [1, 2, 3, 4, 5] and t.max_step == 5, t
        assert t.reward == t.measurements[-1].value
    assert re.search(r"^stopped early: 0 trials, 0 epochs saved$", first.stdout, re.M)
    # Run again: the study is spent; the example recognises BUDGET_EXHAUSTED and exits 0.
    again = trainer(50)
    assert again.returncode == 0 and again.stdout.startswith("completed 0 trials"), again.stderr
    # A different config for the same study id is a precise ALREADY_EXISTS.
    conflict = trainer(7)
    assert conflict.returncode != 0 and "exists with another config" in conflict.stderr


SLOW_LEASE = 1.5
# Longer than the lease by more than the two trainers' start skew (and by three beats).
SLOW_TRAIN = 2.5


@pytest.mark.parametrize("language", ["go", "ts", "cpp"])
def test_example_trainers_heartbeat_through_training_longer_than_the_lease(
    language, request, server, client
):
    command = request.getfixturevalue(f"{language}_trainer")
    study_id = f"{language}-slow"
    # Two trainers at once: when one reports, the other's trial is past its lease unless
    # heartbeats renewed it, and the reporter's suggest_next would be handed that trial.
    args = ["--study", study_id, "--steps", "4", "--lease-seconds", str(SLOW_LEASE)]
    args += ["--train-seconds", str(SLOW_TRAIN)]
    trainers = [
        subprocess.Popen(
            [*command, server.address, *args, "--client-id", f"{language}-{i}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    # While they train: how far past its issue each running trial's lease has been renewed
    # (the controller shows a lease only while the trial runs).
    renewed: dict[int, float] = {}
    while any(p.poll() is None for p in trainers):
        try:
            running = list(client.list_trials(study_id, state=pb.TRIAL_STATE_ACTIVE))
        except errors.StudyNotFoundError:
            running = []  # not created yet
        for t in running:
            held = (t.lease_expire_time.ToNanoseconds() - t.create_time.ToNanoseconds()) / 1e9
            renewed[t.trial_id] = max(renewed.get(t.trial_id, 0.0), held)
        time.sleep(0.1)
    outputs = [p.communicate(timeout=60) for p in trainers]
    for p, (_, err) in zip(trainers, outputs, strict=True):
        assert p.returncode == 0 and "heartbeat" not in err, err  # no beat failed
    study = client.get_study(study_id)
    assert study.config.lease_duration.ToNanoseconds() == SLOW_LEASE * 1e9  # read by the trainers
    assert study.trial_counts.succeeded == 4 and study.lease_expirations == 0
    trials = list(client.list_trials(study_id))
    assert [t.issue_count for t in trials] == [1, 1, 1, 1]  # each trial issued once
    assert {t.client_id for t in trials} == {f"{language}-0", f"{language}-1"}
    # Without heartbeats a lease ends exactly one lease after issue.
    assert sorted(renewed) == [0, 1, 2, 3] and min(renewed.values()) > SLOW_LEASE + 1.0, renewed
    done = [re.match(r"completed (\d+) trials", out) for out, _ in outputs]
    assert sum(int(m.group(1)) for m in done if m) == 4, outputs  # no trial reported twice


def test_toolchains_are_present():
    # make tools installs these; a missing one must fail loudly, not skip.
    for tool in ("go", "node", "cmake", "protoc", "grpc_cpp_plugin"):
        assert shutil.which(tool), f"{tool} not found: run `make tools`"


def test_every_system_file_the_tools_rely_on_is_installed():
    # Checks the files themselves (pkg-config modules, protobuf's .proto includes), not
    # just a few commands: libgrpc++-dev without libprotobuf-dev once passed as installed.
    check = subprocess.run(
        ["bash", str(ROOT / "tools" / "system_deps.sh"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert check.returncode == 0, check.stderr


@pytest.mark.parametrize("language", ["go", "ts", "cpp"])
def test_example_trainers_report_progress_and_stop_early(language, request, server, client):
    command = request.getfixturevalue(f"{language}_trainer")
    study_id = f"{language}-curves"
    args = [*command, server.address, "--study", study_id, "--steps", "30"]
    args += ["--epochs", "4", "--median-stop-start", "1"]
    done = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    study = client.get_study(study_id)
    assert study.config.early_stopping.median.start_step == 1
    assert study.state == pb.STUDY_STATE_COMPLETED and study.trial_counts.stopped > 0
    trials = list(client.list_trials(study_id))
    assert len(trials) == 30 and {t.client_id for t in trials} == {f"{language}-trainer"}
    for t in trials:
        steps = [m.step for m in t.measurements]
        assert steps == list(range(1, len(steps) + 1)) and t.max_step == 4, t
        if t.state == pb.TRIAL_STATE_STOPPED:
            assert len(steps) < 4 and "median rule" in t.stop_reason, t
        else:
            assert t.state == pb.TRIAL_STATE_SUCCEEDED and len(steps) == 4, t
            assert not t.stop_reason
        # The last epoch's value: what a SUCCEEDED trial was completed with, and what a
        # STOPPED one holds (the trainer's CompleteTrial after the stop changed nothing).
        assert t.reward == t.measurements[-1].value, t
    # Each stop printed as it happened, with the epoch it came after and the reason.
    stops = re.findall(r"^trial (\d+) stopped after epoch (\d+) of 4: (.+)$", done.stdout, re.M)
    assert stops == [
        (str(t.trial_id), str(len(t.measurements)), t.stop_reason)
        for t in trials
        if t.state == pb.TRIAL_STATE_STOPPED
    ], done.stdout
    printed = re.search(r"^stopped early: (\d+) trials, (\d+) epochs saved$", done.stdout, re.M)
    assert printed, done.stdout
    assert int(printed.group(1)) == study.trial_counts.stopped
    assert int(printed.group(2)) == study.steps_saved > 0
    assert re.search(r"^completed 30 trials; ", done.stdout, re.M), done.stdout


@pytest.mark.parametrize("thief_completes", [False, True], ids=["not-held", "completed"])
@pytest.mark.parametrize("language", ["go", "ts", "cpp"])
def test_example_trainers_leave_a_trial_whose_lease_they_lost(
    language, thief_completes, request, server, client
):
    """A trainer paused past its lease (SIGSTOP) finds its trial held by another trainer
    (TRIAL_NOT_HELD) or already completed by it (TRIAL_ALREADY_COMPLETED) at its next
    progress report: it leaves the trial, asks for a new one and finishes the study."""
    command = request.getfixturevalue(f"{language}_trainer")
    study_id = f"{language}-lost-{int(thief_completes)}"
    args = [*command, server.address, "--study", study_id, "--steps", "3", "--epochs", "4"]
    args += ["--lease-seconds", "1", "--train-seconds", "1.2", "--client-id", "paused"]
    trainer = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        trial = None
        while (trial is None or not trial.measurements) and trainer.poll() is None:
            assert time.monotonic() < deadline  # trial 0 trains: wait for its first epoch
            time.sleep(0.02)
            try:
                trial = next(iter(client.list_trials(study_id)), None)
            except errors.StudyNotFoundError:
                pass
        assert trainer.poll() is None, trainer.communicate()
        trainer.send_signal(signal.SIGSTOP)  # no more beats: its lease runs out
        while True:  # until it has: a beat sent just before the stop may still renew it
            lease = next(iter(client.list_trials(study_id))).lease_expire_time
            wait = lease.ToNanoseconds() / 1e9 - time.time()
            if wait < -0.05:
                break
            time.sleep(wait + 0.1)
        with Client(server.address, client_id="thief", timeout=10) as thief:
            stolen = thief.suggest_trial(study_id)
            assert stolen.trial_id == 0 and stolen.issue_count == 2 and stolen.client_id == "thief"
            if thief_completes:
                thief.complete_trial(study_id, 0, -100.0)
            trainer.send_signal(signal.SIGCONT)
            if not thief_completes:
                # Hold trial 0 until the trainer has moved on to a new one, then complete it.
                while len(list(client.list_trials(study_id))) < 2 and trainer.poll() is None:
                    assert time.monotonic() < deadline
                    thief.heartbeat_trial(study_id, 0)
                    time.sleep(0.1)
                thief.complete_trial(study_id, 0, -100.0)
        out, err = trainer.communicate(timeout=30)
    finally:
        trainer.send_signal(signal.SIGCONT)
        if trainer.poll() is None:
            trainer.kill()
        trainer.wait(timeout=10)
    assert trainer.returncode == 0, err
    reason = "TRIAL_ALREADY_COMPLETED" if thief_completes else "TRIAL_NOT_HELD"
    assert f"trial 0: left to another trainer (ERROR_REASON_{reason})" in err, err
    assert re.search(r"^completed 2 trials; study STUDY_STATE_COMPLETED", out, re.M), out
    trials = list(client.list_trials(study_id))
    assert [(t.trial_id, t.client_id, t.issue_count) for t in trials] == [
        (0, "thief", 2),
        (1, "paused", 1),
        (2, "paused", 1),
    ]
    assert [t.state for t in trials] == [pb.TRIAL_STATE_SUCCEEDED] * 3
    assert trials[0].reward == -100.0 and not trials[0].measurements  # a new issue's curve
    assert [[m.step for m in t.measurements] for t in trials[1:]] == [[1, 2, 3, 4]] * 2
