"""A study's trials: immutable records (TrialRecord), their states and the intermediate
results of a trial's current issue (Measurements)."""

from __future__ import annotations

import bisect
import hashlib
import struct
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import Enum

from .stopping import Curve

# Intermediate results one issue of a trial may report (an epoch each is typical): a
# trial, its snapshot row and a ListTrials page stay bounded.
MAX_MEASUREMENTS = 10_000


def tokens_fingerprint(tokens: Sequence[int]) -> str:
    """An opaque fingerprint of a token vector (64 bits of BLAKE2b over the tokens as
    little-endian int32, so it is the same on every host): clients copy it from a Trial
    and send it back, and never compute it."""
    packed = struct.pack(f"<{len(tokens)}i", *tokens)
    return hashlib.blake2b(packed, digest_size=8).hexdigest()


class TrialState(str, Enum):
    ACTIVE = "ACTIVE"
    SUCCEEDED = "SUCCEEDED"
    INFEASIBLE = "INFEASIBLE"
    STOPPED = "STOPPED"
    SKIPPED = "SKIPPED"


class Measurements:
    """One issue's intermediate results, (step, value, time) in step order: an immutable
    view of the first n points of append-only columns (int64 steps, float64 values and
    times: 32 bytes a point with the curve's running sums).

    A report appends to the columns and returns a view one point longer, in O(1) (the
    tuple copied per report before made a curve of n reports cost n^2 / 2); a view taken
    earlier, e.g. by a snapshot being written outside the study's lock, keeps its n
    points while the trial goes on. Only the newest view of a column set is ever
    appended to (under the study's lock); readers of older views read items below their
    n, which never change, and never take a buffer of a column (that would make an
    append fail)."""

    __slots__ = ("_curve", "_n", "_times")

    def __init__(
        self, curve: Curve | None = None, times: array[float] | None = None, n: int = 0
    ) -> None:
        self._curve = curve
        self._times = times
        self._n = n

    def __len__(self) -> int:
        return self._n

    def __iter__(self) -> Iterator[tuple[int, float, float]]:
        curve, times = self._curve, self._times
        if curve is None or times is None:
            return
        steps, values = curve.steps, curve.values
        for i in range(self._n):
            yield steps[i], values[i], times[i]

    def __getitem__(self, index: int) -> tuple[int, float, float]:
        if index < 0:
            index += self._n
        if not 0 <= index < self._n or self._curve is None or self._times is None:
            raise IndexError("measurement index out of range")
        return self._curve.steps[index], self._curve.values[index], self._times[index]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Measurements | tuple | list):
            return len(self) == len(other) and all(
                tuple(a) == tuple(b) for a, b in zip(self, other, strict=True)
            )
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return f"Measurements({list(self)!r})"

    @property
    def last_step(self) -> int | None:
        return None if not self._n or self._curve is None else self._curve.steps[self._n - 1]

    @property
    def curve(self) -> Curve:
        """The (step, value) curve for the stopping rules: the newest view's only (an
        older view's columns may hold later points)."""
        if self._curve is None:
            return Curve()
        if len(self._curve) != self._n:
            raise ValueError("the curve of an older view of the measurements")
        return self._curve

    def value_at(self, step: int) -> float | None:
        """The value reported at exactly `step`, if any (one bisection)."""
        if self._curve is None:
            return None
        steps = self._curve.steps
        i = bisect.bisect_left(steps, step, 0, self._n)
        return self._curve.values[i] if i < self._n and steps[i] == step else None

    def appended(self, step: int, value: float, time: float) -> Measurements:
        curve, times = self._curve, self._times
        if curve is None or times is None or len(curve) != self._n:
            # A new issue (or, defensively, a view that is not the newest): fresh columns.
            curve = Curve((s, v) for s, v, _ in self)
            times = array("d", (t for _, _, t in self))
        curve.append(step, value)
        times.append(time)
        return Measurements(curve, times, self._n + 1)

    def columns(self) -> tuple[array[int], array[float], array[float]]:
        """Copies of the first n steps, values and times (slices copy at once, never
        exposing the live columns' buffers)."""
        curve, times, n = self._curve, self._times, self._n
        if curve is None or times is None:
            return array("q"), array("d"), array("d")
        return curve.steps[:n], curve.values[:n], times[:n]

    @classmethod
    def of_columns(
        cls, steps: array[int], values: array[float], times: array[float]
    ) -> Measurements:
        """Measurements over the given columns (int64 steps, float64 values and times, as
        long as each other, steps increasing: the caller checked)."""
        if not steps:
            return EMPTY_MEASUREMENTS
        return cls(Curve.of_columns(steps, values), times, len(steps))


EMPTY_MEASUREMENTS = Measurements()


@dataclass(frozen=True, slots=True)
class TrialRecord:
    """One trial, immutable: a completion replaces the record."""

    trial_id: int
    tokens: tuple[int, ...]
    temperature: float
    client_id: str
    create_time: float
    state: TrialState = TrialState.ACTIVE
    reward: float = 0.0
    accepted: bool = False
    complete_time: float | None = None
    lease_expire: float = 0.0
    issues: int = 1
    # (step, value, time) of the current issue, in step order.
    measurements: Measurements = EMPTY_MEASUREMENTS
    stop_reason: str = ""
    max_step: int = 0  # the trainer's planned last step; 0: not reported
    # A stopped trial whose last value the annealer judged as its reward (the rule's
    # stopped_values_as_rewards); otherwise a stop is a rejected move and `reward` holds
    # only its last progress value, which no view may count as a reward.
    stopped_as_reward: bool = False
    # The uid of the study incarnation that issued the trial (the same string object in
    # every record of a study): rendered into every Trial message, so a trainer binds
    # its calls to the incarnation that answered it, whatever happened since.
    study_uid: str = ""

    @property
    def fingerprint(self) -> str:
        """The fingerprint of the trial's tokens (see tokens_fingerprint)."""
        return tokens_fingerprint(self.tokens)

    @property
    def infeasible(self) -> bool:
        return self.state is TrialState.INFEASIBLE

    @property
    def steps_saved(self) -> int:
        """Steps a stop spared: the planned last step minus the last one reported."""
        last = self.measurements.last_step
        if self.state is not TrialState.STOPPED or not self.max_step or last is None:
            return 0
        return max(0, self.max_step - last)

    def same_result(self, reward: float, infeasible: bool) -> bool:
        """Whether a completed trial holds this result (an infeasible one has no reward)."""
        if infeasible or self.infeasible:
            return infeasible == self.infeasible
        return self.reward == reward

    @property
    def result_text(self) -> str:
        if self.state is TrialState.SKIPPED:
            return "no result (skipped by its trainer)"
        return "infeasible" if self.infeasible else f"reward {self.reward!r}"
