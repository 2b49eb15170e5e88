"""Early-stopping rules: pure functions of the trials' learning curves. No I/O, no clock.

A rule judges one report of a running trial against the curves of the others and returns
why to stop it, or None to continue. Values are compared in the study's direction: with
`minimize` a lower value is better. Ties always continue (a rule stops only a trial that
is strictly worse), so a flat landscape never stops anything.

Each rule is one class (a `StoppingRule`) that owns everything about it: its judgement
(`verdict`, and `verdict_reference`, the rule as its definition reads), its defaults and
ranges (`resolved`), its kind name (the header's "kind", and the `sanas.v1.EarlyStopping`
oneof branch of the same name), its JSON codec (`to_json` / `from_json`) and its proto
mapping (`to_pb` / `from_pb`). `@register` puts it in RULES, through which the header
codec (journal.py), the defaults (spec.py) and the servicer (service.py) reach it, so a
new rule is one class here plus its branch of the proto's oneof.
"""

from __future__ import annotations

import bisect
import dataclasses
import itertools
import math
import statistics
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from google.protobuf.message import Message

from sanas.v1 import sanas_pb2 as pb

from .errors import InvalidArgument

DEFAULT_MIN_TRIALS = 3
DEFAULT_REDUCTION_FACTOR = 3
MAX_RULE_INT = 2**53  # steps, rungs and counts, as JSON and every client's number type
MAX_INT32 = 2**31 - 1  # the proto's int32 fields: the rules' trial counts and factors

Points = Sequence[tuple[int, float]]


class UnknownRule(ValueError):
    """A rule kind this release does not know (a ValueError: a header naming one is
    reported as a corrupt checkpoint)."""


@dataclass(frozen=True)
class Field:
    """What a rule's int field may hold: `default` stands for 0 ("the default"; None: 0
    is a value), then the value must be in [low, high]."""

    low: int
    high: int = MAX_RULE_INT
    default: int | None = None


class StoppingRule:
    """A rule's config (a frozen dataclass of ints, named as its proto message's fields)
    and everything that goes with it; see the module doc."""

    kind: ClassVar[str]  # JSON "kind" and the proto oneof branch
    message: ClassVar[type[Message]]  # its sanas.v1 message
    fields: ClassVar[dict[str, Field]]  # every dataclass field, in checking order
    # Whether `verdict` reads the running trials' curves (the study collects them only
    # then: a report of another rule costs nothing per running trial).
    uses_running: ClassVar[bool] = False

    # -- judgement ------------------------------------------------------------------------
    def verdict(
        self,
        minimize: bool,
        step: int,
        value: float,
        curve: Curve,
        finished: Iterable[Curve],
        running: Iterable[Curve],
    ) -> str | None:
        """Why the trial whose `curve` (its points so far) now reports `value` at `step`
        should stop, or None; incremental (see `judge`)."""
        raise NotImplementedError

    def verdict_reference(
        self,
        minimize: bool,
        points: Points,
        finished: Sequence[Points],
        running: Sequence[Points],
    ) -> str | None:
        """The same verdict from scratch, as the definition reads (`points` is not empty,
        the report judged is its last)."""
        raise NotImplementedError

    # -- defaults -------------------------------------------------------------------------
    def resolved(self) -> StoppingRule:
        """The rule with its defaults filled (0 means "the default") and its ranges
        checked: InvalidArgument names the field as `<kind>.<field>`."""
        values = {}
        for name, field in self.fields.items():
            value = getattr(self, name)
            if not value and field.default is not None:
                value = field.default
            if not field.low <= value <= field.high:
                top = "2^53" if field.high == MAX_RULE_INT else "2^31-1"
                raise InvalidArgument(
                    f"early_stopping: {self.kind}.{name} = {value} must be in "
                    f"[{field.low}, {top}] (0: the default)"
                )
            values[name] = value
        return dataclasses.replace(self, **values)  # type: ignore[type-var]

    # -- JSON (the study header) ----------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, **{name: getattr(self, name) for name in self.fields}}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StoppingRule:
        """The rule of a `to_json` dict (its "kind" already chosen the class)."""
        return cls(**{k: v for k, v in data.items() if k != "kind"})

    # -- proto (sanas.v1) -----------------------------------------------------------------
    def to_pb(self) -> Message:
        return self.message(**{name: getattr(self, name) for name in self.fields})

    @classmethod
    def from_pb(cls, message: Message) -> StoppingRule:
        return cls(**{name: getattr(message, name) for name in cls.fields})


RULES: dict[str, type[StoppingRule]] = {}
R = TypeVar("R", bound=type[StoppingRule])


def register(cls: R) -> R:
    """Add a rule class to RULES; its kind must be a branch of EarlyStopping's oneof."""
    oneof = pb.EarlyStopping.DESCRIPTOR.oneofs_by_name["rule"]
    branch = {f.name: f for f in oneof.fields}.get(cls.kind)
    if branch is None or branch.message_type is not cls.message.DESCRIPTOR:
        raise TypeError(
            f"stopping rule {cls.__name__}: sanas.v1.EarlyStopping has no oneof branch "
            f"{cls.kind!r} of type {cls.message.DESCRIPTOR.full_name}"
        )
    if cls.kind in RULES:
        raise TypeError(f"stopping rule kind {cls.kind!r} registered twice")
    names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    if names != list(cls.fields):
        raise TypeError(f"stopping rule {cls.__name__}: `fields` must list {names} in order")
    RULES[cls.kind] = cls
    return cls


def rule_class(kind: Any) -> type[StoppingRule]:
    """The class of a rule kind; UnknownRule names the kinds there are."""
    cls = RULES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        known = ", ".join(repr(k) for k in RULES)
        raise UnknownRule(f"unknown early-stopping rule kind {kind!r} (known: {known})")
    return cls


def rule_to_json(rule: StoppingRule | None) -> dict[str, Any] | None:
    return None if rule is None else rule.to_json()


def rule_from_json(data: dict[str, Any] | None) -> StoppingRule | None:
    return None if data is None else rule_class(data.get("kind")).from_json(data)


def rule_from_pb(config: pb.EarlyStopping) -> StoppingRule | None:
    """The rule of an EarlyStopping message's oneof (None when unset); a branch this
    controller has no class for is an InvalidArgument."""
    kind = config.WhichOneof("rule")
    if kind is None:
        return None
    try:
        cls = rule_class(kind)
    except UnknownRule as exc:
        raise InvalidArgument(f"early_stopping: {exc}") from exc
    return cls.from_pb(getattr(config, kind))


def rule_to_pb(rule: StoppingRule | None, out: pb.EarlyStopping) -> None:
    """Set `out`'s oneof to `rule` (left unset for None)."""
    if rule is not None:
        getattr(out, rule.kind).CopyFrom(rule.to_pb())


@register
@dataclass(frozen=True)
class MedianRule(StoppingRule):
    """Vizier's and Katib's median stopping rule (Golovin et al. 2017): from `start_step`
    on, stop a trial whose best value so far is worse than the median of the finished
    trials' running averages at that step. It compares against finished trials only (as
    Vizier and Katib do)."""

    start_step: int = 0
    min_trials: int = DEFAULT_MIN_TRIALS

    kind: ClassVar[str] = "median"
    message: ClassVar[type[Message]] = pb.MedianStoppingRule
    fields: ClassVar[dict[str, Field]] = {
        "start_step": Field(0),
        "min_trials": Field(1, MAX_INT32, DEFAULT_MIN_TRIALS),
    }

    def verdict(
        self,
        minimize: bool,
        step: int,
        value: float,
        curve: Curve,
        finished: Iterable[Curve],
        running: Iterable[Curve],
    ) -> str | None:
        if step < self.start_step:
            return None
        best = value if not len(curve) else curve.best(minimize)
        if better(value, best, minimize):
            best = value
        averages = [a for a in (c.running_average(step) for c in finished) if a is not None]
        return self._verdict(minimize, step, best, averages)

    def verdict_reference(
        self,
        minimize: bool,
        points: Points,
        finished: Sequence[Points],
        running: Sequence[Points],
    ) -> str | None:
        step = points[-1][0]
        if step < self.start_step:
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
        best = min(values) if minimize else max(values)
        return self._verdict(minimize, step, best, averages)

    def _verdict(self, minimize: bool, step: int, best: float, averages: list[float]) -> str | None:
        if len(averages) < self.min_trials:
            return None
        median = statistics.median(averages)
        if not better(median, best, minimize):
            return None
        return (
            f"median rule at step {step}: best value so far {best:.6g} is worse than the "
            f"median {median:.6g} of {len(averages)} finished trials' running averages"
        )


@register
@dataclass(frozen=True)
class HalvingRule(StoppingRule):
    """Asynchronous successive halving (ASHA): rungs at min_step * reduction_factor**k; at
    each rung a trial reaches, it continues when fewer than 1/reduction_factor of the
    trials that reached the rung (finished or running) are strictly better."""

    min_step: int = 1
    reduction_factor: int = DEFAULT_REDUCTION_FACTOR
    min_trials: int = DEFAULT_MIN_TRIALS

    kind: ClassVar[str] = "successive_halving"
    message: ClassVar[type[Message]] = pb.SuccessiveHalvingRule
    fields: ClassVar[dict[str, Field]] = {
        "min_step": Field(1, MAX_RULE_INT, 1),
        "reduction_factor": Field(2, MAX_INT32, DEFAULT_REDUCTION_FACTOR),
        "min_trials": Field(1, MAX_INT32, DEFAULT_MIN_TRIALS),
    }
    uses_running: ClassVar[bool] = True

    def rungs_between(self, after: int, upto: int) -> list[int]:
        """The rungs r with after < r <= upto, in order."""
        out, rung = [], self.min_step
        while rung <= upto:
            if rung > after:
                out.append(rung)
            rung *= self.reduction_factor
        return out

    def verdict(
        self,
        minimize: bool,
        step: int,
        value: float,
        curve: Curve,
        finished: Iterable[Curve],
        running: Iterable[Curve],
    ) -> str | None:
        previous = curve.last_step
        rungs = self.rungs_between(-1 if previous is None else previous, step)
        if not rungs:
            return None
        others = [*finished, *running]
        for rung in rungs:
            values = [v for v in (c.value_reaching(rung) for c in others) if v is not None]
            reason = self._verdict(minimize, rung, step, value, values)
            if reason is not None:
                return reason
        return None

    def verdict_reference(
        self,
        minimize: bool,
        points: Points,
        finished: Sequence[Points],
        running: Sequence[Points],
    ) -> str | None:
        step, mine = points[-1]
        previous = points[-2][0] if len(points) > 1 else -1
        for rung in self.rungs_between(previous, step):
            values = []
            for other in (*finished, *running):
                reached = [v for s, v in other if s >= rung]
                if reached:
                    values.append(reached[0])
            reason = self._verdict(minimize, rung, step, mine, values)
            if reason is not None:
                return reason
        return None

    def _verdict(
        self, minimize: bool, rung: int, step: int, mine: float, values: list[float]
    ) -> str | None:
        n = len(values) + 1
        if n < self.min_trials:
            return None
        keep = max(1, n // self.reduction_factor)
        # The trial continues when fewer than `keep` trials are strictly better.
        ahead = sum(1 for v in values if better(v, mine, minimize))
        if ahead < keep:
            return None
        return (
            f"successive halving at rung {rung} (step {step}): value {mine:.6g} ranks "
            f"{ahead + 1} of {n}; only the top {keep} continue"
        )


Rule = StoppingRule


@dataclass(frozen=True)
class EarlyStopping:
    """A study's (or a report's) stopping config; `rule` None never stops."""

    rule: StoppingRule | None = None
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
    def of_columns(cls, steps: array[int], values: array[float]) -> Curve:
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
    other running trials (needed only by a rule that `uses_running`: successive halving
    compares against every trial that reached a rung, the median rule against finished
    trials only).
    Incremental: the cost is one bisection per other trial (none at all for a halving
    report that crosses no rung), whatever the lengths of the curves. `judge_reference`
    is the same rule computed from scratch; a property test holds them equal."""
    rule = config.rule
    if rule is None:
        return None
    return rule.verdict(config.minimize, step, value, curve, finished, running)


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
    return rule.verdict_reference(config.minimize, points, finished, running)
