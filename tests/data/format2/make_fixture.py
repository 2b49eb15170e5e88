"""Writes tests/data/format2/checkpoints/: a checkpoint folder of the current journal format
(study headers with "format": 2 and a "uid"), made by sanas's own controller.

The committed folder was written by commit 0a12981 (the last one before the journal
format got its own module, sanas_server/journal.py; there, import Constraints and
StudyRequest from sanas_server.study), with its python_client/ and server/ on sys.path:

    PYTHONPATH=python_client:server python tests/data/format2/make_fixture.py \
        tests/data/format2/checkpoints

Later releases write the same journals for the same calls (run it into another folder
and compare: only folder names and study uids differ). It records each study's state as
the writing controller saw it (expected.json), so that tests/test_journal_formats.py can
check that today's replay rebuilds the same state.

What it covers: early-stopping reports (stops judged as rejected moves and as rewards),
skips with and without a reason, a lease that ran out (reissue), request ids (AIP-155)
with suggest_next, cost constraints (rejected proposals), imported history (rebase),
snapshots with measurement columns followed by journals, and running trials at the end.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from sanas.spaces import SpaceConfig
from sanas_server.controller import Controller
from sanas_server.spec import Constraints, StudyRequest
from sanas_server.stopping import EarlyStopping, HalvingRule, MedianRule
from sanas_server.storage import FileStorage


class Clock:
    def __init__(self) -> None:
        self.now = 1_750_000_000.0

    def __call__(self) -> float:
        return self.now


def state(c: Controller, study_id: str) -> dict:
    s = c.get_study(study_id)
    trials, _, _ = c.list_trials(study_id, 1000, "", None)
    return {
        "uid": s.uid,
        "request_keys": [sc.key for sc in s.spec.search_spaces],
        "range_table": list(s.spec.range_table),
        "best_tokens": None if s.best_tokens is None else list(s.best_tokens),
        "best_reward": s.best_reward,
        "current_tokens": list(s.current_tokens),
        "current_reward": s.current_reward,
        "temperature": s.temperature,
        "counts": {k.value: v for k, v in s.counts.items()},
        "budget_remaining": s.budget_remaining,
        "lease_expirations": s.lease_expirations,
        "accepted_moves": s.accepted_moves,
        "rejected_proposals": s.rejected_proposals,
        "steps_saved": s.steps_saved,
        "trials": [
            {
                "tokens": list(t.tokens),
                "fingerprint": t.fingerprint,
                "state": t.state.value,
                "reward": t.reward,
                "accepted": t.accepted,
                "client": t.client_id,
                "issues": t.issues,
                "measurements": [list(m) for m in t.measurements],
                "stop_reason": t.stop_reason,
                "max_step": t.max_step,
                "stopped_as_reward": t.stopped_as_reward,
                "complete_time": t.complete_time,
            }
            for t in trials
        ],
    }


def stopping_study(c: Controller, clock: Clock, study_id: str, as_rewards: bool) -> None:
    """Trials that report a curve each and are stopped by the rule, or complete."""
    request = StudyRequest(
        (SpaceConfig("custom", range_table=(7, 7, 7, 7)),),
        seed=5 if as_rewards else 4,
        search_steps=30,
        early_stopping=EarlyStopping(
            MedianRule(start_step=2, min_trials=2)
            if as_rewards
            else HalvingRule(min_step=2, reduction_factor=3, min_trials=2),
            stopped_values_as_rewards=as_rewards,
        ),
    )
    c.create_study(study_id, request)
    for i in range(14):
        t = c.suggest_trial(study_id, f"w{i % 3}", request_id=f"{study_id}-s{i}")
        if i % 7 == 3:  # the trainer gives the candidate up
            c.skip_trial(study_id, t.trial_id, f"w{i % 3}", "out of memory" if i < 7 else "")
            clock.now += 2
            continue
        stopped = False
        for step in (1, 2, 3, 4):
            value = 0.1 * step + ((i * 3) % 7) / 10
            _, stop = c.report_progress(study_id, t.trial_id, step, value, 4, f"w{i % 3}")
            clock.now += 1
            if stop:
                stopped = True
                break
        if not stopped:
            c.complete_trial(
                study_id,
                t.trial_id,
                0.2 + (i * 5 % 9) / 10,
                i % 5 == 4,
                suggest_next=i % 4 == 0,
                client_id=f"w{i % 3}",
                request_id=f"{study_id}-c{i}",
            )
        clock.now += 3
    running = c.suggest_trial(study_id, "late", request_id=f"{study_id}-late")
    c.report_progress(study_id, running.trial_id, 1, 0.42, 10, "late")


def main(out: Path) -> None:
    shutil.rmtree(out, ignore_errors=True)
    clock = Clock()
    c = Controller(FileStorage(out), clock=clock, snapshot_every=10)
    stopping_study(c, clock, "halving", as_rewards=False)
    stopping_study(c, clock, "median", as_rewards=True)
    blocks = StudyRequest(
        (SpaceConfig("MobileNetV2BlockSpace", input_size=16, output_size=4, block_num=3),),
        seed=21,
        search_steps=12,
        constraints=Constraints(input_size=16, in_channels=8, max_flops=3_000_000),
    )
    c.create_study("blocks", blocks)
    for i in range(5):
        t = c.suggest_trial("blocks", f"w{i}", request_id=f"b-s{i}")
        c.complete_trial("blocks", t.trial_id, 0.3 + i / 10, False, request_id=f"b-c{i}")
        clock.now += 5
    held = c.suggest_trial("blocks", "gone")  # its trainer never comes back
    clock.now += 3600  # the lease runs out: the next suggest re-issues it
    again = c.suggest_trial("blocks", "w9", request_id="b-again")
    assert again.trial_id == held.trial_id and again.issues == 2
    c.report_progress("blocks", again.trial_id, 1, 0.5, 2, "w9")
    imported = StudyRequest((SpaceConfig("custom", range_table=(5, 5, 5)),), seed=8, search_steps=9)
    c.import_study(
        "imported",
        imported,
        [((1, 2, 3), 0.4), ((2, 2, 2), 0.6), ((0, 4, 1), 0.1)],
        ((2, 2, 2), 0.6),
        ((2, 2, 2), 0.6),
        3,
    )
    t = c.suggest_trial("imported", "w")
    c.complete_trial("imported", t.trial_id, 0.7, False)
    c.suggest_trial("imported", "w", request_id="i-open")
    given_up = c.suggest_trial("imported", "w")
    c.skip_trial("imported", given_up.trial_id, "w", "diverged")
    expected = {s: state(c, s) for s in ("halving", "median", "blocks", "imported")}
    c.close()
    (out.parent / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
