"""The model-guided policy (guided.py): seeded and deterministic, plugs into Study, and a
journal replay or a snapshot rebuilds it without fitting its surrogate again, also under
cost constraints, with infeasible results and with results arriving out of order."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from test_replay_constrained import drive_parallel

from sanas.spaces import SpaceConfig
from sanas_server.errors import InvalidArgument
from sanas_server.guided import (
    MAX_BELIEVED,
    Feasibility,
    GuidedAnnealer,
    Surrogate,
    choose_kernel,
    ordinal_distances,
    spearman,
)
from sanas_server.journal import ANNEALER_FORMAT, FORMAT_VERSION, Record
from sanas_server.spec import MAX_GUIDED_TOKENS, Constraints, StudyRequest, StudySpec
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


def walled(seed: int, n: int = 60, feasibility: str = "both") -> tuple[list, GuidedAnnealer]:
    """Proposals on a bowl whose optimum (3, 3, 3, 3) borders an infeasible region."""
    policy = GuidedAnnealer(
        TABLE, [0, 0, 0, 0], 10.0, 0.85, seed, min_results=5, feasibility=feasibility
    )
    out = []
    for _ in range(n):
        tokens = policy.propose(None).tokens
        out.append(tokens)
        policy.judge(tokens, reward(tokens), sum(tokens) > 13)
    return out, policy


def test_deterministic_given_a_seed_with_infeasible_results() -> None:
    first, policy = walled(5)
    assert policy.infeasible and policy._classifier is not None  # the classifier chose too
    assert first == walled(5)[0]
    assert first != walled(6)[0]


def test_infeasible_results_keep_the_search_out_of_the_infeasible_region() -> None:
    # Without a model of feasibility the GP's variance is highest where it never got a
    # reward, the infeasible side: UCB keeps proposing there.
    taught = sum(sum(t) > 13 for seed in range(4) for t in walled(seed)[0])
    ignored = sum(sum(t) > 13 for seed in range(4) for t in walled(seed, feasibility="none")[0])
    assert taught < 0.75 * ignored


def test_feasibility_is_low_next_to_infeasible_results_and_high_next_to_feasible() -> None:
    x = np.array([(a, b) for a in range(6) for b in range(6)])
    feasible = x.sum(axis=1) <= 5
    model = Feasibility(x, feasible, 0.35, 0.1, "ordinal", (6, 6))
    p = model.probability(np.array([(0, 0), (2, 2), (5, 5), (3, 4)]))
    assert p[0] > 0.8 and p[1] > 0.5 and p[2] < 0.2 and p[3] < 0.5


@pytest.mark.parametrize("seed", range(5))
def test_the_kernel_choice_follows_the_landscape(seed: int) -> None:
    rng = np.random.default_rng(seed)
    ranges = (8,) * 6
    x = rng.integers(0, 8, (60, 6))
    target = rng.integers(0, 8, 6)
    # Ordered: the reward falls with the distance in values, 4 is next to 3.
    ordered = -np.abs(x - target).sum(axis=1).astype(np.float64)
    # Categorical: only matching the target's value counts; near values are no better.
    perm = rng.permutation(8)  # a value's order says nothing about its effect
    categorical = (perm[x] == perm[target]).sum(axis=1).astype(np.float64)
    scales, kernels = (0.2, 0.35, 0.5, 0.75), ("hamming", "ordinal")
    assert choose_kernel(x, ordered, ranges, kernels, scales, 0.1)[0] == "ordinal"
    assert choose_kernel(x, categorical, ranges, kernels, scales, 0.1)[0] == "hamming"


def test_ordinal_distance_counts_steps_per_range_and_skips_ranges_of_one() -> None:
    d = ordinal_distances(np.array([(0, 0, 0)]), np.array([(4, 0, 1), (2, 0, 0)]), (5, 1, 3))
    assert np.allclose(d, [[1.0 + 0.5, 0.5]])


def new_study() -> Study:
    request = StudyRequest(
        search_spaces=(SpaceConfig("custom", range_table=TABLE),),
        search_steps=30,
        seed=2,
        policy="model-guided",
    )
    return Study("g", request, StudySpec.resolve(request), 0.0)


def test_plugs_into_study_and_replays_without_refitting() -> None:
    study = new_study()
    assert isinstance(study.policy, GuidedAnnealer) and POLICIES["model-guided"] is GuidedAnnealer
    records = []
    for step in range(20):
        trial, record = study.suggest("w", float(step))
        records.append(record)
        _, record = study.complete(trial.trial_id, reward(trial.tokens), False, step + 0.5)
        records.append(record)
    assert study.policy.fits > 0

    again = Study.from_header(json.loads(json.dumps(study.header())))
    for record in json.loads(json.dumps(records)):
        again.apply(record)
    assert again.policy.fits == 0  # the proposals' tokens were applied, never re-decided
    assert again.trials == study.trials
    assert again.policy.state() == study.policy.state()

    snap = Study.from_header(json.loads(json.dumps(study.header())))
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


def test_pending_trials_shrink_the_variance_around_them() -> None:
    x = np.array([(0, 0, 0, 0), (3, 0, 0, 0), (0, 3, 0, 0), (1, 1, 1, 1)])
    y = np.array([reward(tuple(t)) for t in x], dtype=np.float64)
    surrogate = Surrogate(x, y, 0.5, 0.1)
    near = np.array([(3, 3, 3, 3), (3, 3, 3, 2), (4, 4, 4, 4)])
    mean, sd = surrogate.posterior(near)
    mean_p, sd_p = surrogate.posterior(near, pending=np.array([(3, 3, 3, 3)]))
    assert np.allclose(mean, mean_p)  # a kriging believer: the mean does not move
    assert sd_p[0] < sd[0] and sd_p[1] < sd[1]  # most at the pending vector, then near it
    assert sd_p[0] < sd_p[1] and sd_p[2] <= sd[2]
    _, sd_seen = surrogate.posterior(x[:1])
    assert sd_seen[0] < sd[0]  # an observed vector is known better than an unseen one
    assert np.allclose(surrogate.predict(near), surrogate.mean + surrogate.std * mean)


def test_the_candidate_pool_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    policy = GuidedAnnealer((1000,) * 30, [0] * 30, 10.0, 0.85, 1, min_results=5)
    sizes: list[int] = []
    scores = policy._scores
    monkeypatch.setattr(policy, "_scores", lambda o: sizes.append(len(o)) or scores(o))
    for _ in range(30):
        tokens = policy.propose(None).tokens
        policy.judge(tokens, -float(sum(tokens)), False)
    bound = policy.candidates + policy.top_candidates + policy.random_candidates
    assert sizes and max(sizes) <= bound


# -- replay under constraints, infeasible results and out-of-order arrivals -------------


def rugged(tokens: tuple[int, ...]) -> float:
    return float(sum((t * 31 + i * 7) % 11 for i, t in enumerate(tokens)))


def constrained(seed: int, steps: int) -> Study:
    request = StudyRequest(
        search_spaces=(SpaceConfig("MobileNetV2Space"),),
        search_steps=steps,
        seed=seed,
        constraints=Constraints(max_flops=8_000_000),
        lease_seconds=1e6,  # steps are the clock: no lease runs out
        policy="model-guided",
    )
    return Study("s", request, StudySpec.resolve(request), 0.0)


def smooth(tokens: tuple[int, ...]) -> float:
    return -float(sum((t - 2) ** 2 for t in tokens))


def drive(study: Study, rounds: int, pending: int, landscape: Any = rugged) -> list[Record]:
    """`pending` trials outstanding, results returned in an order set by their tokens,
    every 5th kind of vector reported infeasible by its trainer."""
    return drive_parallel(study, rounds, pending, landscape, lambda t: sum(t) % 5 == 0)


def full_state(study: Study) -> dict[str, Any]:
    policy = study.policy
    assert isinstance(policy, GuidedAnnealer)
    state = policy.state()
    state["kicks"] = sorted(map(tuple, state["kicks"]))  # a set: its order carries nothing
    return {**state, "issued": sorted(policy._issued), "trials": study.trials}


@pytest.mark.parametrize(
    ("seed", "landscape", "kernel"),
    [(0, rugged, None), (1, rugged, None), (2, rugged, None), (0, smooth, "ordinal")],
)
def test_constrained_out_of_order_replay_is_exact(seed: int, landscape: Any, kernel: Any) -> None:
    study = constrained(seed, 90)
    events = json.loads(json.dumps(drive(study, 60, 8, landscape)))
    policy = study.policy
    assert isinstance(policy, GuidedAnnealer) and policy.fits > 0
    assert policy.rejected > 0  # the constraints really bind
    assert any(e.get("infeasible") for e in events)  # and trainers reported some
    assert policy.infeasible and policy._classifier is not None  # which the model used
    assert kernel is None or (policy._choice is not None and policy._choice[1] == kernel)

    again = Study.from_header(json.loads(json.dumps(study.header())))
    for event in events:
        again.apply(event)
    assert isinstance(again.policy, GuidedAnnealer) and again.policy.fits == 0
    assert full_state(again) == full_state(study)

    snap = Study.from_header(json.loads(json.dumps(study.header())))
    snap.apply(json.loads(json.dumps(study.snapshot_event())))
    assert full_state(snap) == full_state(study)

    # Each goes on to decide exactly what the live study decides (the length scale a
    # restored policy chooses again is the live one's).
    live = drive(study, 25, 8, landscape)
    assert drive(again, 25, 8, landscape) == live
    assert drive(snap, 25, 8, landscape) == live


def test_the_header_names_the_policy_in_the_format_that_introduced_it() -> None:
    study = new_study()
    header = json.loads(json.dumps(study.header()))
    assert header["format"] == FORMAT_VERSION == 3
    assert header["spec"]["policy"] == header["request"]["policy"] == "model-guided"
    assert isinstance(Study.from_header(header).policy, GuidedAnnealer)
    # An annealing study's header is what releases before policies wrote (format 2, no
    # policy in its spec): a rollback still serves it; it refuses a model-guided one by
    # its format. (Its request keeps the policy asked for, a key those releases ignore.)
    request = StudyRequest((SpaceConfig("custom", range_table=TABLE),), policy="annealer")
    annealing = Study("a", request, StudySpec.resolve(request), 0.0).header()
    assert annealing["format"] == ANNEALER_FORMAT == 2
    assert "policy" not in annealing["spec"] and annealing["request"]["policy"] == "annealer"
    assert type(Study.from_header(annealing).policy) is POLICIES["annealer"]
    header["spec"]["policy"] = "bayesian"
    with pytest.raises(ValueError, match="'bayesian' is not one of"):
        Study.from_header(header)


def test_an_unknown_policy_is_refused_by_name() -> None:
    request = StudyRequest((SpaceConfig("custom", range_table=TABLE),), policy="tpe")
    with pytest.raises(InvalidArgument, match="'tpe' is not a proposal policy: use one of"):
        StudySpec.resolve(request)


def test_spearman_matches_its_definition() -> None:
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 1, 1], [1, 2, 3]) == 0.0  # a constant side
    # Ties take their average rank: x ranks (0.5, 0.5, 2, 3), Pearson of the ranks.
    rx, ry = np.array([0.5, 0.5, 2, 3]), np.array([0.0, 2, 1, 3])
    expected = float(np.corrcoef(rx, ry)[0, 1])
    assert spearman([5, 5, 6, 7], [1, 3, 2, 4]) == pytest.approx(expected)


def test_the_model_fit_is_measured_on_results_before_they_were_seen() -> None:
    """The study's ModelFit: the rank correlation of what the model predicted when it
    chose a trial with the trial's reward. Each prediction is the surrogate's, fitted on
    the results before the trial's; replay and a snapshot give the same figure without
    refitting; an annealing study has none."""
    study = new_study()
    policy = study.policy
    assert isinstance(policy, GuidedAnnealer)
    records = []
    pairs = []
    for step in range(30):
        seen = len(policy.results)
        trial, record = study.suggest("w", float(step))
        assert record is not None
        records.append(record)
        predicted = record.get("predicted")
        if predicted is not None:
            assert policy.surrogate().x.shape[0] == seen  # fitted before this result
            expected = float(policy.surrogate().predict(np.array([trial.tokens]))[0])
            assert predicted == pytest.approx(expected)
        _, record = study.complete(trial.trial_id, reward(trial.tokens), False, step + 0.5)
        records.append(record)
        if predicted is not None:
            pairs.append((predicted, reward(trial.tokens)))
    fit = study.summary().model_fit
    assert fit is not None and fit.trials == min(len(pairs), 20) >= 10
    last = pairs[-20:]
    assert fit.rank_correlation == pytest.approx(spearman(*zip(*last, strict=True)))
    assert fit.rank_correlation > 0.2, fit  # a smooth landscape: it ranks better than chance
    again = Study.from_header(json.loads(json.dumps(study.header())))
    for record in json.loads(json.dumps(records)):
        again.apply(record)
    snap = Study.from_header(json.loads(json.dumps(study.header())))
    snap.apply(json.loads(json.dumps(study.snapshot_event())))
    assert again.summary().model_fit == snap.summary().model_fit == fit
    assert again.policy.fits == snap.policy.fits == 0

    request = StudyRequest((SpaceConfig("custom", range_table=TABLE),), seed=2, policy="annealer")
    annealing = Study("a", request, StudySpec.resolve(request), 0.0)
    for step in range(15):
        trial, _ = annealing.suggest("w", float(step))
        annealing.complete(trial.trial_id, reward(trial.tokens), False, step + 0.5)
    assert annealing.summary().model_fit is None


@pytest.mark.parametrize("seed", range(20))
def test_the_feasibility_window_is_the_latest_results_of_either_kind(seed: int) -> None:
    rng = np.random.default_rng(seed)
    policy = GuidedAnnealer(TABLE, [0, 0, 0, 0], 10.0, 0.85, seed, max_fit=int(rng.integers(3, 30)))
    arrivals = []
    for k in range(40):
        tokens, ok = (k % 5, k // 5 % 5, k // 25, 0), bool(rng.random() < 0.6)
        arrivals.append((tokens, ok))
        policy.apply_result(tokens, float(k), not ok, accepted=False)
    window = arrivals[-policy.max_fit :]
    classifier = policy.classifier()
    if all(ok for _, ok in window):
        assert classifier is None
    else:
        assert classifier is not None
        assert [tuple(t) for t in classifier.x] == [t for t, _ in window]
        assert list(classifier.centred > 0) == [ok for _, ok in window]


def test_a_misspelt_model_choice_is_refused_not_silently_ignored() -> None:
    with pytest.raises(ValueError, match="feasibility"):
        GuidedAnnealer(TABLE, [0] * 4, 10.0, 0.85, 0, feasibility="gated")
    with pytest.raises(ValueError, match="kernels"):
        GuidedAnnealer(TABLE, [0] * 4, 10.0, 0.85, 0, kernels=("hamming", "ordered"))
    with pytest.raises(ValueError, match="ranges"):
        Surrogate(np.zeros((2, 4), dtype=np.int64), np.zeros(2), 0.5, 0.1, "ordinal")


def test_long_token_vectors_default_to_the_annealer_and_refuse_the_model() -> None:
    def spec(length: int, policy: str | None) -> StudySpec:
        space = SpaceConfig("custom", range_table=(3,) * length)
        return StudySpec.resolve(StudyRequest((space,), seed=1, policy=policy))

    assert spec(MAX_GUIDED_TOKENS, None).policy == "model-guided"
    assert spec(MAX_GUIDED_TOKENS + 1, None).policy == "annealer"
    assert spec(MAX_GUIDED_TOKENS + 1, "annealer").policy == "annealer"
    with pytest.raises(InvalidArgument, match=f"at most {MAX_GUIDED_TOKENS} tokens; this search"):
        spec(MAX_GUIDED_TOKENS + 1, "model-guided")


def test_believer_points_are_bounded_however_many_trials_run() -> None:
    """Scoring runs under the study's lock: at most MAX_BELIEVED running trials count as
    observed (the latest), so 500 running trials cost what 64 do."""
    policy = GuidedAnnealer(TABLE, [0, 0, 0, 0], 10.0, 0.85, 0, min_results=5)
    for _ in range(12):
        tokens = policy.propose(None).tokens
        policy.judge(tokens, reward(tokens), False)
    seen: list[int] = []
    original = Surrogate.posterior

    def spy(
        self: Surrogate, x: np.ndarray, pending: np.ndarray | None = None, with_sd: bool = True
    ):
        seen.append(0 if pending is None else len(pending))
        return original(self, x, pending, with_sd)

    Surrogate.posterior = spy  # type: ignore[method-assign]
    try:
        for _ in range(150):  # none of them completes: all pending
            policy.propose(None)
    finally:
        Surrogate.posterior = original  # type: ignore[method-assign]
    assert len(policy.origins) == 150 and max(seen) == MAX_BELIEVED
