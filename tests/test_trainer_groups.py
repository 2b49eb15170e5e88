"""Trainer groups under the real launcher: `python -m paddle.distributed.launch` starts
2 CPU ranks (gloo) per group, two groups share one controller in its own process."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from helpers import CHECKOUT_ENV, ROOT, custom_config, wait_until

from sanas import Client, SearchFinished, StaleTrialError
from sanas.group import TrainerGroup
from sanas.study_config import successive_halving
from sanas.v1 import sanas_pb2 as pb

TRAINER = ROOT / "examples" / "group_trainer.py"


def launch(tmp: Path, name: str, address: str, study: str, *extra: str) -> subprocess.Popen:
    env = {**CHECKOUT_ENV, "SANAS_ADDRESS": address, "SANAS_STUDY_ID": study}
    env.pop("CUDA_VISIBLE_DEVICES", None)  # an empty one stops the launcher (notes)
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "paddle.distributed.launch",
            "--nproc_per_node",
            "2",
            "--log_dir",
            str(tmp / f"launch-{name}"),
            "--job_id",
            name,
            str(TRAINER),
            "--events",
            str(tmp / name),
            *extra,
        ],
        env=env,
        cwd=tmp,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def events(tmp: Path, name: str, rank: int) -> list[dict[str, Any]]:
    path = tmp / f"{name}.{rank}"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.endswith("}")]


def of(kind: str, lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in lines if e["event"] == kind]


def stop_all(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait(timeout=30)


def test_two_groups_of_two_ranks_share_a_study_each_group_training_one_network(
    tmp_path, server_process
):
    server = server_process()
    flags = ("--steps", "4", "--epochs", "1", "--lease-seconds", "20")
    groups = [launch(tmp_path, name, server.address, "groups", *flags) for name in ("a", "b")]
    try:
        codes = [g.wait(timeout=400) for g in groups]
    finally:
        stop_all(groups)
    assert codes == [0, 0]
    trained: list[int] = []
    for name in ("a", "b"):
        r0, r1 = events(tmp_path, name, 0), events(tmp_path, name, 1)
        # Both ranks got the same trials with the same tokens, and after one step of
        # data-parallel training hold the same weights: the same network.
        assert of("start", r0) == [dict(e, rank=0, pid=r0[0]["pid"]) for e in of("start", r1)]
        steps0, steps1 = of("first_step", r0), of("first_step", r1)
        assert [e["params"] for e in steps0] == [e["params"] for e in steps1]
        assert len(steps0) == len(of("start", r0))
        # Rank 0's reward is the group's: the metric averaged over the ranks, equal on both.
        assert [e["reward"] for e in of("result", r0)] == [e["reward"] for e in of("result", r1)]
        # SearchFinished reached every rank: both logged it and the launcher exited 0.
        assert of("finished", r0) and of("finished", r1)
        trained += [e["trial_id"] for e in of("result", r0)]
    with Client(server.address) as c:
        study = c.get_study("groups")
        trials = list(c.list_trials("groups"))
    # Exactly the budget, each trial trained by one group once.
    assert study.trial_counts.succeeded == 4
    assert sorted(trained) == sorted(t.trial_id for t in trials) == [0, 1, 2, 3]
    # Only rank 0s talked to the controller: two clients in all.
    assert len({t.client_id for t in trials}) <= 2


def test_killing_one_rank_of_a_group_reissues_its_trial_to_the_other_group(
    tmp_path, server_process
):
    server = server_process()
    flags = ("--steps", "3", "--epochs", "1", "--lease-seconds", "4")
    slow = (*flags, "--step-seconds", "0.2")
    a = launch(tmp_path, "a", server.address, "groups", *slow)
    procs = [a]
    try:
        # Group a starts its first trial; then rank 1 of it dies mid-training.
        wait_until(lambda: of("first_step", events(tmp_path, "a", 1)), timeout=240)
        lost = of("start", events(tmp_path, "a", 1))[0]["trial_id"]
        os.kill(events(tmp_path, "a", 1)[0]["pid"], signal.SIGKILL)
        # The launcher ends the rest of the group, so its heartbeats stop.
        assert a.wait(timeout=120) != 0
        b = launch(tmp_path, "b", server.address, "groups", *flags)
        procs.append(b)
        assert b.wait(timeout=400) == 0
    finally:
        stop_all(procs)
    with Client(server.address) as c:
        study = c.get_study("groups")
        trial = c.list_trials("groups")
        by_id = {t.trial_id: t for t in trial}
    assert study.trial_counts.succeeded == 3 and study.trial_counts.active == 0
    assert by_id[lost].state == pb.TRIAL_STATE_SUCCEEDED
    assert by_id[lost].issue_count == 2  # issued to a, re-issued to b after the lease
    assert lost in [e["trial_id"] for e in of("result", events(tmp_path, "b", 0))]
    assert not of("result", events(tmp_path, "a", 0))


def test_outside_a_group_there_is_no_group_and_a_bad_rank_is_refused():
    assert TrainerGroup.current() is None or TrainerGroup.current().world_size > 1
    with pytest.raises(ValueError, match="rank 2 of a group of 2"):
        TrainerGroup(2, 2)


def test_a_rank_other_than_0_has_no_connection_and_says_so():
    client = Client("127.0.0.1:1", trainer_group=TrainerGroup(1, 2))
    assert not client.talks_to_controller
    with pytest.raises(RuntimeError, match="rank 1 of a trainer group has no connection"):
        client.heartbeat_trial("s", 1)
    with pytest.raises(RuntimeError, match="rank 1 of a trainer group"):
        next(client.watch_study("s"))
    keeper = client.keep_alive("s", 1, interval=0.05)
    time.sleep(0.1)
    keeper.stop()  # never started: nothing to renew from this rank
    client.close()


class ThreadRanks(TrainerGroup):
    """Ranks as threads of this process, broadcasting through queues: the Client's
    group logic without a launcher."""

    def __init__(self, rank: int, inboxes: list[queue.Queue]) -> None:
        super().__init__(rank, len(inboxes))
        self._inboxes = inboxes

    def broadcast(self, value: Any = None) -> Any:
        if self.leader:
            for inbox in self._inboxes[1:]:
                inbox.put(value)
            return value
        return self._inboxes[self.rank].get(timeout=30)

    def gather(self, value: Any) -> list[Any]:
        # Every rank broadcasts in turn (rank order), through the same queues.
        out = []
        for source in range(self.world_size):
            if source == self.rank:
                # Rank 0's copy last: once it has every value it may broadcast an
                # answer, which must queue behind this in the other inboxes.
                for r in reversed(range(self.world_size)):
                    if r != self.rank:
                        self._inboxes[r].put(("gather", source, value))
                out.append(value)
            else:
                tag, sender, got = self._inboxes[self.rank].get(timeout=30)
                assert (tag, sender) == ("gather", source)
                out.append(got)
        return out


def run_ranks(rank: Any, size: int) -> None:
    """rank(r) for every rank r, each in its own thread, all to the end (bounded)."""
    threads = [threading.Thread(target=rank, args=(r,)) for r in range(size)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
        assert not t.is_alive(), "a rank did not finish in 60 s"


def test_every_rank_gets_the_same_trial_stop_and_search_finished(server, monkeypatch):
    monkeypatch.setattr("sanas.group.WAIT_TICK", 0.05)  # rank 0 tells the others it waits
    config = custom_config([4, 4], search_steps=2, seed=3)
    with Client(server.address, client_id="setup") as c:
        c.create_study("g", config)
        # A finished trial with a high value: halving then stops a low one at step 1.
        first = c.suggest_trial("g")
        c.report_progress("g", first.trial_id, 1, 0.9)
        c.complete_trial("g", first.trial_id, 0.9)
    rule = successive_halving(min_step=1, reduction_factor=2, min_trials=1)
    inboxes: list[queue.Queue] = [queue.Queue() for _ in range(3)]
    seen: dict[int, list[Any]] = {}

    def rank(r: int) -> None:
        client = Client(server.address, client_id=f"rank{r}", trainer_group=ThreadRanks(r, inboxes))
        got: list[Any] = []
        trial = client.suggest_trial("g")
        got.append((trial.trial_id, list(trial.tokens), trial.client_id))
        got.append(
            client.report_progress("g", trial.trial_id, 1, 0.1, early_stopping=rule).should_stop
        )
        try:
            client.suggest_trial("g")
        except SearchFinished as exc:
            got.append((type(exc).__name__, exc.code, exc.reason))
        seen[r] = got
        client.close()

    run_ranks(rank, 3)
    assert seen[0] == seen[1] == seen[2]
    (trial_id, _, holder), stop, finished = seen[0]
    assert holder == "rank0" and stop is True
    assert finished[0] == "BudgetExhaustedError" and finished[1] == "FAILED_PRECONDITION"
    with Client(server.address) as c:
        trials = list(c.list_trials("g"))
    # Only rank 0 talked: its trial is the only other one, and held by it.
    assert [(t.trial_id, t.client_id) for t in trials] == [(0, "setup"), (trial_id, "rank0")]


def test_ranks_that_make_different_calls_get_an_error_that_says_so(server):
    with Client(server.address) as c:
        c.create_study("m", custom_config([4, 4], search_steps=3))
    inboxes: list[queue.Queue] = [queue.Queue() for _ in range(2)]
    errors: dict[int, str] = {}

    def rank(r: int) -> None:
        client = Client(server.address, trainer_group=ThreadRanks(r, inboxes))
        try:
            if r == 0:
                client.get_study("m")  # e.g. logging on rank 0 only
            client.suggest_trial("m")
        except RuntimeError as exc:
            errors[r] = str(exc)
        client.close()

    run_ranks(rank, 2)
    for r in (0, 1):
        assert "rank 0: GetStudy (call 1), rank 1: SuggestTrial (call 1)" in errors[r]
        assert "same SANAS/Client calls in the same order" in errors[r]
    with Client(server.address) as c:
        assert list(c.list_trials("m")) == []  # neither call reached the controller


def test_every_rank_of_a_group_gets_the_stale_error_for_a_study_created_again(server):
    """The group's calls go through rank 0 bound to the trial every rank was handed: once
    the study is created again, every rank gets StaleTrialError and nothing is written."""
    config = custom_config([4, 4], search_steps=3, seed=3)
    with Client(server.address, client_id="setup") as c:
        c.create_study("again", config)
    inboxes: list[queue.Queue] = [queue.Queue() for _ in range(2)]
    handed = threading.Barrier(3)  # both ranks hold a trial; the main thread re-creates
    recreated = threading.Event()
    seen: dict[int, Any] = {}

    def rank(r: int) -> None:
        client = Client(server.address, client_id=f"rank{r}", trainer_group=ThreadRanks(r, inboxes))
        trial = client.suggest_trial("again")
        handed.wait(timeout=30)
        recreated.wait(timeout=30)
        try:
            client.complete_trial("again", trial.trial_id, 0.9)
        except StaleTrialError as exc:
            seen[r] = (trial.trial_id, trial.study_uid, type(exc).__name__, exc.reason)
        client.close()

    threads = [threading.Thread(target=rank, args=(r,)) for r in range(2)]
    for t in threads:
        t.start()
    handed.wait(timeout=30)
    with Client(server.address, client_id="setup") as c:
        c.delete_study("again", purge=True)
        c.create_study("again", config)
        c.suggest_trial("again")  # the new study's trial 0, held by another trainer
        recreated.set()
        for t in threads:
            t.join(timeout=60)
        trials = list(c.list_trials("again"))
    assert seen[0] == seen[1] and seen[0][2:] == ("StaleTrialError", "ERROR_REASON_STALE_TRIAL")
    assert [(t.trial_id, t.client_id, t.state) for t in trials] == [
        (0, "setup", pb.TRIAL_STATE_ACTIVE)
    ]
