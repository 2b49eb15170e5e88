"""SkipTrial: a trainer gives a trial up unevaluated (PaddleSlim's `continue` over an
over-budget candidate). The controller rules, replay, the RPC, and SANAS's skip pattern
in one process and in two."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import grpc
import pytest
from helpers import checkout_env

from sanas import SANAS, Client, errors
from sanas.spaces import SpaceConfig
from sanas.v1 import sanas_pb2 as pb
from sanas_server import errors as server_errors
from sanas_server.controller import Controller
from sanas_server.spec import StudyRequest
from sanas_server.storage import FileStorage, MemoryStorage
from sanas_server.trials import TrialState
from sanas_server.watch import WatchKind

LOOPBACK = ("127.0.0.1", 0)


def request(steps: int = 4, table=(9, 9, 9)) -> StudyRequest:
    spaces = (SpaceConfig("custom", range_table=tuple(table)),)
    return StudyRequest(spaces, search_steps=steps, seed=1)


def test_a_skip_gives_the_step_back_and_the_tokens_are_never_issued_again(tmp_path):
    c = Controller(FileStorage(tmp_path))
    c.create_study("s", request(steps=3))
    first = c.suggest_trial("s", "w")
    trial, budget = c.skip_trial("s", first.trial_id, "w", "over the FLOPs budget")
    assert trial.state is TrialState.SKIPPED and trial.stop_reason == "over the FLOPs budget"
    assert budget == 3  # the skipped trial did not use the budget
    issued = [c.suggest_trial("s", "w") for _ in range(3)]
    assert first.tokens not in {t.tokens for t in issued}
    for t in issued:
        c.complete_trial("s", t.trial_id, 1.0, False)
    with pytest.raises(server_errors.BudgetExhausted):
        c.suggest_trial("s", "w")
    summary = c.get_study("s")
    assert summary.completed and summary.counts[TrialState.SKIPPED] == 1
    assert summary.best_tokens != first.tokens
    c.close()
    replayed = Controller(FileStorage(tmp_path))  # the journal holds the skip
    again = replayed.get_study("s")
    assert again.counts == summary.counts and again.budget_remaining == 0
    assert replayed.list_trials("s", 10, "", None)[0][0].state is TrialState.SKIPPED
    replayed.close()


def test_skip_rules():
    c = Controller(MemoryStorage())
    c.create_study("s", request())
    t = c.suggest_trial("s", "w")
    c.skip_trial("s", t.trial_id, "w")
    assert c.skip_trial("s", t.trial_id, "w")[0].state is TrialState.SKIPPED  # a retry
    with pytest.raises(server_errors.TrialAlreadyCompleted, match="skipped by its trainer"):
        c.complete_trial("s", t.trial_id, 0.5, False)
    done = c.suggest_trial("s", "w")
    c.complete_trial("s", done.trial_id, 0.5, False)
    with pytest.raises(server_errors.TrialAlreadyCompleted, match="only a running trial"):
        c.skip_trial("s", done.trial_id, "w")
    held = c.suggest_trial("s", "w")
    with pytest.raises(server_errors.TrialNotHeld, match="not yours to skip"):
        c.skip_trial("s", held.trial_id, "other")
    with pytest.raises(server_errors.InvalidArgument, match="at most 256"):
        c.skip_trial("s", held.trial_id, "w", "x" * 257)
    with pytest.raises(server_errors.TrialNotFound):
        c.skip_trial("s", 99, "w")
    assert c.get_study("s").counts[TrialState.ACTIVE] == 1  # the refusals changed nothing


def test_a_skip_is_a_watch_event_and_survives_a_snapshot(tmp_path):
    c = Controller(FileStorage(tmp_path), snapshot_every=2)
    c.create_study("s", request(steps=6))
    events = c.watch("s")
    assert events.get(5).kind is WatchKind.CURRENT_STATE
    t = c.suggest_trial("s", "w")
    c.skip_trial("s", t.trial_id, "w")
    kinds = [events.get(5).kind for _ in range(2)]
    assert kinds == [WatchKind.TRIAL_SUGGESTED, WatchKind.TRIAL_SKIPPED]
    c.unwatch("s", events)
    for _ in range(4):  # past a snapshot
        u = c.suggest_trial("s", "w")
        c.complete_trial("s", u.trial_id, 0.1, False)
    before = c.get_study("s")
    c.close()
    after = Controller(FileStorage(tmp_path)).get_study("s")
    assert (after.counts, after.budget_remaining) == (before.counts, before.budget_remaining)


def test_skip_over_grpc(client):
    client.create_study(
        "g", pb.StudyConfig(search_spaces=[pb.SearchSpaceConfig(key="c", range_table=[5, 5])])
    )
    trial = client.suggest_trial("g")
    answer = client.skip_trial("g", trial.trial_id, "too big")
    assert answer.trial.state == pb.TRIAL_STATE_SKIPPED and answer.trial.stop_reason == "too big"
    study = client.get_study("g")
    # Its step is given back (300 - 0 used), but its tokens stay used: 25 - 1 left.
    assert study.trial_counts.skipped == 1 and study.budget_remaining == min(300, 25 - 1)
    with pytest.raises(errors.TrialAlreadyCompletedError) as info:
        client.complete_trial("g", trial.trial_id, 0.3)
    assert info.value.code == grpc.StatusCode.FAILED_PRECONDITION.name


def test_the_skip_pattern_in_one_process(tmp_path):
    """PaddleSlim's demos: `for step in range(search_steps)`, `continue` when a candidate is
    over budget. Nothing stays running, the loop never runs out of budget, and a skipped
    candidate never comes back."""
    steps = 6
    with SANAS(
        [("custom", {"range_table": [4, 4, 4]})],
        server_addr=LOOPBACK,
        save_checkpoint=str(tmp_path),
        search_steps=steps,
        seed=3,
    ) as nas:
        seen, skipped = [], []
        for step in range(steps):
            nas.next_archs()
            tokens = nas.current_info()["current_tokens"]  # PaddleSlim's: this candidate
            seen.append(tuple(tokens))
            if step % 2:  # "over budget"
                skipped.append(tuple(tokens))
                continue
            nas.reward(float(sum(tokens)))
        with Client(nas.address) as c:  # the loop ended holding its last, skipped one
            assert c.get_study("sanas").trial_counts.active == 1
    # The script's end (leaving the `with`, or the interpreter's exit) skipped it.
    with SANAS(
        [("custom", {"range_table": [4, 4, 4]})],
        server_addr=LOOPBACK,
        load_checkpoint=str(tmp_path),
        search_steps=steps,
    ) as again:
        with Client(again.address) as c:
            study = c.get_study("sanas")
            trials = list(c.list_trials("sanas"))
    assert study.trial_counts.active == 0 and study.trial_counts.skipped == len(skipped)
    assert study.trial_counts.succeeded == steps - len(skipped)
    assert study.budget_remaining == len(skipped)  # skips gave their steps back
    assert len(set(seen)) == steps  # a skipped candidate never came back
    assert {tuple(t.tokens) for t in trials if t.state == pb.TRIAL_STATE_SKIPPED} == set(skipped)


SCRIPT = textwrap.dedent(
    """
    import sys
    import time
    from sanas import SANAS, SearchFinished

    role, port, folder = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    config = [("custom", {"range_table": [5, 5, 5]})]
    if role == "server":
        nas = SANAS(config, server_addr=("127.0.0.1", port), search_steps=8,
                    save_checkpoint=folder, seed=4)
    else:
        nas = SANAS(config, server_addr=("127.0.0.1", port), is_server=False)
    try:
        for step in range(8):
            nas.next_archs()
            tokens = nas.current_info()["current_tokens"]
            if sum(tokens) % 3 == 0:  # over budget: skip, as PaddleSlim's demos do
                print("skip", tokens, flush=True)
                continue
            time.sleep(1.0)  # "training": the two processes overlap
            nas.reward(float(sum(tokens)))
            print("reward", tokens, flush=True)
    except SearchFinished:
        print("finished", flush=True)
    """
)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_skip_pattern_with_a_server_script_and_a_client_ends_without_a_lease(tmp_path):
    """Two processes loop over PaddleSlim's skip pattern against one study of 8 steps; with
    60 s leases, neither ever waits for one: skipped trials end at once."""
    script = tmp_path / "search.py"
    script.write_text(SCRIPT)
    port = free_port()
    env = checkout_env()
    started = time.monotonic()
    server = subprocess.Popen(
        [sys.executable, str(script), "server", str(port), str(tmp_path / "ckpt")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # The client waits for the server script's controller (up to 10 s), as PaddleSlim's did.
    client = subprocess.run(
        [sys.executable, str(script), "client", str(port), str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    out, err = server.communicate(timeout=120)
    elapsed = time.monotonic() - started
    assert server.returncode == 0 and client.returncode == 0, (err, client.stderr)
    lines = out.splitlines() + client.stdout.splitlines()
    rewarded = [line for line in lines if line.startswith("reward")]
    skipped = [line for line in lines if line.startswith("skip")]
    assert skipped and client.stdout.count("reward")  # both evaluated, both skipped
    assert len(rewarded) <= 8  # one budget for the study, skips not counted in it
    assert elapsed < 45, elapsed  # far below one 60 s lease
    folder = tmp_path / "ckpt"
    with (
        SANAS(
            [("custom", {"range_table": [5, 5, 5]})],
            server_addr=LOOPBACK,
            load_checkpoint=str(folder),
            search_steps=8,
        ) as check,
        Client(check.address) as c,
    ):
        study = c.get_study("sanas")
    assert study.trial_counts.active == 0  # nothing left running: no lease to wait out
    assert study.trial_counts.succeeded == len(rewarded)
    assert study.trial_counts.skipped == len(skipped)
