"""The model-guided policy (guided.py): seeded and deterministic, plugs into Study, and a
journal replay or a snapshot rebuilds it without fitting its surrogate again."""

from __future__ import annotations

import json

import numpy as np

from sanas.spaces import SpaceConfig
from sanas_server.guided import GuidedAnnealer
from sanas_server.spec import StudyRequest, StudySpec
from sanas_server.study import POLICIES, Study

TABLE = (5, 5, 5, 5)


def reward(tokens: tuple[int, ...]) -> float:
    return -float(sum((t - 3) ** 2 for t in tokens))


def proposals(seed: int, n: int = 40) -> list[tuple[int, ...]]:
    policy = GuidedAnnealer(TABLE, [0, 0, 0, 0], 10.0, 0.85, seed, min_results=5)
    out = []
    for _ in range(n):
        tokens = policy.propose(None).tokens
        out.append(tokens)
        policy.judge(tokens, reward(tokens), False)
    assert policy.fits > 0  # the surrogate did choose
    return out


def test_deterministic_given_a_seed() -> None:
    first = proposals(3)
    assert first == proposals(3)
    assert len(set(first)) == len(first)  # never a vector twice
    assert first != proposals(4)


def new_study() -> Study:
    request = StudyRequest(
        search_spaces=(SpaceConfig("custom", range_table=TABLE),), search_steps=30, seed=2
    )
    return Study("g", request, StudySpec.resolve(request), 0.0, policy=POLICIES["model-guided"])


def test_plugs_into_study_and_replays_without_refitting() -> None:
    study = new_study()
    assert isinstance(study.policy, GuidedAnnealer) and Study.DEFAULT_POLICY is not GuidedAnnealer
    records = []
    for step in range(20):
        trial, record = study.suggest("w", float(step))
        records.append(record)
        _, record = study.complete(trial.trial_id, reward(trial.tokens), False, step + 0.5)
        records.append(record)
    assert study.policy.fits > 0

    again = Study.from_header(json.loads(json.dumps(study.header())), policy=GuidedAnnealer)
    for record in json.loads(json.dumps(records)):
        again.apply(record)
    assert again.policy.fits == 0  # the proposals' tokens were applied, never re-decided
    assert again.trials == study.trials
    assert again.policy.state() == study.policy.state()

    snap = Study.from_header(json.loads(json.dumps(study.header())), policy=GuidedAnnealer)
    snap.apply(json.loads(json.dumps(study.snapshot_event())))
    assert snap.policy.fits == 0 and snap.policy.state() == study.policy.state()

    # Both go on exactly where the live study would.
    nexts = [s.suggest("w", 99.0)[0].tokens for s in (study, again, snap)]
    assert nexts[0] == nexts[1] == nexts[2]


def test_the_surrogate_ranks_candidates() -> None:
    policy = GuidedAnnealer(TABLE, [0, 0, 0, 0], 10.0, 0.85, 0, min_results=5)
    for tokens in [(0, 0, 0, 0), (3, 0, 0, 0), (0, 3, 0, 0), (1, 1, 1, 1), (3, 3, 3, 0)]:
        policy.record_proposal(tokens)
        policy.apply_result(tokens, reward(tokens), False, accepted=False)
    predicted = policy.surrogate().predict(np.array([(3, 3, 3, 3), (0, 0, 0, 1)]))
    assert predicted[0] > predicted[1]
