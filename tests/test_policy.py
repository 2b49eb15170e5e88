"""The proposal-policy seam (policy.py): a study knows its search only through Policy,
so a tiny policy of a test's own plugs into Study, and its decisions survive a journal
replay and a snapshot, with no change to Study."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Sequence
from typing import Any

import pytest

from sanas.spaces import SpaceConfig
from sanas_server.guided import GuidedAnnealer
from sanas_server.journal import Complete, Progress, Suggest
from sanas_server.policy import (
    Feasible,
    Judgement,
    Policy,
    Proposal,
    SpaceExhausted,
    Standing,
)
from sanas_server.spec import DEFAULT_POLICY, POLICY_NAMES, StudyRequest, StudySpec
from sanas_server.stopping import EarlyStopping, MedianRule
from sanas_server.study import POLICIES, Study
from sanas_server.trials import TrialState


class Ordered(Policy):
    """Proposes the first token vector not yet issued in mixed-radix order, keeps the
    best result as the base: no generator, so its proposals and judgements carry no state
    to restore (everything it knows follows from the events)."""

    def __init__(self, table: Sequence[int]) -> None:
        self.table = tuple(table)
        self.best: tuple[tuple[int, ...], float] | None = None
        self.issued: set[tuple[int, ...]] = set()
        self.calls: list[str] = []

    @classmethod
    def for_spec(cls, spec: StudySpec) -> Ordered:
        return cls(spec.range_table)

    def _tokens(self, number: int) -> tuple[int, ...]:
        out = []
        for radix in reversed(self.table):
            number, digit = divmod(number, radix)
            out.append(digit)
        if number:
            raise SpaceExhausted("every vector issued")
        return tuple(reversed(out))

    def propose(self, feasible: Feasible | None) -> Proposal:
        number = 0
        while (tokens := self._tokens(number)) in self.issued:
            number += 1
        self.record(Proposal(tokens, temperature=0.0))
        return Proposal(tokens, temperature=0.0)

    def record(self, proposal: Proposal) -> None:
        self.calls.append("record")
        self.issued.add(tuple(proposal.tokens))

    def judge(self, tokens: Sequence[int], reward: float, infeasible: bool) -> Judgement:
        accepted = not infeasible and (self.best is None or reward > self.best[1])
        judgement = Judgement(accepted)
        self.restore(tokens, reward, infeasible, judgement)
        return judgement

    def restore(
        self, tokens: Sequence[int], reward: float, infeasible: bool, judgement: Judgement
    ) -> None:
        self.calls.append("restore")
        if judgement.accepted:
            self.best = (tuple(tokens), reward)

    def stop(self, tokens: Sequence[int]) -> None:
        self.calls.append("stop")

    def skip(self, tokens: Sequence[int]) -> None:
        self.calls.append("skip")

    def rebase(
        self,
        base_tokens: Sequence[int],
        base_reward: float | None,
        best_tokens: Sequence[int] | None,
        best_reward: float | None,
        rewarded: int,
    ) -> None:
        if best_tokens is not None and best_reward is not None:
            self.best = (tuple(best_tokens), best_reward)

    def standing(self) -> Standing:
        tokens, reward = self.best or (None, None)
        current = tokens or self._tokens(0)
        return Standing(tokens, reward, current, reward, 0.0, 0)

    def state(self) -> dict[str, Any]:
        return {"best": None if self.best is None else list(self.best)}

    @classmethod
    def from_state(
        cls, spec: StudySpec, state: dict[str, Any], issued: Iterable[Sequence[int]]
    ) -> Ordered:
        policy = cls.for_spec(spec)
        best = state["best"]
        policy.best = None if best is None else (tuple(best[0]), best[1])
        policy.issued = {tuple(t) for t in issued}
        return policy


def new_study(policy: type[Policy] | None = Ordered) -> Study:
    request = StudyRequest(
        search_spaces=(SpaceConfig("custom", range_table=(3, 4)),),
        search_steps=12,
        seed=1,
        early_stopping=EarlyStopping(MedianRule(start_step=1, min_trials=1)),
    )
    return Study("s", request, StudySpec.resolve(request), 0.0, policy=policy)


def replayed(study: Study, records: list[dict], policy: type[Policy] | None) -> Study:
    again = Study.from_header(json.loads(json.dumps(study.header())), policy=policy)
    for record in json.loads(json.dumps(records)):
        again.apply(record)
    return again


def run(study: Study) -> list[dict]:
    """Suggest, complete, skip and early-stop trials; the records written."""
    records = []

    def keep(pair: tuple[Any, dict | None]) -> Any:
        assert pair[1] is not None
        records.append(pair[1])
        return pair[0]

    for reward in (0.2, 0.5, 0.1):
        trial = keep(study.suggest("w", 1.0))
        if reward == 0.2:  # a finished curve for the median rule
            _, stop, record = study.report_progress(trial.trial_id, 1, reward, 1.5)
            assert not stop and record is not None
            records.append(record)
        keep(study.complete(trial.trial_id, reward, False, 2.0))
    skipped = keep(study.suggest("w", 3.0))
    keep(study.skip(skipped.trial_id, 3.5))
    stopped = keep(study.suggest("w", 4.0))
    _, stop, record = study.report_progress(stopped.trial_id, 1, -5.0, 4.5)
    assert stop and record is not None
    records.append(record)
    return records


@pytest.mark.parametrize("with_snapshot", [False, True])
def test_a_policy_of_its_own_plugs_into_study(with_snapshot: bool) -> None:
    study = new_study()
    assert isinstance(study.policy, Ordered)
    records = run(study)
    # The proposals are the policy's, stored as they are (no generator state: no "rng").
    suggests = [r for r in records if r["e"] == "suggest"]
    assert [r["tokens"] for r in suggests] == [[0, 0], [0, 1], [0, 2], [0, 3], [1, 0]]
    assert all("rng" not in r and "radius" not in r for r in suggests)
    assert study.policy.calls == [*["record", "restore"] * 3, "record", "skip", "record", "stop"]
    summary = study.summary()
    assert (summary.best_tokens, summary.best_reward) == ((0, 1), 0.5)
    counts = summary.counts
    assert counts[TrialState.SUCCEEDED] == 3 and counts[TrialState.SKIPPED] == 1
    assert counts[TrialState.STOPPED] == 1

    if with_snapshot:
        again = replayed(study, [study.snapshot_event()], Ordered)
        assert again.policy.calls == []  # rebuilt from its state, not replayed
    else:
        again = replayed(study, records, Ordered)
        assert again.policy.calls == study.policy.calls  # replay applies, never decides
    assert again.trials == study.trials
    assert again.policy.state() == study.policy.state()
    assert again.policy.issued == study.policy.issued
    # ... and the rebuilt study goes on where the first one would have.
    assert again.suggest("w", 9.0)[0].tokens == study.suggest("w", 9.0)[0].tokens == (1, 1)


def test_a_study_gets_the_policy_its_spec_names_and_its_header_keeps_it() -> None:
    study = new_study(policy=None)
    # The default for new studies: the policy that measured best (docs/model-guided.md).
    assert study.spec.policy == DEFAULT_POLICY == "model-guided"
    assert type(study.policy) is GuidedAnnealer
    records = run(study)
    again = replayed(study, records, policy=None)  # the header names it
    assert type(again.policy) is GuidedAnnealer
    assert again.policy.state() == study.policy.state() and again.trials == study.trials
    assert set(POLICIES) == set(POLICY_NAMES)  # every name a config may give has a class


def test_a_proposal_and_a_judgement_are_event_fields() -> None:
    """What the events store as it is: each field of Proposal is a Suggest field, each
    field of Judgement a Complete and a Progress field (so on-disk keys stay theirs)."""
    suggest = {f.name for f in dataclasses.fields(Suggest)}
    assert {f.name for f in dataclasses.fields(Proposal)} <= suggest
    judgement = {f.name for f in dataclasses.fields(Judgement)}
    assert judgement <= {f.name for f in dataclasses.fields(Complete)}
    assert judgement <= {f.name for f in dataclasses.fields(Progress)}
    proposal = Proposal((1, 2), 0.5, rng_state=[1, 2, 3, 4], radius=2, kick=True)
    event = Suggest(trial_id=0, client_id="w", time=1.0, **proposal.event_fields())
    assert Proposal.of_event(event) == proposal
