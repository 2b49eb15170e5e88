"""Clients in Go, TypeScript and C++: generated code matches the schema, and each example
trainer runs a whole 50-step study against the Python server, heartbeating its trials,
reporting every epoch's progress, stopping the trials the study's rule stops, leaving a
trial whose lease it lost to the trainer that holds it now, dropping a trial whose study
was created again, retrying lost answers under one request id, and riding through a
controller outage."""

from __future__ import annotations

import collections
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from concurrent import futures
from pathlib import Path

import grpc
import pytest
from helpers import ROOT, wait_until

from sanas import Client, errors
from sanas.v1 import sanas_pb2 as pb
from sanas.v1 import sanas_pb2_grpc
from sanas_server.controller import Controller
from sanas_server.service import ControllerServicer
from sanas_server.storage import MemoryStorage

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


class LoseEveryOtherAnswer(grpc.ServerInterceptor):
    """Runs every SuggestTrial and CompleteTrial, but answers the first, third, ... of each
    client with UNAVAILABLE, as if the answer was lost on the way back: the trial is
    issued, or the result recorded, and the trainer does not know. Records the request_id
    of every call, per client."""

    METHODS = ("SuggestTrial", "CompleteTrial")

    def __init__(self) -> None:
        self.request_ids: dict[tuple[str, str], list[str]] = collections.defaultdict(list)
        self._lock = threading.Lock()

    def intercept_service(self, continuation, details):
        handler = continuation(details)
        method = details.method.rsplit("/", 1)[-1]
        if handler is None or method not in self.METHODS:
            return handler
        serve = handler.unary_unary

        def lossy(request, context):
            with self._lock:
                seen = self.request_ids[(method, request.client_id)]
                seen.append(request.request_id)
                lose = len(seen) % 2 == 1
            answer = serve(request, context)  # done and durable, whatever the trainer hears
            if lose:
                context.abort(grpc.StatusCode.UNAVAILABLE, "injected: the answer was lost")
            return answer

        return grpc.unary_unary_rpc_method_handler(
            lossy,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


@pytest.mark.parametrize("language", ["go", "ts", "cpp"])
def test_example_trainers_retry_with_one_request_id_so_a_lost_answer_issues_nothing_twice(
    language, request
):
    command = request.getfixturevalue(f"{language}_trainer")
    lossy = LoseEveryOtherAnswer()
    server = grpc.server(futures.ThreadPoolExecutor(8), interceptors=[lossy])
    controller = Controller(MemoryStorage())
    sanas_pb2_grpc.add_ControllerServiceServicer_to_server(ControllerServicer(controller), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        args = [*command, f"127.0.0.1:{port}", "--study", "lossy", "--steps", "5"]
        done = subprocess.run(
            [*args, "--epochs", "1", "--client-id", language],
            capture_output=True,
            text=True,
            timeout=120,
        )
        trials, _, _ = controller.list_trials("lossy", 100, "", None)
    finally:
        server.stop(1)
    assert done.returncode == 0, done.stderr
    assert re.search(r"^completed 5 trials; study STUDY_STATE_COMPLETED", done.stdout, re.M)
    # One trial per suggest: the budget went to trials the trainer trained, each issued
    # once and completed with its reward (no orphan waits for a lease).
    assert [(t.trial_id, t.issues, t.state.value) for t in trials] == [
        (i, 1, "SUCCEEDED") for i in range(5)
    ]
    # Every lost answer was retried under the same request id, and only then a new one.
    for method in LoseEveryOtherAnswer.METHODS:
        ids = lossy.request_ids[(method, language)]
        assert ids and len(ids) % 2 == 0, (method, ids)
        lost, retried = ids[0::2], ids[1::2]
        assert lost == retried and all(lost), (method, ids)
        assert len(set(lost)) == len(lost), (method, ids)  # a new id per logical call
    waits = re.findall(r"warning: (\w+): controller unavailable", done.stderr)
    assert sorted(set(waits)) == ["CompleteTrial", "SuggestTrial"], done.stderr


# Longer than the ~26 s (8 attempts, backoff from 0.1 s doubling) after which the example
# trainers gave up before they retried for as long as the Python client (600 s).
OUTAGE = 30.0


def test_example_trainers_ride_through_a_controller_outage(request, server_process):
    """All three trainers at once against one controller, killed mid-trial and started
    again on the same port after OUTAGE seconds: each finishes its study."""
    commands = {lang: request.getfixturevalue(f"{lang}_trainer") for lang in ("go", "ts", "cpp")}
    server = server_process()
    port = int(server.address.rsplit(":", 1)[1])
    flags = ["--steps", "3", "--epochs", "2", "--train-seconds", "2", "--lease-seconds", "30"]
    trainers = {
        lang: subprocess.Popen(
            [*command, server.address, "--study", f"{lang}-outage", *flags, "--client-id", lang],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for lang, command in commands.items()
    }
    try:
        with Client(server.address, timeout=10) as c:

            def training(study_id: str) -> bool:
                try:
                    return any(t.measurements for t in c.list_trials(study_id))
                except errors.StudyNotFoundError:
                    return False

            wait_until(lambda: all(training(f"{lang}-outage") for lang in trainers), 60)
        server.kill9()
        time.sleep(OUTAGE)
        assert all(p.poll() is None for p in trainers.values())  # still retrying
        server = server_process(port=port)  # the same folder and port
        outputs = {lang: p.communicate(timeout=120) for lang, p in trainers.items()}
    finally:
        for p in trainers.values():
            if p.poll() is None:
                p.kill()
                p.wait(timeout=10)
    with Client(server.address, timeout=10) as c:
        for lang, (out, err) in outputs.items():
            assert trainers[lang].returncode == 0, (lang, err)
            assert re.search(r"^completed 3 trials; study STUDY_STATE_COMPLETED", out, re.M), out
            # Each wait on the dead controller was logged as a warning.
            assert re.search(r"warning: \w+: controller unavailable", err), (lang, err)
            trials = list(c.list_trials(f"{lang}-outage"))
            assert [(t.state, t.issue_count, t.client_id) for t in trials] == [
                (pb.TRIAL_STATE_SUCCEEDED, 1, lang)
            ] * 3


@pytest.mark.parametrize("language", ["go", "ts", "cpp"])
def test_example_trainers_drop_a_trial_whose_study_was_created_again(
    language, request, server, client
):
    """The study is deleted and created again while a trainer is paused mid-trial: its
    next report is refused as stale, and it drops that trial and trains the new study's
    trials instead of reporting into them."""
    command = request.getfixturevalue(f"{language}_trainer")
    study_id = f"{language}-again"
    args = [*command, server.address, "--study", study_id, "--steps", "2", "--epochs", "3"]
    args += ["--train-seconds", "1.5", "--lease-seconds", "30", "--client-id", "t"]
    trainer = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:

        def first_epoch_reported() -> bool:
            try:
                return any(t.measurements for t in client.list_trials(study_id))
            except errors.StudyNotFoundError:
                return False

        wait_until(first_epoch_reported, 30)
        trainer.send_signal(signal.SIGSTOP)
        config = client.get_study(study_id).config
        client.delete_study(study_id, purge=True)
        client.create_study(study_id, config)
        trainer.send_signal(signal.SIGCONT)
        out, err = trainer.communicate(timeout=60)
    finally:
        trainer.send_signal(signal.SIGCONT)
        if trainer.poll() is None:
            trainer.kill()
        trainer.wait(timeout=10)
    assert trainer.returncode == 0, err
    assert re.search(
        rf"trial 0: dropped, the study no longer has it \(ERROR_REASON_STALE_TRIAL\): "
        rf"study '{study_id}' was created again since trial 0 was issued",
        err,
    ), err
    assert re.search(r"^completed 2 trials; study STUDY_STATE_COMPLETED", out, re.M), out
    # The new study's trials are its own: whole curves, none of the old trial's epochs.
    trials = list(client.list_trials(study_id))
    assert [(t.trial_id, t.state, t.client_id) for t in trials] == [
        (0, pb.TRIAL_STATE_SUCCEEDED, "t"),
        (1, pb.TRIAL_STATE_SUCCEEDED, "t"),
    ]
    assert [[m.step for m in t.measurements] for t in trials] == [[1, 2, 3]] * 2
