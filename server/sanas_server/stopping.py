"""Early-stopping rules: pure functions of the trials' learning curves. No I/O, no clock.

A rule judges one report of a running trial against the curves of the others and returns
why to stop it, or None to continue. Values are compared in the study's direction: with
`minimize` a lower value is better. Ties always continue (a rule stops only a trial that
is strictly worse), so a flat landscape never stops anything.
"""

from __future__ import annotations

import bisect
import itertools
import math
import statistics
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

DEFAULT_MIN_TRIALS = 3
DEFAULT_REDUCTION_FACTOR = 3
MAX_RULE_INT = 2**53  # steps, rungs and counts, as JSON and every client's number type


@dataclass(frozen=True)
class MedianRule:
    """Vizier's and Katib's median stopping rule (Golovin et al. 2017)."""

    start_step: int = 0
    min_trials: int = DEFAULT_MIN_TRIALS


@dataclass(frozen=True)
class HalvingRule:
    """Asynchronous successive halving (ASHA): rungs at min_step * reduction_factor**k."""

    min_step: int = 1
    reduction_factor: int = DEFAULT_REDUCTION_FACTOR
    min_trials: int = DEFAULT_MIN_TRIALS

    def rungs_between(self, after: int, upto: int) -> list[int]:
        """The rungs r with after < r <= upto, in order."""
        out, rung = [], self.min_step
        while rung <= upto:
            if rung > after:
                out.append(rung)
            rung *= self.reduction_factor
        return out


Rule = MedianRule | HalvingRule


@dataclass(frozen=True)
class EarlyStopping:
    """A study's (or a report's) stopping config; `rule` None never stops."""

    rule: Rule | None = None
    minimize: bool = False
    stopped_values_as_rewards: bool = False


NEVER_STOP = EarlyStopping()


class Curve:
    """A trial's measurements as (step, value) pairs with strictly increasing steps,
    append-only: the columns are arrays of int64 and float64 (24 bytes a point with the
    prefix sums, where tuples of Python numbers took about 150), a running average up to
    any step costs one bisection, and the best value so far is kept as points arrive, so
    judging a report never rebuilds or rescans a curve."""

    __slots__ = ("_max", "_min", "_sums", "steps", "values")

    def __init__(self, points: Iterable[tuple[int, float]] = ()) -> None:
        self.steps = array("q")
        self.values = array("d")
        # _sums[n] is the sum of the first n values, added in order: the same floats as
        # itertools.accumulate(values, initial=0.0), so averages never change bit-wise.
        self._sums = array("d", [0.0])
        self._max = -math.inf
        self._min = math.inf
        for step, value in points:
            self.append(step, value)

    @classmethod
    def of_columns(cls, steps: array, values: array) -> Curve:
        """A curve over loaded columns (a snapshot), its sums computed at C speed."""
        curve = cls()
        curve.steps, curve.values = steps, values
        curve._sums = array("d", itertools.accumulate(values, initial=0.0))
        if len(values):
            curve._max, curve._min = max(values), min(values)
        return curve

    def append(self, step: int, value: float) -> None:
        self.steps.append(step)
        self.values.append(value)
        self._sums.append(self._sums[-1] + value)
        if value > self._max:
            self._max = value
        if value < self._min:
            self._min = value

    def __len__(self) -> int:
        return len(self.steps)

    @property
    def last_step(self) -> int | None:
        return self.steps[-1] if self.steps else None

    def best(self, minimize: bool) -> float:
        """The best value so far (the curve must not be empty)."""
        return self._min if minimize else self._max

    def running_average(self, step: int) -> float | None:
        """Mean of the values at steps <= step; None when there are none."""
        n = bisect.bisect_right(self.steps, step)
        return self._sums[n] / n if n else None

    def value_reaching(self, step: int) -> float | None:
        """The value of the first measurement at or after `step` (the trial's value when
        it reached that rung); None when the curve has not got there."""
        i = bisect.bisect_left(self.steps, step)
        return self.values[i] if i < len(self.values) else None

    def value_at(self, step: int) -> float | None:
        """The value measured at exactly `step`, if any."""
        i = bisect.bisect_left(self.steps, step)
        return self.values[i] if i < len(self.steps) and self.steps[i] == step else None


def better(a: float, b: float, minimize: bool) -> bool:
    """Whether a is strictly better than b."""
    return a < b if minimize else a > b


def judge(
    config: EarlyStopping,
    step: int,
    value: float,
    curve: Curve,
    finished: Iterable[Curve],
    running: Iterable[Curve],
) -> str | None:
    """Why the trial whose `curve` (its points so far) now reports `value` at `step` should
    stop, or None.

    `finished` holds the curves of completed and stopped trials, `running` those of the
    other running trials: the median rule compares against finished trials only (as
    Vizier and Katib do), successive halving against every trial that reached a rung.
    Incremental: the cost is one bisection per other trial (none at all for a halving
    report that crosses no rung), whatever the lengths of the curves. `judge_reference`
    is the same rule computed from scratch; a property test holds them equal."""
    rule = config.rule
    if rule is None:
        return None
    if isinstance(rule, MedianRule):
        if step < rule.start_step:
            return None
        best = value if not len(curve) else curve.best(config.minimize)
        if better(value, best, config.minimize):
            best = value
        averages = [a for a in (c.running_average(step) for c in finished) if a is not None]
        return _median_verdict(rule, config.minimize, step, best, averages)
    previous = curve.last_step
    rungs = rule.rungs_between(-1 if previous is None else previous, step)
    if not rungs:
        return None
    others = [*finished, *running]
    for rung in rungs:
        values = [v for v in (c.value_reaching(rung) for c in others) if v is not None]
        reason = _halving_verdict(rule, config.minimize, rung, step, value, values)
        if reason is not None:
            return reason
    return None


def judge_reference(
    config: EarlyStopping,
    points: Sequence[tuple[int, float]],
    finished: Sequence[Sequence[tuple[int, float]]],
    running: Sequence[Sequence[tuple[int, float]]],
) -> str | None:
    """The rule from scratch, as its definition reads (the report being judged is the
    last of `points`): the specification `judge` is tested against."""
    rule = config.rule
    if rule is None or not points:
        return None
    step, mine = points[-1]
    if isinstance(rule, MedianRule):
        if step < rule.start_step:
            return None
        averages = []
        for other in finished:
            upto = [v for s, v in other if s <= step]
            if upto:
                total = 0.0
                for v in upto:  # in order, as the running sums add them
                    total += v
                averages.append(total / len(upto))
        values = [v for _, v in points]
        best = min(values) if config.minimize else max(values)
        return _median_verdict(rule, config.minimize, step, best, averages)
    previous = points[-2][0] if len(points) > 1 else -1
    for rung in rule.rungs_between(previous, step):
        values = []
        for other in (*finished, *running):
            reached = [v for s, v in other if s >= rung]
            if reached:
                values.append(reached[0])
        reason = _halving_verdict(rule, config.minimize, rung, step, mine, values)
        if reason is not None:
            return reason
    return None


def _median_verdict(
    rule: MedianRule, minimize: bool, step: int, best: float, averages: list[float]
) -> str | None:
    if len(averages) < rule.min_trials:
        return None
    median = statistics.median(averages)
    if not better(median, best, minimize):
        return None
    return (
        f"median rule at step {step}: best value so far {best:.6g} is worse than the median "
        f"{median:.6g} of {len(averages)} finished trials' running averages"
    )


def _halving_verdict(
    rule: HalvingRule,
    minimize: bool,
    rung: int,
    step: int,
    mine: float,
    values: list[float],
) -> str | None:
    n = len(values) + 1
    if n < rule.min_trials:
        return None
    keep = max(1, n // rule.reduction_factor)
    # The trial continues when fewer than `keep` trials are strictly better.
    ahead = sum(1 for v in values if better(v, mine, minimize))
    if ahead < keep:
        return None
    return (
        f"successive halving at rung {rung} (step {step}): value {mine:.6g} ranks "
        f"{ahead + 1} of {n}; only the top {keep} continue"
    )
