"""Writes tests/data/format1/checkpoints/: a checkpoint folder of sanas 0.1's first journal format
(study headers with no "format" key), made by that release's own controller.

Run from a checkout of commit 114cdf5 (the last release writing format 1), with its
python_client/ and server/ on sys.path:

    cd <checkout of 114cdf5> && PYTHONPATH=python_client:server \
        python <this file> tests/data/format1/checkpoints

It records each study's state as the old controller saw it (expected.json) so that
tests/test_journal_formats.py can check that today's replay rebuilds the same state.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from sanas.spaces import SpaceConfig
from sanas_server.controller import Controller
from sanas_server.stopping import EarlyStopping, HalvingRule
from sanas_server.storage import FileStorage
from sanas_server.study import Constraints, StudyRequest


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def state(c: Controller, study_id: str) -> dict:
    s = c.get_study(study_id)
    trials, _, _ = c.list_trials(study_id, 1000, "", None)
    return {
        "request_keys": [sc.key for sc in s.spec.search_spaces],
        "range_table": list(s.spec.range_table),
        "best_tokens": None if s.best_tokens is None else list(s.best_tokens),
        "best_reward": s.best_reward,
        "current_tokens": list(s.current_tokens),
        "temperature": s.temperature,
        "counts": {k.value: v for k, v in s.counts.items()},
        "budget_remaining": s.budget_remaining,
        "steps_saved": s.steps_saved,
        "trials": [
            [list(t.tokens), t.state.value, t.reward, t.accepted, t.issues, len(t.measurements)]
            for t in trials
        ],
    }


def main(out: Path) -> None:
    shutil.rmtree(out, ignore_errors=True)
    clock = Clock()
    c = Controller(FileStorage(out), clock=clock, snapshot_every=8)
    blocks = StudyRequest(
        (SpaceConfig("MobileNetV2BlockSpace", input_size=16, output_size=4, block_num=3),),
        seed=11,
        search_steps=40,
        constraints=Constraints(input_size=16, in_channels=8, max_flops=3_000_000),
        early_stopping=EarlyStopping(HalvingRule(min_step=2, reduction_factor=3, min_trials=2)),
    )
    c.create_study("blocks", blocks)
    for i in range(18):
        t = c.suggest_trial("blocks", f"w{i % 2}", request_id=f"s{i}")
        stopped = False
        for step in (1, 2, 3):
            _, stop = c.report_progress("blocks", t.trial_id, step, 0.1 * step + (i % 5) / 10, 3)
            if stop:
                stopped = True
                break
        if not stopped:
            c.complete_trial(
                "blocks", t.trial_id, 0.3 + (i * 7 % 11) / 20, i % 6 == 5, request_id=f"c{i}"
            )
        clock.now += 5
    held = c.suggest_trial("blocks", "gone")  # its trainer never comes back
    clock.now += 3600  # the lease runs out; the next suggest re-issues it
    again = c.suggest_trial("blocks", "w9")
    assert again.trial_id == held.trial_id
    c.complete_trial("blocks", again.trial_id, 0.77, False)
    c.create_study(
        "custom", StudyRequest((SpaceConfig("custom", range_table=(9, 9, 9, 9, 9)),), seed=3)
    )
    for _ in range(12):
        t = c.suggest_trial("custom", "w")
        c.complete_trial("custom", t.trial_id, float(sum(t.tokens) % 7), False)
    expected = {s: state(c, s) for s in ("blocks", "custom")}
    c.close()
    (out.parent / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
