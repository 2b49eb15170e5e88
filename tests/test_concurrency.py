"""Many trainer processes against one controller process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from helpers import CHECKOUT_ENV, custom_config

from sanas import Client

TRAINER = Path(__file__).with_name("trainer.py")


def test_eight_trainer_processes_share_one_budget_exactly(server_process, tmp_path):
    server = server_process()
    steps = 400
    with Client(server.address) as c:
        c.wait_ready()
        c.create_study("par", custom_config([9] * 6, search_steps=steps, seed=4))
        procs = [
            subprocess.Popen(
                [sys.executable, str(TRAINER), server.address, "par"]
                + (["--suggest-next"] if i % 2 else []),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=CHECKOUT_ENV,  # this checkout's client, not the venv's install
            )
            for i in range(8)
        ]
        reports = []
        for p in procs:
            out, err = p.communicate(timeout=300)
            assert p.returncode == 0, err
            reports.append(json.loads(out))
        completed = [tuple(x) for r in reports for x in r["completed"]]
        assert len(completed) == steps  # not 8 x search_steps, as in PaddleSlim
        assert sum(1 for r in reports if r["completed"]) >= 2  # the work really was shared
        study = c.get_study("par")
        assert study.trial_counts.succeeded == steps and study.trial_counts.active == 0
        assert study.budget_remaining == 0
        trials = list(c.list_trials("par"))
        assert sorted(t.trial_id for t in trials) == sorted(t for t, _ in completed)
        assert len({tuple(t.tokens) for t in trials}) == steps  # no vector twice
        assert {t.trial_id: t.reward for t in trials} == dict(completed)
        assert study.best_reward == max(r for _, r in completed)
    assert server.terminate() == 0
