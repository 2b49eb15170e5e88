"""Early-stopping rules: pure functions of the trials' learning curves. No I/O, no clock.

A rule judges one report of a running trial against the curves of the others and returns
why to stop it, or None to continue. Values are compared in the study's direction: with
`minimize` a lower value is better. Ties always continue (a rule stops only a trial that
is strictly worse), so a flat landscape never stops anything.
"""

from __future__ import annotations

import bisect
import itertools
import statistics
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
    """A trial's measurements as (step, value) pairs with strictly increasing steps, with
    prefix sums so a running average up to any step costs one bisection."""

    __slots__ = ("_sums", "steps", "values")

    def __init__(self, points: Iterable[tuple[int, float]]) -> None:
        pairs = list(points)
        self.steps = [s for s, _ in pairs]
        self.values = [v for _, v in pairs]
        self._sums = list(itertools.accumulate(self.values, initial=0.0))

    def __len__(self) -> int:
        return len(self.steps)

    def running_average(self, step: int) -> float | None:
        """Mean of the values at steps <= step; None when there are none."""
        n = bisect.bisect_right(self.steps, step)
        return self._sums[n] / n if n else None

    def value_reaching(self, step: int) -> float | None:
        """The value of the first measurement at or after `step` (the trial's value when
        it reached that rung); None when the curve has not got there."""
        i = bisect.bisect_left(self.steps, step)
        return self.values[i] if i < len(self.values) else None


def better(a: float, b: float, minimize: bool) -> bool:
    """Whether a is strictly better than b."""
    return a < b if minimize else a > b


def judge(
    config: EarlyStopping,
    curve: Curve,
    previous_step: int | None,
    finished: Sequence[Curve],
    running: Sequence[Curve],
) -> str | None:
    """Why the trial whose `curve` just got its last point should stop, or None.

    `previous_step` is the step of the report before this one (None for the first).
    `finished` holds the curves of completed and stopped trials, `running` those of the
    other running trials: the median rule compares against finished trials only (as
    Vizier and Katib do), successive halving against every trial that reached a rung."""
    rule = config.rule
    if rule is None or not len(curve):
        return None
    if isinstance(rule, MedianRule):
        return _median(rule, config.minimize, curve, finished)
    return _halving(rule, config.minimize, curve, previous_step, (*finished, *running))


def _median(
    rule: MedianRule, minimize: bool, curve: Curve, finished: Sequence[Curve]
) -> str | None:
    step = curve.steps[-1]
    if step < rule.start_step:
        return None
    averages = [a for a in (c.running_average(step) for c in finished) if a is not None]
    if len(averages) < rule.min_trials:
        return None
    median = statistics.median(averages)
    best = min(curve.values) if minimize else max(curve.values)
    if not better(median, best, minimize):
        return None
    return (
        f"median rule at step {step}: best value so far {best:.6g} is worse than the median "
        f"{median:.6g} of {len(averages)} finished trials' running averages"
    )


def _halving(
    rule: HalvingRule,
    minimize: bool,
    curve: Curve,
    previous_step: int | None,
    others: Sequence[Curve],
) -> str | None:
    step = curve.steps[-1]
    after = -1 if previous_step is None else previous_step
    for rung in rule.rungs_between(after, step):
        mine = curve.values[-1]
        values = [v for v in (c.value_reaching(rung) for c in others) if v is not None]
        n = len(values) + 1
        if n < rule.min_trials:
            continue
        keep = max(1, n // rule.reduction_factor)
        # The trial continues when fewer than `keep` trials are strictly better.
        ahead = sum(1 for v in values if better(v, mine, minimize))
        if ahead >= keep:
            return (
                f"successive halving at rung {rung} (step {step}): value {mine:.6g} ranks "
                f"{ahead + 1} of {n}; only the top {keep} continue"
            )
    return None
