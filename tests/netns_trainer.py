"""A trainer for the network-namespace test, run inside its own namespace.

usage: python netns_trainer.py ADDRESS STUDY (hold|work)
hold: take one trial, heartbeat it, print "holding <id>", then train forever.
work: run the study to its end; print one JSON line with what it completed and the study.
"""

from __future__ import annotations

import json
import sys
import time

from sanas import Client, SearchFinished
from sanas.study_config import study_config

CONFIG = {"search_steps": 30, "seed": 3, "lease_seconds": 2.0}


def main() -> None:
    address, study_id, role = sys.argv[1:4]
    with Client(address, client_id=role, timeout=5, retry_timeout=60) as c:
        c.wait_ready(timeout=30)
        c.create_study(study_id, study_config([("custom", {"range_table": [9] * 5})], **CONFIG))
        if role == "hold":
            trial = c.suggest_trial(study_id)
            c.keep_alive(study_id, trial.trial_id, interval=0.5)
            print(f"holding {trial.trial_id}", flush=True)
            while True:
                time.sleep(1)
        done = []
        while True:
            try:
                trial = c.next_trial(study_id)
            except SearchFinished:
                break
            time.sleep(0.05)  # training
            c.complete_trial(study_id, trial.trial_id, float(sum(trial.tokens)))
            done.append([trial.trial_id, trial.issue_count])
        study = c.get_study(study_id)
        print(
            json.dumps(
                {
                    "completed": done,
                    "succeeded": study.trial_counts.succeeded,
                    "active": study.trial_counts.active,
                    "lease_expirations": study.lease_expirations,
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
