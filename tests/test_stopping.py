"""The stopping rules alone (pure functions of curves) and in the Study state machine."""

from __future__ import annotations

import dataclasses
import json
import tracemalloc

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sanas.spaces import SpaceConfig
from sanas_server import study as study_module
from sanas_server.errors import InvalidArgument, TrialAlreadyCompleted, TrialNotHeld
from sanas_server.spec import StudyRequest, StudySpec
from sanas_server.stopping import (
    Curve,
    EarlyStopping,
    HalvingRule,
    MedianRule,
    judge,
    judge_reference,
)
from sanas_server.study import Study
from sanas_server.trials import TrialState

Points = list[tuple[int, float]]


def curve(*values: float, start: int = 1) -> Points:
    return list(enumerate(values, start))


def judged(
    config: EarlyStopping, mine: Points, finished: list[Points], running: list[Points]
) -> str | None:
    """The verdict on the last point of `mine`, by the incremental rule (curves built
    point by point, the report judged against the curve before it) and by the reference;
    the two must agree."""
    *before, (step, value) = mine
    fast = judge(
        config, step, value, Curve(before), map(Curve, finished), [Curve(c) for c in running]
    )
    assert fast == judge_reference(config, mine, finished, running)
    return fast


MEDIAN = EarlyStopping(MedianRule(start_step=1, min_trials=2))


def test_median_continues_without_enough_finished_trials():
    weak = curve(0.01)
    assert judged(MEDIAN, weak, [], []) is None  # no finished trial yet
    assert judged(MEDIAN, weak, [curve(0.9)], []) is None  # one of the two needed
    assert judged(MEDIAN, weak, [curve(0.9), curve(0.8)], []) is not None


def test_median_ignores_running_trials_and_respects_start_step():
    finished = [curve(0.9, 0.9), curve(0.8, 0.8)]
    assert judged(MEDIAN, curve(0.1), [], finished) is None  # running: not counted
    late = EarlyStopping(MedianRule(start_step=2, min_trials=2))
    assert judged(late, curve(0.1), finished, []) is None
    assert judged(late, curve(0.1, 0.1), finished, []) is not None


def test_median_compares_best_so_far_with_running_averages():
    # Finished: running averages at step 2 are 0.5 and 0.7 -> median 0.6.
    finished = [curve(0.4, 0.6), curve(0.6, 0.8)]
    assert judged(MEDIAN, curve(0.65, 0.1), finished, []) is None  # best 0.65 > 0.6
    reason = judged(MEDIAN, curve(0.55, 0.5), finished, [])
    assert reason is not None and "median 0.6" in reason


def test_median_ties_continue_and_a_flat_landscape_never_stops():
    finished = [curve(0.5, 0.5), curve(0.5, 0.5), curve(0.5, 0.5)]
    assert judged(MEDIAN, curve(0.5, 0.5), finished, []) is None


def test_median_minimize_mode_reverses_the_direction():
    losses = EarlyStopping(MedianRule(start_step=1, min_trials=2), minimize=True)
    finished = [curve(1.0), curve(2.0)]  # median loss 1.5
    assert judged(losses, curve(1.2), finished, []) is None
    assert judged(losses, curve(1.8), finished, []) is not None
    assert judged(MEDIAN, curve(1.8), finished, []) is None  # maximizing: 1.8 is good


def test_median_uses_finished_curves_shorter_than_the_step():
    # A trial stopped at step 1 still counts at step 3, with its average up to there.
    finished = [curve(0.2), curve(0.3)]
    assert judged(MEDIAN, curve(0.1, 0.1, 0.1), finished, []) is not None


def test_halving_keeps_the_top_third_at_each_rung():
    rule = EarlyStopping(HalvingRule(min_step=1, reduction_factor=3, min_trials=3))
    others = [curve(0.9), curve(0.8), curve(0.7), curve(0.6), curve(0.5)]
    # 6 at rung 1 -> the top 2 continue.
    assert judged(rule, curve(0.85), others[:3], others[3:]) is None
    reason = judged(rule, curve(0.75), others[:3], others[3:])
    assert reason is not None and "rung 1" in reason
    # A tie with the last kept value continues.
    assert judged(rule, curve(0.8), others, []) is None


def test_halving_judges_only_when_a_rung_is_crossed():
    rule = EarlyStopping(HalvingRule(min_step=1, reduction_factor=3, min_trials=2))
    others = [curve(0.9, 0.9, 0.9), curve(0.9, 0.9, 0.9)]
    assert judged(rule, curve(0.1, 0.1), others, []) is None  # step 2 is no rung
    assert judged(rule, curve(0.1, 0.1, 0.1), others, []) is not None  # rung 3
    assert rule.rule.rungs_between(0, 30) == [1, 3, 9, 27]


def test_halving_waits_for_min_trials_at_a_rung():
    rule = EarlyStopping(HalvingRule(min_step=1, reduction_factor=2, min_trials=3))
    assert judged(rule, curve(0.1), [curve(0.9)], []) is None
    assert judged(rule, curve(0.1), [curve(0.9), curve(0.8)], []) is not None


def test_no_rule_never_stops():
    assert judged(EarlyStopping(), curve(0.0), [curve(1.0)] * 10, []) is None


# -- in the Study state machine -------------------------------------------------------
def make_study(rule: EarlyStopping, steps: int = 30) -> Study:
    request = StudyRequest(
        search_spaces=(SpaceConfig("custom", range_table=(6, 6, 6)),),
        search_steps=steps,
        seed=3,
        early_stopping=rule,
    )
    return Study("s", request, StudySpec.resolve(request), 0.0)


def replayed(study: Study, events: list[dict]) -> Study:
    again = Study.from_header(json.loads(json.dumps(study.header())))
    for event in json.loads(json.dumps(events)):
        again.apply(event)
    return again


def run_trial(study: Study, values: list[float], events: list[dict], now: float) -> bool:
    trial, event = study.suggest("t", now)
    events.append(event)
    for step, value in enumerate(values, 1):
        _, stop, event = study.report_progress(trial.trial_id, step, value, now, max_step=10)
        events.append(event)
        if stop:
            return True
    _, event = study.complete(trial.trial_id, values[-1], False, now)
    events.append(event)
    return False


def test_a_stopped_trial_is_a_rejected_move_and_replays_exactly():
    study = make_study(EarlyStopping(MedianRule(start_step=1, min_trials=2)))
    events: list[dict] = []
    assert not run_trial(study, [0.5, 0.6], events, 1.0)
    assert not run_trial(study, [0.7, 0.8], events, 2.0)
    temperature = study.policy.temperature
    base = study.policy.base_tokens
    assert run_trial(study, [0.1, 0.9], events, 3.0)
    stopped = study.trials[2]
    assert stopped.state is TrialState.STOPPED and stopped.reward == 0.1
    assert stopped.steps_saved == 9 and study.steps_saved == 9
    assert study.policy.base_tokens == base  # never the base ...
    assert study.policy.best_reward == 0.8  # ... nor the best
    assert study.policy.temperature < temperature  # but the search cools
    again = replayed(study, events)
    assert again.trials == study.trials
    assert again.policy.state() == study.policy.state()
    assert again.summary() == study.summary()
    # A snapshot of it restores the same state.
    from_snapshot = Study.from_header(study.header())
    from_snapshot.apply(json.loads(json.dumps(study.snapshot_event())))
    assert from_snapshot.trials == study.trials and from_snapshot.steps_saved == 9


def test_stopped_values_as_rewards_judges_the_last_value():
    study = make_study(
        EarlyStopping(MedianRule(start_step=1, min_trials=1), stopped_values_as_rewards=True)
    )
    events: list[dict] = []
    run_trial(study, [0.5], events, 1.0)
    assert run_trial(study, [0.2], events, 2.0)
    assert study.policy.rewarded == 2
    assert study.policy.reward_stats[0] == 2  # its value counts as a result
    assert replayed(study, events).policy.state() == study.policy.state()


def test_reports_after_the_stop_change_nothing_and_completion_is_accepted():
    study = make_study(EarlyStopping(MedianRule(min_trials=1)))
    run_trial(study, [0.9], [], 1.0)
    trial, _ = study.suggest("t", 2.0)
    _, stop, event = study.report_progress(trial.trial_id, 1, 0.1, 2.0)
    assert stop and event is not None
    before = study.trials[trial.trial_id]
    again, stop, event = study.report_progress(trial.trial_id, 2, 0.95, 3.0)
    assert stop and event is None and again == before
    done, event = study.complete(trial.trial_id, 0.95, False, 4.0)
    assert event is None and done.state is TrialState.STOPPED and done.reward == 0.1


def test_progress_report_validation():
    study = make_study(EarlyStopping())
    trial, _ = study.suggest("t", 1.0)
    study.report_progress(trial.trial_id, 3, 0.5, 1.0, client_id="t")
    _, stop, event = study.report_progress(trial.trial_id, 3, 0.5, 1.5)
    assert not stop and event is None  # a retry
    bad = [
        dict(step=2, value=0.5),  # steps must increase
        dict(step=3, value=0.6),  # a different value at a reported step
        dict(step=-1, value=0.5),
        dict(step=2**60, value=0.5),
        dict(step=4, value=float("nan")),
        dict(step=4, value=1e300),
        dict(step=4, value=0.5, max_step=3),
    ]
    for kwargs in bad:
        with pytest.raises(InvalidArgument):
            study.report_progress(trial.trial_id, now=2.0, **kwargs)
    with pytest.raises(TrialNotHeld, match="held by 't'"):
        study.report_progress(trial.trial_id, 4, 0.5, 2.0, client_id="other")
    assert len(study.trials[trial.trial_id].measurements) == 1  # nothing changed
    study.complete(trial.trial_id, 0.5, False, 3.0)
    with pytest.raises(TrialAlreadyCompleted):
        study.report_progress(trial.trial_id, 5, 0.5, 3.0)


def test_a_reissued_trial_starts_a_new_curve():
    study = make_study(EarlyStopping())
    trial, _ = study.suggest("a", 0.0)
    study.report_progress(trial.trial_id, 1, 0.5, 0.0)
    again, _ = study.suggest("b", 1000.0)  # the lease (60 s) ran out
    assert again.trial_id == trial.trial_id and again.measurements == ()
    study.report_progress(trial.trial_id, 1, 0.4, 1000.0, client_id="b")
    with pytest.raises(TrialNotHeld):
        study.report_progress(trial.trial_id, 2, 0.6, 1000.0, client_id="a")


def test_rule_parameters_are_checked():
    for rule in (
        MedianRule(start_step=-1),
        MedianRule(min_trials=-2),
        HalvingRule(reduction_factor=1),
        HalvingRule(min_step=-1),
    ):
        with pytest.raises(InvalidArgument, match="early_stopping"):
            make_study(EarlyStopping(rule))
    resolved = make_study(EarlyStopping(HalvingRule(0, 0, 0))).spec.early_stopping.rule
    assert resolved == HalvingRule(min_step=1, reduction_factor=3, min_trials=3)


def test_the_planned_last_step_is_never_stopped():
    study = make_study(EarlyStopping(MedianRule(min_trials=1)))
    run_trial(study, [0.9], [], 1.0)
    trial, _ = study.suggest("t", 2.0)
    _, stop, _ = study.report_progress(trial.trial_id, 1, 0.1, 2.0, max_step=1)
    assert not stop  # trained fully: nothing left to save
    study.complete(trial.trial_id, 0.1, False, 2.0)
    other, _ = study.suggest("t", 3.0)
    _, stop, _ = study.report_progress(other.trial_id, 1, 0.1, 3.0)  # no plan: judged
    assert stop


# -- incremental judging agrees with the rules from scratch ---------------------------
steps_st = st.lists(st.integers(0, 60), min_size=1, max_size=12, unique=True).map(sorted)
# Few distinct values, so ties (which always continue) happen often.
values_st = st.sampled_from([0.1, 0.2, 0.25, 0.5, 0.7, 0.9, 1.0, 2.5, -3.0, 1e100])


@st.composite
def curves_st(draw: st.DrawFn) -> Points:
    steps = draw(steps_st)
    return [(s, draw(values_st)) for s in steps]


rules_st = st.one_of(
    st.builds(MedianRule, st.integers(0, 40), st.integers(1, 6)),
    st.builds(HalvingRule, st.integers(1, 8), st.integers(2, 4), st.integers(1, 6)),
)


@settings(max_examples=400, deadline=None)
@given(
    rule=st.one_of(rules_st, st.deferred(lambda: study_rules_st)),
    minimize=st.booleans(),
    mine=curves_st(),
    finished=st.lists(curves_st(), max_size=8),
    running=st.lists(curves_st(), max_size=8),
)
def test_incremental_judgements_equal_the_rules_from_scratch(
    rule, minimize, mine, finished, running
):
    judged(EarlyStopping(rule, minimize), mine, finished, running)  # asserts the equality


# Rules that stop often on short scripts: small start steps, rungs and trial counts.
study_rules_st = st.one_of(
    st.builds(MedianRule, st.integers(0, 4), st.integers(1, 4)),
    st.builds(HalvingRule, st.integers(1, 3), st.integers(2, 3), st.integers(1, 4)),
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rule=study_rules_st,
    minimize=st.booleans(),
    script=st.lists(
        # Mostly reports; suggestions, completions and lost leases (x) among them.
        st.tuples(st.sampled_from("ssrrrrrrcx"), st.integers(0, 7), st.integers(1, 3), values_st),
        min_size=30,
        max_size=120,
    ),
)
def test_a_study_judges_every_report_as_the_rules_do_from_its_trials(rule, minimize, script):
    """Drive a Study (curves kept point by point, finished curves shared, running ones
    read in place) and judge each report again from scratch, from the trials' records."""
    study = make_study(EarlyStopping(rule, minimize), steps=30)
    now = 0.0
    for action, pick, gap, value in script:
        now += 1.0
        running = list(study.running)
        if action == "s" or not running:
            if study.budget_remaining > 0:
                study.suggest("t", now)
            continue
        trial = study.trials[running[pick % len(running)]]
        if action == "c":
            study.complete(trial.trial_id, value, False, now)
            continue
        if action == "x":  # the lease runs out: the trial starts a new curve elsewhere
            study.suggest("u", now + 1e6)
            now += 1e6
            continue
        step = (trial.measurements.last_step or 0) + gap
        finished = [
            [(s, v) for s, v, _ in t.measurements]
            for t in study.trials
            if t.state is not TrialState.ACTIVE and t.measurements
        ]
        others = [
            [(s, v) for s, v, _ in study.trials[i].measurements]
            for i in running
            if i != trial.trial_id
        ]
        points = [*((s, v) for s, v, _ in trial.measurements), (step, value)]
        config = study.spec.early_stopping
        expected = judge_reference(
            config, points, finished, others if isinstance(rule, HalvingRule) else []
        )
        got, stop, _ = study.report_progress(trial.trial_id, step, value, now)
        assert stop == (expected is not None)
        assert got.stop_reason == (expected or "")


def test_a_long_curve_costs_about_32_bytes_a_point():
    """Measurements are columns of int64 and float64 (with the running sums), not
    tuples of Python numbers (about 150 bytes a point, which made 300 trials of 10,000
    reports take 1 GB); appending one is O(1) (the tuple copy made a curve quadratic)."""
    study = make_study(EarlyStopping())
    trials = [study.suggest("t", 0.0)[0].trial_id for _ in range(4)]
    points = 5_000
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for step in range(1, points + 1):
        for trial_id in trials:
            study.report_progress(trial_id, step, step * 1e-4 + trial_id, 1.0 + step)
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    per_point = used / (points * len(trials))
    assert per_point < 48, f"{per_point:.0f} bytes a point"
    assert study.measured == points * len(trials)
    trial = study.trials[trials[0]]
    assert len(trial.measurements) == points and trial.measurements[-1][0] == points
    assert trial.measurements[9] == (10, 10e-4, 11.0)


def test_the_running_trials_curves_are_read_in_place_not_rebuilt(monkeypatch):
    """Successive halving compares with every running trial: their curves are passed as
    they are (a report does not copy other trials' points, which cost 74 ms a report
    with 16 running trials of 10,000 points)."""
    study = make_study(EarlyStopping(HalvingRule(min_step=1, reduction_factor=2)))
    held = [study.suggest("t", 0.0)[0].trial_id for _ in range(3)]
    for step in range(1, 50):
        for trial_id in held:
            study.report_progress(trial_id, step, 0.5, 0.0)
    seen: list[list[Curve]] = []
    real = study_module.judge

    def spy(config, step, value, curve, finished, running):
        seen.append(list(running))
        return real(config, step, value, curve, finished, running)

    monkeypatch.setattr(study_module, "judge", spy)
    study.report_progress(held[0], 64, 0.5, 0.0)  # crosses rung 64
    (running,) = seen
    assert {id(c) for c in running} == {id(study.trials[i].measurements.curve) for i in held[1:]}


# -- loss goals: rewards are maximized, a loss goal is the progress values' direction ----
def test_a_loss_goal_with_stopped_values_as_rewards_is_refused_with_the_reason():
    for rule in (MedianRule(), HalvingRule()):
        with pytest.raises(InvalidArgument, match="MINIMIZE would judge a stopped trial's loss"):
            make_study(EarlyStopping(rule, minimize=True, stopped_values_as_rewards=True))
    study = make_study(EarlyStopping(MedianRule(min_trials=1)))
    trial, _ = study.suggest("t", 0.0)
    own = EarlyStopping(MedianRule(), minimize=True, stopped_values_as_rewards=True)
    with pytest.raises(InvalidArgument, match="negated loss"):  # a report's own rule too
        study.report_progress(trial.trial_id, 1, 0.5, 0.0, rule=own)
    assert not study.trials[trial.trial_id].measurements


def test_a_study_made_with_that_combination_before_stops_as_rejected_moves():
    """Created before the refusal: its journal replays as decided, and from now on a
    stopped loss is a rejected move, so a diverging trial never becomes the best."""
    rule = EarlyStopping(MedianRule(start_step=1, min_trials=1), minimize=True)
    header = json.loads(json.dumps(make_study(rule).header()))
    for part in (header["request"], header["spec"]):
        part["early_stopping"]["stopped_values_as_rewards"] = True
    study = Study.from_header(header)
    trained, _ = study.suggest("t", 1.0)
    study.report_progress(trained.trial_id, 1, 0.4, 1.0, max_step=3)
    study.complete(trained.trial_id, -0.4, False, 1.0)  # reward: the negated loss
    diverging, _ = study.suggest("t", 2.0)
    _, stop, event = study.report_progress(diverging.trial_id, 1, 7.5, 2.0, max_step=3)
    assert stop and "as_reward" not in event
    assert study.policy.best_reward == -0.4 and study.policy.best_tokens == trained.tokens
    assert not study.trials[diverging.trial_id].stopped_as_reward
    # A journal event decided the old way still replays as it was decided.
    again = Study.from_header(header)
    for e in [
        {
            "e": "suggest",
            "id": 0,
            "tokens": list(trained.tokens),
            "T": 1.0,
            "client": "t",
            "time": 1.0,
        },
        {
            "e": "progress",
            "id": 0,
            "step": 1,
            "value": 7.5,
            "time": 1.0,
            "stop": "median",
            "as_reward": True,
            "accepted": True,
        },
    ]:
        again.apply(e)
    assert again.policy.best_reward == 7.5 and again.trials[0].stopped_as_reward


def test_a_trainer_with_the_old_config_still_joins_such_a_study(tmp_path):
    from sanas_server.controller import Controller
    from sanas_server.storage import FileStorage

    refused = EarlyStopping(MedianRule(), minimize=True, stopped_values_as_rewards=True)
    allowed = dataclasses.replace(refused, stopped_values_as_rewards=False)
    study = make_study(allowed)
    header = json.loads(json.dumps(study.header()))
    for part in (header["request"], header["spec"]):
        part["early_stopping"]["stopped_values_as_rewards"] = True
    storage = FileStorage(tmp_path)
    storage.create("s", header, [])
    storage.close()
    c = Controller(FileStorage(tmp_path))
    request = dataclasses.replace(study.request, early_stopping=refused)
    summary, created = c.create_study("s", request)
    assert not created and summary.study_id == "s"
    assert not summary.spec.early_stopping.stopped_values_as_rewards  # what it does now
    with pytest.raises(InvalidArgument, match="MINIMIZE"):
        c.create_study("new", request)  # but no new study is made with it
    c.close()


# -- the rule registry: one class a rule owns its kind, defaults, JSON and proto ---------
def test_every_registered_rule_round_trips_json_and_proto() -> None:
    from sanas.v1 import sanas_pb2 as pb
    from sanas_server.journal import early_stopping_from_json, early_stopping_to_json
    from sanas_server.service import early_stopping_from_pb, early_stopping_to_pb
    from sanas_server.stopping import RULES

    assert set(RULES) == {"median", "successive_halving"}
    for cls in RULES.values():
        rule = cls().resolved()
        config = EarlyStopping(rule, minimize=True)
        as_json = json.loads(json.dumps(early_stopping_to_json(config)))
        assert as_json["rule"]["kind"] == cls.kind
        assert early_stopping_from_json(as_json) == config
        message = early_stopping_to_pb(config)
        assert message.WhichOneof("rule") == cls.kind
        again = pb.EarlyStopping.FromString(message.SerializeToString())
        assert early_stopping_from_pb(again) == config


def test_rule_json_is_the_header_format() -> None:
    """The header keeps {"kind", the fields in order}: what format-2 journals hold."""
    assert list(MedianRule(5, 4).to_json().items()) == [
        ("kind", "median"),
        ("start_step", 5),
        ("min_trials", 4),
    ]
    assert list(HalvingRule(2, 4, 6).to_json()) == [
        "kind",
        "min_step",
        "reduction_factor",
        "min_trials",
    ]


def test_rule_defaults_and_ranges_are_the_rules_own() -> None:
    assert MedianRule(0, 0).resolved() == MedianRule(0, 3)
    assert HalvingRule(0, 0, 0).resolved() == HalvingRule(1, 3, 3)
    with pytest.raises(InvalidArgument, match=r"successive_halving\.reduction_factor = 1 "):
        HalvingRule(1, 1, 3).resolved()
    with pytest.raises(InvalidArgument, match=r"median\.start_step = -1 must be in \[0, 2\^53\]"):
        MedianRule(-1, 3).resolved()


def test_an_unknown_rule_kind_is_refused_by_name() -> None:
    from sanas_server.journal import early_stopping_from_json
    from sanas_server.stopping import UnknownRule

    data = {"rule": {"kind": "hyperband", "eta": 3}, "minimize": False}
    data["stopped_values_as_rewards"] = False
    with pytest.raises(UnknownRule, match=r"'hyperband' \(known: 'median', 'successive_halving'\)"):
        early_stopping_from_json(data)
    assert issubclass(UnknownRule, ValueError)  # a replay reports a corrupt header


def test_a_oneof_branch_without_a_class_is_an_invalid_argument(monkeypatch) -> None:
    from sanas_server import stopping
    from sanas_server.service import early_stopping_from_pb, early_stopping_to_pb

    message = early_stopping_to_pb(EarlyStopping(HalvingRule()))
    monkeypatch.delitem(stopping.RULES, "successive_halving")
    with pytest.raises(InvalidArgument, match="unknown early-stopping rule kind"):
        early_stopping_from_pb(message)


def test_register_refuses_a_rule_without_its_oneof_branch() -> None:
    from sanas.v1 import sanas_pb2 as pb
    from sanas_server.stopping import StoppingRule, register

    @dataclasses.dataclass(frozen=True)
    class Hyperband(StoppingRule):
        eta: int = 3
        kind = "hyperband"
        message = pb.MedianStoppingRule

    with pytest.raises(TypeError, match="no oneof branch 'hyperband'"):
        register(Hyperband)
