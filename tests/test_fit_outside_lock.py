"""A model-guided study's fit runs outside the study's lock (issue 23, "Cost"): a held fit
blocks no other trainer's calls, a fit overtaken by results is retried a bounded number
of times, the journal replays without refitting, fitting outside or inline proposes the
same, and a crash during a CompleteTrial's fit loses nothing (real kill -9)."""

from __future__ import annotations

import heapq
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
from helpers import ServerProcess, checkout_env, custom_config

from sanas import Client
from sanas.spaces import SpaceConfig
from sanas.v1 import sanas_pb2 as pb
from sanas.v1 import sanas_pb2_grpc
from sanas_server.controller import FIT_ATTEMPTS, Controller
from sanas_server.errors import ControllerError
from sanas_server.guided import MIN_RESULTS, GuidedAnnealer, SurrogateFit
from sanas_server.server import RunningServer, start_server
from sanas_server.spec import StudyRequest, StudySpec
from sanas_server.storage import FileStorage
from sanas_server.study import Study

TABLE = [9, 9, 9, 9, 9, 9]
STUDY = "g"
# A call blocked behind a held fit fails the test in seconds (no retries for minutes).
CALL = {"timeout": 5.0, "retry_timeout": 0.0}


def reward(tokens: Any) -> float:
    return -float(sum((t - 3) ** 2 for t in tokens))


class Fits:
    """SurrogateFit.run patched: counts runs; `hold()` makes the next run wait for
    `release`; `during` (when set) is called by every run before it returns."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.runs = 0
        self.entered = threading.Event()
        self.release = threading.Event()
        self.during: Callable[[], None] | None = None
        self._hold = False
        self._lock = threading.Lock()
        original = SurrogateFit.run

        def run(job: SurrogateFit) -> Any:
            with self._lock:
                self.runs += 1
                hold, self._hold = self._hold, False
            if hold:
                self.entered.set()
                assert self.release.wait(60), "the test never released the held fit"
            if self.during is not None:
                self.during()
            return original(job)

        monkeypatch.setattr(SurrogateFit, "run", run)

    def hold(self) -> None:
        with self._lock:
            self._hold = True


@pytest.fixture
def guided(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[tuple[RunningServer, Fits]]:
    """An in-process server and the patched fit."""
    fits = Fits(monkeypatch)
    running = start_server("127.0.0.1", 0, tmp_path / "ckpt")
    try:
        yield running, fits
    finally:
        fits.release.set()  # a failed test never leaves a server thread waiting
        running.stop(grace=1)


def warm_up(client: Client) -> None:
    """Create the study and finish enough trials that the surrogate chooses."""
    config = custom_config(TABLE, search_steps=80, seed=5, policy="model-guided")
    client.create_study(STUDY, config)
    for _ in range(MIN_RESULTS + 2):
        trial = client.suggest_trial(STUDY)
        client.complete_trial(STUDY, trial, reward(trial.tokens))


def policy_of(running: RunningServer) -> GuidedAnnealer:
    policy = running.controller._entry(STUDY).study.policy
    assert isinstance(policy, GuidedAnnealer)
    return policy


def in_background(call: Callable[[], Any]) -> tuple[threading.Thread, dict[str, Any]]:
    out: dict[str, Any] = {}

    def target() -> None:
        try:
            out["value"] = call()
        except BaseException as exc:  # handed to the test thread
            out["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, out


def assert_fresh_valid(trial: pb.Trial, client: Client) -> None:
    assert trial.state == pb.TRIAL_STATE_ACTIVE
    assert len(trial.tokens) == len(TABLE)
    assert all(0 <= v < r for v, r in zip(trial.tokens, TABLE, strict=True))
    others = [tuple(t.tokens) for t in client.list_trials(STUDY) if t.trial_id != trial.trial_id]
    assert tuple(trial.tokens) not in others  # never a vector twice


def test_a_held_fit_blocks_no_other_trainers_calls(guided, tmp_path) -> None:
    running, fits = guided
    with (
        Client(running.address, client_id="a", **CALL) as a,
        Client(running.address, client_id="b", **CALL) as b,
    ):
        a.wait_ready()
        warm_up(a)
        assert fits.runs > 0  # the surrogate is in use, and fitted by jobs
        held_trials = [b.suggest_trial(STUDY) for _ in range(4)]
        last = held_trials.pop()
        b.complete_trial(STUDY, last, reward(last.tokens))  # a new result: a's suggest fits

        fits.hold()
        thread, out = in_background(lambda: a.suggest_trial(STUDY))
        assert fits.entered.wait(30)
        # While a's fit is held, b's calls about its own trials return.
        first = held_trials[0]
        assert b.heartbeat_trial(STUDY, first).trial_id == first.trial_id
        assert not b.report_progress(STUDY, first, 1, 0.5).should_stop
        done = b.complete_trial(STUDY, first, reward(first.tokens))
        assert done.trial.state == pb.TRIAL_STATE_SUCCEEDED
        # ... and so does another suggestion, with a fit of its own.
        second = held_trials[1]
        nxt = b.complete_trial(STUDY, second, reward(second.tokens), suggest_next=True)
        assert nxt.trial.state == pb.TRIAL_STATE_SUCCEEDED and nxt.HasField("next_trial")
        assert_fresh_valid(nxt.next_trial, b)
        assert thread.is_alive() and not out  # a still waits on its fit

        fits.release.set()
        thread.join(30)
        assert not thread.is_alive() and "error" not in out, out
        assert_fresh_valid(out["value"], a)
        live = running.controller._entry(STUDY).study
        assert policy_of(running).inline_fits == 0  # nothing was fitted under the lock

    running.stop(grace=1)
    replayed = Controller(FileStorage(tmp_path / "ckpt"))
    try:
        again = replayed._entry(STUDY).study
        assert isinstance(again.policy, GuidedAnnealer) and again.policy.fits == 0
        # Leases are renewed on load and heartbeats are not journaled: the rest is equal.
        assert [(t.trial_id, t.tokens, t.state, t.reward) for t in again.trials] == [
            (t.trial_id, t.tokens, t.state, t.reward) for t in live.trials
        ]
        assert again.policy.state() == live.policy.state()
    finally:
        replayed.close()


def test_a_fit_overtaken_by_results_is_retried_a_bounded_number_of_times(guided) -> None:
    running, fits = guided
    with (
        Client(running.address, client_id="a", **CALL) as a,
        Client(running.address, client_id="b", **CALL) as b,
    ):
        a.wait_ready()
        warm_up(a)
        running_trials = [b.suggest_trial(STUDY) for _ in range(FIT_ATTEMPTS + 1)]
        last = running_trials.pop()
        b.complete_trial(STUDY, last, reward(last.tokens))  # a new result: a's suggest fits
        policy = policy_of(running)
        results_before = len(policy.results)

        def overtake() -> None:
            # Another trainer's result lands during every fit (over gRPC, from the
            # fitting thread: it holds no lock, so this cannot deadlock).
            trial = running_trials.pop()
            b.complete_trial(STUDY, trial, reward(trial.tokens))

        runs = fits.runs
        fits.during = overtake
        trial = a.suggest_trial(STUDY)  # returns: the last fit is used as it is
        fits.during = None
        assert fits.runs - runs == FIT_ATTEMPTS
        assert len(policy.results) == results_before + FIT_ATTEMPTS
        assert_fresh_valid(trial, a)
        assert policy.inline_fits == 0

        # With nothing arriving, the next suggestion fits once and its model is current.
        runs = fits.runs
        assert_fresh_valid(a.suggest_trial(STUDY), a)
        assert fits.runs - runs == 1 and policy.inline_fits == 0


# -- the Study seam, without a controller ------------------------------------------------
def new_study() -> Study:
    request = StudyRequest(
        search_spaces=(SpaceConfig("custom", range_table=tuple(TABLE)),),
        search_steps=70,
        seed=3,
        lease_seconds=1e6,  # steps are the clock: no lease runs out
        policy="model-guided",
    )
    return Study("s", request, StudySpec.resolve(request), 0.0)


def drive(study: Study, outside: bool) -> list[tuple[tuple[int, ...], float]]:
    """Three trials outstanding; each result's report asks for the next trial, every
    third one in two calls. `outside`: every fit is taken as a job, run and installed
    as a controller does (nothing arriving in between); else propose fits inline."""
    pending = [study.suggest("w", 0.0)[0] for _ in range(3)]
    for step in range(1, 60):
        done = pending.pop(0)
        now = float(step)
        fitted = None
        if outside and step % 3:  # the fit of a report that asks for the next trial
            job = study.fit_job(now, (done.trial_id, reward(done.tokens), False))
            fitted = None if job is None else job.run()
        study.complete(done.trial_id, reward(done.tokens), False, now)
        if fitted is not None:
            assert study.install_fit(fitted)  # current: nothing arrived meanwhile
        elif outside:
            job = study.fit_job(now)
            if job is not None:
                assert study.install_fit(job.run())
        pending.append(study.suggest("w", now)[0])
    return [(t.tokens, t.temperature) for t in study.trials]


def test_fitting_outside_proposes_what_fitting_inline_does() -> None:
    inline, outside = new_study(), new_study()
    assert drive(outside, outside=True) == drive(inline, outside=False)
    assert outside.policy.state() == inline.policy.state()
    assert isinstance(inline.policy, GuidedAnnealer) and inline.policy.inline_fits > 0
    assert isinstance(outside.policy, GuidedAnnealer)
    # Jobs are also run for proposals that end up not asking the model (the annealer's
    # own moves): at least as many fits, none inline.
    assert outside.policy.inline_fits == 0 and outside.policy.fits >= inline.policy.fits


def test_a_stale_or_foreign_fit_is_installed_only_as_asked() -> None:
    study = new_study()
    drive(study, outside=False)
    policy = study.policy
    assert isinstance(policy, GuidedAnnealer)
    trial = study.suggest("w", 100.0)[0]
    job = study.fit_job(100.0)
    assert job is None  # the installed model is current: nothing to fit
    other = study.suggest("w", 100.0)[0]
    study.complete(trial.trial_id, reward(trial.tokens), False, 101.0)
    job = study.fit_job(101.0)
    assert job is not None
    fitted = job.run()
    study.complete(other.trial_id, reward(other.tokens), False, 102.0)  # overtakes it
    assert not study.install_fit(fitted)
    inline = policy.inline_fits
    assert study.install_fit(fitted, stale_ok=True)
    study.suggest("w", 103.0)
    assert policy.inline_fits == inline  # proposed with the stale model, no fit
    # A job that counted a result that never arrived is not a model of these results.
    t = study.suggest("w", 104.0)[0]
    guess = study.fit_job(104.0, (t.trial_id, 1.0, False))
    assert guess is not None
    study.complete(t.trial_id, 2.0, False, 105.0)
    assert not study.install_fit(guess.run())
    # A fit of a policy restored since (another results list) is refused outright.
    job = study.fit_job(105.0)
    assert job is not None
    policy.load_state(json.loads(json.dumps(policy.state())))
    assert not study.install_fit(job.run(), stale_ok=True)


# -- crashes: a CompleteTrial whose next trial's fit is under way ---------------------------
HOLDING_SERVER = """
import os, sys, threading
from pathlib import Path
from sanas_server.__main__ import main
from sanas_server.guided import SurrogateFit

hold = Path(os.environ["SANAS_TEST_HOLD_FIT"])
run = SurrogateFit.run

def held(job):
    if hold.exists():  # the test's signal: this fit never ends (until kill -9)
        hold.with_suffix(".entered").touch()
        threading.Event().wait()
    return run(job)

SurrogateFit.run = held
sys.exit(main(sys.argv[1:]))
"""


def complete_request(client: Client, trial: pb.Trial, request_id: str) -> pb.CompleteTrialRequest:
    bound = client.bound(STUDY, trial)
    return pb.CompleteTrialRequest(
        study_id=STUDY,
        trial_id=trial.trial_id,
        reward=reward(trial.tokens),
        suggest_next=True,
        client_id="a",
        request_id=request_id,
        study_uid=bound.study_uid,
        trial_fingerprint=bound.fingerprint,
    )


def test_a_crash_during_a_completes_fit_loses_nothing_and_the_retry_completes(tmp_path) -> None:
    hold = tmp_path / "hold"
    env = checkout_env(SANAS_TEST_HOLD_FIT=str(hold))
    command = (sys.executable, "-c", HOLDING_SERVER)
    ckpt = tmp_path / "ckpt"
    server = ServerProcess(ckpt, env=env, command=command)
    try:
        with Client(server.address, client_id="a", **CALL) as a:
            a.wait_ready()
            warm_up(a)
            trial = a.suggest_trial(STUDY)
            issued = len(list(a.list_trials(STUDY)))
            request = complete_request(a, trial, "complete-1")
        hold.touch()
        channel = grpc.insecure_channel(server.address)
        stub = sanas_pb2_grpc.ControllerServiceStub(channel)
        future = stub.CompleteTrial.future(request, timeout=60)
        deadline = time.monotonic() + 30
        while not hold.with_suffix(".entered").exists():  # another process: poll its file
            assert time.monotonic() < deadline, "the fit was never entered"
            assert not future.done(), future.exception()
            time.sleep(0.02)
        server.kill9()  # during the fit, before the report is decided
        with pytest.raises(grpc.RpcError):
            future.result()
        channel.close()
    finally:
        server.close()

    hold.unlink()
    server = ServerProcess(ckpt, env=env, command=command)
    try:
        with Client(server.address, client_id="a", **CALL) as a:
            a.wait_ready()
            # Nothing was decided: the trial still runs, no trial was issued.
            trials = list(a.list_trials(STUDY))
            assert len(trials) == issued
            assert trials[trial.trial_id].state == pb.TRIAL_STATE_ACTIVE
            answer = a._stub.CompleteTrial(request, timeout=30)  # the trainer's retry
            assert answer.trial.state == pb.TRIAL_STATE_SUCCEEDED
            assert answer.HasField("next_trial")
            assert answer.next_trial.trial_id == issued
            again = a._stub.CompleteTrial(request, timeout=30)  # its retry: the first answer
            assert again.next_trial.trial_id == answer.next_trial.trial_id
        server.kill9()
    finally:
        server.close()

    server = ServerProcess(ckpt, env=env, command=command)
    try:
        with Client(server.address, client_id="a", **CALL) as a:
            a.wait_ready()
            # The acknowledged answer survived the crash: a retry still gets it.
            after = a._stub.CompleteTrial(request, timeout=30)
            assert after.next_trial.trial_id == answer.next_trial.trial_id
            assert tuple(after.next_trial.tokens) == tuple(answer.next_trial.tokens)
            assert len(list(a.list_trials(STUDY))) == issued + 1
    finally:
        server.close()


# -- the controller's OpenBLAS threads ---------------------------------------------------
@pytest.mark.parametrize(("given", "expected"), [(None, 1), ("2", 2)])
def test_the_server_entry_point_runs_openblas_on_one_thread_unless_told(given, expected) -> None:
    pytest.importorskip("threadpoolctl")
    env = checkout_env()
    env.pop("OPENBLAS_NUM_THREADS", None)
    if given is not None:
        env["OPENBLAS_NUM_THREADS"] = given
    probe = (
        "import sanas_server.__main__, threadpoolctl\n"
        "pools = [p for p in threadpoolctl.threadpool_info() if p['internal_api'] == 'openblas']\n"
        "print(sorted({p['num_threads'] for p in pools}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str([expected])


def test_the_kept_best_results_are_what_a_scan_of_them_all_finds() -> None:
    # Proposals read the top results without scanning every result under the lock; ties
    # (few distinct rewards) go to the earlier result, as heapq.nlargest's scan did.
    policy = GuidedAnnealer(TABLE, [0] * len(TABLE), 10.0, 0.85, 1)
    rng = np.random.default_rng(0)
    for n in range(300):
        tokens = tuple(int(v) for v in rng.integers(9, size=len(TABLE)))
        policy.apply_result(tokens, float(rng.integers(4)), n % 7 == 0, False)
        scanned = heapq.nlargest(policy.top_k, policy.results, key=lambda r: r[1])
        assert [(t, -r) for r, _, t in policy._top] == scanned
    restored = GuidedAnnealer(TABLE, [0] * len(TABLE), 10.0, 0.85, 1)
    restored.load_state(json.loads(json.dumps(policy.state())))
    assert restored._top == policy._top


def test_a_refused_report_fits_nothing(guided) -> None:
    """A CompleteTrial with suggest_next that will be refused (no such trial, a NaN
    reward, a trial already finished) runs no fit: a bad client cannot make the
    controller fit a model per request."""
    running, fits = guided
    with Client(running.address, client_id="a", **CALL) as a:
        a.wait_ready()
        warm_up(a)
        trial = a.suggest_trial(STUDY)
        a.complete_trial(STUDY, trial, reward(trial.tokens))  # the model is behind now
        done = trial
        runs = fits.runs
        controller = running.controller
        for bad in (
            lambda: controller.complete_trial(STUDY, 10**6, 0.5, False, suggest_next=True),
            lambda: controller.complete_trial(
                STUDY, done.trial_id, float("nan"), False, suggest_next=True
            ),
            lambda: controller.complete_trial(STUDY, done.trial_id, 0.5, False, suggest_next=True),
        ):
            with pytest.raises(ControllerError):
                bad()
        assert fits.runs == runs
        # A good one still fits (once) and gets its next trial.
        fresh = a.suggest_trial(STUDY)
        answer = a.complete_trial(STUDY, fresh, reward(fresh.tokens), suggest_next=True)
        assert answer.next_trial.trial_id > fresh.trial_id and fits.runs > runs
