"""The stopping rules alone (pure functions of curves) and in the Study state machine."""

from __future__ import annotations

import json

import pytest

from sanas.spaces import SpaceConfig
from sanas_server.errors import InvalidArgument, TrialAlreadyCompleted, TrialNotHeld
from sanas_server.stopping import Curve, EarlyStopping, HalvingRule, MedianRule, judge
from sanas_server.study import Study, StudyRequest, StudySpec, TrialState


def curve(*values: float, start: int = 1) -> Curve:
    return Curve(enumerate(values, start))


MEDIAN = EarlyStopping(MedianRule(start_step=1, min_trials=2))


def test_median_continues_without_enough_finished_trials():
    weak = curve(0.01)
    assert judge(MEDIAN, weak, None, [], []) is None  # no finished trial yet
    assert judge(MEDIAN, weak, None, [curve(0.9)], []) is None  # one of the two needed
    assert judge(MEDIAN, weak, None, [curve(0.9), curve(0.8)], []) is not None


def test_median_ignores_running_trials_and_respects_start_step():
    finished = [curve(0.9, 0.9), curve(0.8, 0.8)]
    assert judge(MEDIAN, curve(0.1), None, [], finished) is None  # running: not counted
    late = EarlyStopping(MedianRule(start_step=2, min_trials=2))
    assert judge(late, curve(0.1), None, finished, []) is None
    assert judge(late, curve(0.1, 0.1), 1, finished, []) is not None


def test_median_compares_best_so_far_with_running_averages():
    # Finished: running averages at step 2 are 0.5 and 0.7 -> median 0.6.
    finished = [curve(0.4, 0.6), curve(0.6, 0.8)]
    assert judge(MEDIAN, curve(0.65, 0.1), 1, finished, []) is None  # best 0.65 > 0.6
    reason = judge(MEDIAN, curve(0.55, 0.5), 1, finished, [])
    assert reason is not None and "median 0.6" in reason


def test_median_ties_continue_and_a_flat_landscape_never_stops():
    finished = [curve(0.5, 0.5), curve(0.5, 0.5), curve(0.5, 0.5)]
    assert judge(MEDIAN, curve(0.5, 0.5), 1, finished, []) is None


def test_median_minimize_mode_reverses_the_direction():
    losses = EarlyStopping(MedianRule(start_step=1, min_trials=2), minimize=True)
    finished = [curve(1.0), curve(2.0)]  # median loss 1.5
    assert judge(losses, curve(1.2), None, finished, []) is None
    assert judge(losses, curve(1.8), None, finished, []) is not None
    assert judge(MEDIAN, curve(1.8), None, finished, []) is None  # maximizing: 1.8 is good


def test_median_uses_finished_curves_shorter_than_the_step():
    # A trial stopped at step 1 still counts at step 3, with its average up to there.
    finished = [curve(0.2), curve(0.3)]
    assert judge(MEDIAN, curve(0.1, 0.1, 0.1), 2, finished, []) is not None


def test_halving_keeps_the_top_third_at_each_rung():
    rule = EarlyStopping(HalvingRule(min_step=1, reduction_factor=3, min_trials=3))
    others = [curve(0.9), curve(0.8), curve(0.7), curve(0.6), curve(0.5)]
    # 6 at rung 1 -> the top 2 continue.
    assert judge(rule, curve(0.85), None, others[:3], others[3:]) is None
    reason = judge(rule, curve(0.75), None, others[:3], others[3:])
    assert reason is not None and "rung 1" in reason
    # A tie with the last kept value continues.
    assert judge(rule, curve(0.8), None, others, []) is None


def test_halving_judges_only_when_a_rung_is_crossed():
    rule = EarlyStopping(HalvingRule(min_step=1, reduction_factor=3, min_trials=2))
    others = [curve(0.9, 0.9, 0.9), curve(0.9, 0.9, 0.9)]
    assert judge(rule, curve(0.1, 0.1), 1, others, []) is None  # step 2 is no rung
    assert judge(rule, curve(0.1, 0.1, 0.1), 2, others, []) is not None  # rung 3
    assert rule.rule.rungs_between(0, 30) == [1, 3, 9, 27]


def test_halving_waits_for_min_trials_at_a_rung():
    rule = EarlyStopping(HalvingRule(min_step=1, reduction_factor=2, min_trials=3))
    assert judge(rule, curve(0.1), None, [curve(0.9)], []) is None
    assert judge(rule, curve(0.1), None, [curve(0.9), curve(0.8)], []) is not None


def test_no_rule_never_stops():
    assert judge(EarlyStopping(), curve(0.0), None, [curve(1.0)] * 10, []) is None


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
    temperature = study.annealer.temperature
    base = study.annealer.base_tokens
    assert run_trial(study, [0.1, 0.9], events, 3.0)
    stopped = study.trials[2]
    assert stopped.state is TrialState.STOPPED and stopped.reward == 0.1
    assert stopped.steps_saved == 9 and study.steps_saved == 9
    assert study.annealer.base_tokens == base  # never the base ...
    assert study.annealer.best_reward == 0.8  # ... nor the best
    assert study.annealer.temperature < temperature  # but the search cools
    again = replayed(study, events)
    assert again.trials == study.trials
    assert again.annealer.state() == study.annealer.state()
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
    assert study.annealer.rewarded == 2
    assert study.annealer.reward_stats[0] == 2  # its value counts as a result
    assert replayed(study, events).annealer.state() == study.annealer.state()


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
