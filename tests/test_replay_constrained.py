"""Replay is exact under cost constraints too: a Study rebuilt from the events a live,
constrained, parallel search recorded has the live annealer's whole state (recombination
hints the feasibility check discarded included)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from sanas.spaces import SpaceConfig
from sanas_server.journal import Record
from sanas_server.spec import Constraints, StudyRequest, StudySpec
from sanas_server.study import Study
from sanas_server.trials import TrialRecord


def peak(tokens: tuple[int, ...]) -> float:
    return -float(sum((t - 4) ** 2 for t in tokens))


def rugged(tokens: tuple[int, ...]) -> float:
    # Uneven, so late results often beat their own base and leave hints.
    return float(sum((t * 31 + i * 7) % 11 for i, t in enumerate(tokens)))


Reward = Callable[[tuple[int, ...]], float]


def constrained(seed: int, max_flops: int, steps: int) -> Study:
    request = StudyRequest(
        search_spaces=(SpaceConfig("MobileNetV2Space"),),
        search_steps=steps,
        seed=seed,
        constraints=Constraints(max_flops=max_flops),
        # Steps are the clock here: no lease may run out and re-issue a trial.
        lease_seconds=1e6,
        policy="annealer",  # the annealer's hints under constraints (the guided: test_guided)
    )
    return Study("s", request, StudySpec.resolve(request), 0.0)


def drive_parallel(
    study: Study,
    rounds: int,
    pending: int,
    reward: Reward,
    infeasible: Callable[[tuple[int, ...]], bool] = lambda tokens: False,
) -> list[Record]:
    """`pending` trials outstanding; results return in an order set by their tokens;
    `infeasible`: which vectors their trainers report infeasible."""
    events: list[Record] = []
    held: list[TrialRecord] = []
    for step in range(rounds):
        while len(held) < pending and study.budget_remaining > 0:
            trial, event = study.suggest("w", float(step))
            assert event is not None
            events.append(event)
            held.append(trial)
        if not held:
            break
        held.sort(key=lambda t: (sum(t.tokens) * 7919 + t.trial_id) % 13)
        trial = held.pop(0)
        _, event = study.complete(
            trial.trial_id, reward(trial.tokens), infeasible(trial.tokens), float(step)
        )
        assert event is not None
        events.append(event)
    return events


def full_state(study: Study) -> dict[str, Any]:
    a = study.policy
    state = a.state()
    state["kicks"] = sorted(map(tuple, state["kicks"]))  # a set: its order carries nothing
    return {
        **state,
        "issued": sorted(a._issued),
        "trials": study.trials,
        "summary": study.summary(),
    }


def replayed(study: Study, events: list[Record]) -> Study:
    again = Study.from_header(study.header())
    for event in events:
        again.apply(event)
    return again


def test_seed_22_keeps_no_hint_the_live_proposal_discarded() -> None:
    # The review's case: live, a hint failed the feasibility check and was dropped; the
    # replay kept it (hints [] live, [(4, 4, 5, ...)] after a reopen).
    study = constrained(22, 8_000_000, 60)
    events = drive_parallel(study, 60, 6, peak)
    assert full_state(replayed(study, events)) == full_state(study)
    assert any(e.get("dropped") for e in events)  # the case really arose


@pytest.mark.parametrize("seed", range(16))
@pytest.mark.parametrize(
    "max_flops,pending,reward",
    [(8_000_000, 6, peak), (7_000_000, 4, rugged), (10_000_000, 8, peak)],
)
def test_constrained_parallel_replay_is_exact(
    seed: int, max_flops: int, pending: int, reward: Reward
) -> None:
    study = constrained(seed, max_flops, 110)
    events = drive_parallel(study, 80, pending, reward)
    assert study.policy.rejected > 0  # the constraints really bind
    again = replayed(study, events)
    assert full_state(again) == full_state(study)
    # Replayed, it goes on to decide exactly what the live study decides.
    assert drive_parallel(again, 30, pending, reward) == drive_parallel(study, 30, pending, reward)
