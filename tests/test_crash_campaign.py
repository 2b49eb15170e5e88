"""Crash campaign: 50 `kill -9` of the controller at random instants while 16 trainers
search, relying only on the client's own retries; then a full disk."""

from __future__ import annotations

import random
import resource
import subprocess
import threading
import time

from helpers import SERVER_BIN, ServerProcess, custom_config
from trainer import reward_of

from sanas import Client, ControllerUnavailableError, SearchFinished
from sanas.v1 import sanas_pb2 as pb

KILLS = 50
TRAINERS = 16


def test_fifty_kill_9_under_sixteen_trainers(server_process):
    server = server_process()
    port = int(server.address.rsplit(":", 1)[1])
    steps = 6000
    with Client(server.address) as setup:
        setup.wait_ready()
        # The journal's durability at the annealer's pace (6,000 steps): a model-guided
        # study's restarts are exact too (test_snapshots runs both policies; kill -9 in
        # test_policy_choice and test_fit_outside_lock), at a few ms of fitting a step.
        setup.create_study(
            "camp",
            custom_config([9] * 8, search_steps=steps, seed=5, lease_seconds=2, policy="annealer"),
        )
    acked: dict[int, float] = {}
    lock = threading.Lock()
    deadline = time.monotonic() + 400
    failures: list[BaseException] = []

    def trainer(n: int) -> None:
        # A plain training loop: the client retries through every restart by itself.
        try:
            with Client(server.address, client_id=f"t{n}", timeout=5, retry_timeout=120) as c:
                while time.monotonic() < deadline:
                    try:
                        trial = c.suggest_trial("camp")
                    except SearchFinished:
                        return
                    reward = reward_of(list(trial.tokens))
                    c.complete_trial("camp", trial.trial_id, reward)
                    with lock:
                        acked[trial.trial_id] = reward
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=trainer, args=(n,)) for n in range(TRAINERS)]
    for t in threads:
        t.start()
    rng = random.Random(2026)
    kills = 0
    while kills < KILLS and not failures:
        time.sleep(rng.uniform(0.02, 0.25))
        with lock:
            acked_now = dict(acked)
        if len(acked_now) >= steps - 100:
            break
        server.kill9()
        kills += 1
        server = server_process(port=port)
        # After each restart every result acknowledged before the kill is there.
        with Client(server.address, timeout=10) as check:
            study = check.get_study("camp")
            assert study.trial_counts.succeeded >= len(acked_now)
    for t in threads:
        t.join(timeout=max(1.0, deadline - time.monotonic()))
    assert not failures, failures[:3]
    assert kills == KILLS, f"the search ended after {kills} kills; make it longer"

    with Client(server.address, timeout=10) as c:
        study = c.get_study("camp")
        trials = {t.trial_id: t for t in c.list_trials("camp", page_size=1000)}
    assert len(acked) == steps  # every trial was completed by some trainer
    for trial_id, reward in acked.items():
        assert trials[trial_id].state == pb.TRIAL_STATE_SUCCEEDED
        assert trials[trial_id].reward == reward
    assert study.trial_counts.succeeded == steps and study.trial_counts.active == 0
    assert study.state == pb.STUDY_STATE_COMPLETED and study.budget_remaining == 0
    assert len({tuple(t.tokens) for t in trials.values()}) == steps  # each exactly once


def _limit_file_size(limit: int):
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_a_full_disk_gives_a_clear_error_and_no_corrupt_state(tmp_path):
    folder = tmp_path / "ck"
    # The journal may grow to 8 KiB: a size-limited file stands in for a full disk.
    proc = subprocess.Popen(
        [str(SERVER_BIN), "--port", "0", "--checkpoint-dir", str(folder), "--log-level", "ERROR"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_limit_file_size(8192),
    )
    acked: dict[int, float] = {}
    try:
        address = proc.stdout.readline().rsplit(" ", 1)[1].strip()
        with Client(address, timeout=10, retry_timeout=0) as c:
            c.create_study("disk", custom_config([9] * 6, search_steps=500, seed=2))
            error = None
            for _ in range(500):
                try:
                    trial = c.suggest_trial("disk")
                    reward = reward_of(list(trial.tokens))
                    c.complete_trial("disk", trial.trial_id, reward)
                    acked[trial.trial_id] = reward
                except ControllerUnavailableError as exc:
                    error = exc
                    break
            assert error is not None, "the journal never hit the size limit"
            assert error.reason == "ERROR_REASON_STORAGE_FAILURE"
            assert "File too large" in str(error) and "journal.log" in str(error)
            # Still up and consistent: reads work and show only acknowledged results.
            study = c.get_study("disk")
            assert study.trial_counts.succeeded == len(acked)
    finally:
        proc.kill()
        proc.wait(10)
    # Restarted with room to write: nothing acknowledged is lost, the journal is sound,
    # and the study goes on.
    server = ServerProcess(folder)
    try:
        with Client(server.address, timeout=10) as c:
            c.wait_ready()
            trials = {t.trial_id: t for t in c.list_trials("disk")}
            for trial_id, reward in acked.items():
                assert trials[trial_id].reward == reward
            assert c.get_study("disk").trial_counts.succeeded == len(acked)
            trial = c.suggest_trial("disk")
            c.complete_trial("disk", trial.trial_id, 1.0)
    finally:
        server.close()
