"""A trainer process for the tests: runs one study to its end and prints what it did.

usage: python trainer.py ADDRESS STUDY_ID [--suggest-next]
Prints one JSON line: {"completed": [[trial_id, reward], ...]}.
"""

from __future__ import annotations

import json
import sys

from sanas import Client, SearchFinished


def reward_of(tokens: list[int]) -> float:
    return -float(sum((t - 4) ** 2 for t in tokens))


def main() -> None:
    address, study_id = sys.argv[1], sys.argv[2]
    suggest_next = "--suggest-next" in sys.argv
    done = []
    with Client(address, timeout=30) as client:
        client.wait_ready()
        try:
            trial = client.suggest_trial(study_id)
        except SearchFinished:
            trial = None
        while trial is not None:
            reward = reward_of(list(trial.tokens))
            done.append([trial.trial_id, reward])
            if suggest_next:
                response = client.complete_trial(
                    study_id, trial.trial_id, reward, suggest_next=True
                )
                trial = response.next_trial if response.HasField("next_trial") else None
            else:
                client.complete_trial(study_id, trial.trial_id, reward)
                try:
                    trial = client.suggest_trial(study_id)
                except SearchFinished:
                    trial = None
    print(json.dumps({"completed": done}))


if __name__ == "__main__":
    main()
