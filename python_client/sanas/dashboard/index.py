"""A study's trials in memory, for the dashboard: fed once by ListTrials, then by the
watch stream, so table pages, charts and CSV are served without calling the controller.

Pure logic (no I/O): the pagination, sorting and filtering here are unit-tested alone.
"""

from __future__ import annotations

import bisect
import json
import math
import operator
import threading
import time
from array import array
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..v1 import sanas_pb2 as pb

STATE_NAMES: dict[int, str] = {
    pb.TRIAL_STATE_ACTIVE: "active",
    pb.TRIAL_STATE_SUCCEEDED: "succeeded",
    pb.TRIAL_STATE_INFEASIBLE: "infeasible",
    pb.TRIAL_STATE_STOPPED: "stopped",
    pb.TRIAL_STATE_SKIPPED: "skipped",
}
STATES = frozenset(STATE_NAMES.values())
SORT_KEYS = ("trial", "reward", "time", "trainer", "state")
MAX_PAGE_SIZE = 500
MAX_FILTER_CHARS = 200
MAX_SERIES_POINTS = 10_000
# Learning curves in the chart: the latest 60 trials that reported progress (what the page
# draws), each down-sampled to at most 2 * CHART_CURVE_BUCKETS points.
MAX_CURVES = 60
CHART_CURVE_BUCKETS = 150
# Points the index keeps per trial (min and max of each of CURVE_KEEP / 2 equal step
# ranges): a trial may report 10,000 (the controller's maximum), and 300 such curves as
# Python tuples took ~330 MB. The controller keeps every point; ListTrials returns them.
CURVE_KEEP = 512


def reward_of(t: pb.Trial) -> float | None:
    """A trial's reward as the study counts it, None when it has none: a succeeded trial's,
    or a stopped trial's last value when the study judged it as its reward
    (`stopped_value_is_reward`). Any other stop was a rejected move: its value is a
    progress value (a loss, with a MINIMIZE goal), and counting it as a reward made a
    diverging trial the "best so far"."""
    if t.state == pb.TRIAL_STATE_SUCCEEDED or (
        t.state == pb.TRIAL_STATE_STOPPED and t.stopped_value_is_reward
    ):
        return t.reward
    return None


class QueryError(ValueError):
    """A bad table query: the dashboard answers it with HTTP 400 and this message."""


def policy_text(s: pb.Study) -> str:
    """Which policy proposes, and how well its model ranks results before seeing them
    (the CLI's status and the dashboard's summary say the same)."""
    name = pb.ProposalPolicy.Name(s.config.policy).removeprefix("PROPOSAL_POLICY_")
    text = name.lower().replace("_", "-")
    if s.config.policy == pb.PROPOSAL_POLICY_MODEL_GUIDED:
        if s.HasField("model_fit"):
            f = s.model_fit
            text += f", rank correlation {f.rank_correlation:+.2f} over its last {f.trials}"
        else:
            text += ", no ranked result yet"
    return text


def ts(value: Any) -> float | None:
    return value.seconds + value.nanos / 1e9 if value.seconds or value.nanos else None


def _extremes(
    steps: Sequence[int], values: Sequence[float], width: int
) -> tuple[array[int], array[float]]:
    """Per step range [k * width, (k + 1) * width): its lowest and highest point, in step
    order (one point when they are the same). Steps must increase. The min and max scans
    run in C (builtins over index ranges), so 10,000 points take about a millisecond."""
    out_steps: array[int] = array("q")
    out_values: array[float] = array("d")
    get = values.__getitem__
    start, n = 0, len(steps)
    while start < n:
        end = bisect.bisect_left(steps, (steps[start] // width + 1) * width, start, n)
        lo = min(range(start, end), key=get)
        hi = max(range(start, end), key=get)
        for i in sorted({lo, hi}):
            out_steps.append(steps[i])
            out_values.append(values[i])
        start = end
    return out_steps, out_values


class Curve:
    """A trial's reported (step, value) points in bounded memory: while more than
    CURVE_KEEP / 2 step ranges of `width` steps hold points, the width doubles, and each
    range keeps only its lowest and highest point. So the curve's extremes survive, the
    resolution is the same along the whole curve, and a trial costs at most CURVE_KEEP
    points (16 bytes each) however many it reports. `count` and `last` stay exact."""

    __slots__ = ("count", "last", "steps", "values", "width")

    def __init__(self) -> None:
        self.steps: array[int] = array("q")
        self.values: array[float] = array("d")
        self.width = 1
        self.count = 0  # points reported
        self.last: tuple[int, float] | None = None

    @classmethod
    def of(cls, steps: Sequence[int], values: Sequence[float]) -> Curve:
        curve = cls()
        if not steps:
            return curve
        curve.count = len(steps)
        curve.last = (steps[-1], values[-1])
        width = 1
        while (steps[-1] // width - steps[0] // width + 1) * 2 > CURVE_KEEP:
            width *= 2
        if width == 1:
            curve.steps, curve.values = array("q", steps), array("d", values)
        else:
            curve.steps, curve.values = _extremes(steps, values, width)
        curve.width = width
        return curve

    def __len__(self) -> int:
        return len(self.steps)

    def add(self, step: int, value: float) -> None:
        """A new report; one at or before the last step is ignored (steps increase)."""
        if self.last is not None and step <= self.last[0]:
            return
        self.count += 1
        self.last = (step, value)
        steps, values, width = self.steps, self.values, self.width
        bucket = step // width
        # The points already in this step range (at most two, at the end).
        held = 0
        while held < 2 and held < len(steps) and steps[-1 - held] // width == bucket:
            held += 1
        if held < 2:
            steps.append(step)
            values.append(value)
        else:
            a, b = len(steps) - 2, len(steps) - 1
            points = [(steps[a], values[a]), (steps[b], values[b]), (step, value)]
            lo = min(range(3), key=lambda i: points[i][1])
            hi = max(range(3), key=lambda i: points[i][1])
            # All three equal: keep the range's first and last.
            keep = sorted({lo, hi}) if lo != hi else [0, 2]
            for slot, i in zip((a, b), keep, strict=True):
                steps[slot], values[slot] = points[i]
        if (steps[-1] // width - steps[0] // width + 1) * 2 > CURVE_KEEP:
            while (steps[-1] // width - steps[0] // width + 1) * 2 > CURVE_KEEP:
                width *= 2
            self.steps, self.values = _extremes(steps, values, width)
            self.width = width

    def points(self, width: int = 1) -> list[list[float]]:
        """[[step, value], ...]: every kept point, or per `width` steps the extremes;
        the last reported point always ends it."""
        steps, values = (
            (self.steps, self.values)
            if width <= self.width
            else _extremes(self.steps, self.values, width)
        )
        out = [[s, v] for s, v in zip(steps, values, strict=True)]
        if self.last is not None and (not out or out[-1][0] != self.last[0]):
            out.append([self.last[0], self.last[1]])
        return out


@dataclass(slots=True)
class Row:
    """What the dashboard keeps of a trial."""

    trial_id: int
    state: str
    reward: float | None
    accepted: bool
    temperature: float
    client_id: str
    create_time: float | None
    complete_time: float | None
    lease_expire_time: float | None
    issue_count: int
    tokens: tuple[int, ...]
    stop_reason: str
    max_step: int
    curve: Curve | None = None  # None: no progress reported

    @classmethod
    def from_pb(cls, t: pb.Trial) -> Row:
        state = STATE_NAMES.get(t.state, "unspecified")
        measurements = t.measurements
        curve = None
        if measurements:
            curve = Curve.of([m.step for m in measurements], [m.value for m in measurements])
        return cls(
            t.trial_id,
            state,
            reward_of(t),
            t.accepted,
            t.temperature,
            t.client_id,
            ts(t.create_time),
            ts(t.complete_time),
            ts(t.lease_expire_time),
            t.issue_count,
            tuple(t.tokens),
            t.stop_reason,
            t.max_step,
            curve,
        )

    @property
    def last_value(self) -> float | None:
        """The last progress value (a stopped trial's is not a reward unless the study
        judged it as one: see `reward_of`)."""
        return self.curve.last[1] if self.curve and self.curve.last else None

    def to_json(self, tokens: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "trial_id": self.trial_id,
            "state": self.state,
            "reward": self.reward,
            "accepted": self.accepted,
            "temperature": self.temperature,
            "client_id": self.client_id,
            "create_time": self.create_time,
            "complete_time": self.complete_time,
            "lease_expire_time": self.lease_expire_time,
            "issue_count": self.issue_count,
            "stop_reason": self.stop_reason,
            "max_step": self.max_step,
            "last_step": self.curve.last[0] if self.curve and self.curve.last else None,
            "last_value": self.last_value,
        }
        if tokens:
            out["tokens"] = list(self.tokens)
        return out


@dataclass(frozen=True)
class Query:
    """One table request, every field bounded."""

    offset: int = 0
    limit: int = 50
    sort: str = "trial"
    desc: bool = False
    states: frozenset[str] = frozenset()
    trainer: str = ""
    reward_min: float | None = None
    reward_max: float | None = None
    time_min: float | None = None
    time_max: float | None = None


def _int(params: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    text = params.get(name, "")
    if text == "":
        return default
    if len(text) > 20:
        raise QueryError(f"{name}: too long")
    try:
        value = int(text)
    except ValueError:
        raise QueryError(f"{name}={text!r}: not an integer") from None
    if not low <= value <= high:
        raise QueryError(f"{name}={value}: must be between {low} and {high}")
    return value


def _float(params: Mapping[str, str], name: str) -> float | None:
    text = params.get(name, "")
    if text == "":
        return None
    if len(text) > 40:
        raise QueryError(f"{name}: too long")
    try:
        value = float(text)
    except ValueError:
        raise QueryError(f"{name}={text!r}: not a number") from None
    if not math.isfinite(value):
        raise QueryError(f"{name}={text!r}: must be finite")
    return value


def parse_query(params: Mapping[str, str], max_limit: int = MAX_PAGE_SIZE) -> Query:
    """A Query from URL parameters: offset, limit, sort, desc, state (comma-separated),
    trainer (substring of client_id), reward_min/max, time_min/max (Unix seconds)."""
    for name, value in params.items():
        if len(value) > MAX_FILTER_CHARS:
            raise QueryError(f"{name}: longer than {MAX_FILTER_CHARS} characters")
    sort = params.get("sort", "") or "trial"
    if sort not in SORT_KEYS:
        raise QueryError(f"sort={sort!r}: one of {', '.join(SORT_KEYS)}")
    desc_text = params.get("desc", "") or "0"
    if desc_text not in ("0", "1", "true", "false"):
        raise QueryError(f"desc={desc_text!r}: 0 or 1")
    states = frozenset(s for s in (params.get("state", "") or "").split(",") if s)
    unknown = states - STATES
    if unknown:
        raise QueryError(f"state={','.join(sorted(unknown))!r}: one of {', '.join(sorted(STATES))}")
    return Query(
        offset=_int(params, "offset", 0, 0, 10**9),
        limit=_int(params, "limit", 50, 1, max_limit),
        sort=sort,
        desc=desc_text in ("1", "true"),
        states=states,
        trainer=params.get("trainer", ""),
        reward_min=_float(params, "reward_min"),
        reward_max=_float(params, "reward_max"),
        time_min=_float(params, "time_min"),
        time_max=_float(params, "time_max"),
    )


_MISSING = -math.inf
# One plain value per row (faster than tuples); ties keep trial order, as the sort is
# stable and starts from the rows in trial order.
SORT_FIELDS: dict[str, Callable[[Row], Any]] = {
    "trial": operator.attrgetter("trial_id"),
    "reward": lambda r: _MISSING if r.reward is None else r.reward,
    "time": lambda r: r.create_time or _MISSING,
    "trainer": operator.attrgetter("client_id"),
    "state": operator.attrgetter("state"),
}


@dataclass
class Page:
    total: int  # trials matching the filter
    rows: list[Row]


class TrialIndex:
    """Trials of one study by id; thread-safe (the watch thread writes, requests read)."""

    def __init__(self) -> None:
        self._rows: dict[int, Row] = {}
        self._lock = threading.Lock()
        self.version = 0
        self._sorted: dict[tuple[str, bool], tuple[int, list[Row]]] = {}
        self._series: tuple[int, bytes] | None = None

    def __len__(self) -> int:
        return len(self._rows)

    def load(self, trials: Iterable[pb.Trial]) -> None:
        self.load_rows([Row.from_pb(t) for t in trials])

    def load_rows(self, rows: Iterable[Row]) -> None:
        with self._lock:
            for row in rows:
                self._upsert(row.trial_id, row)
            self.version += 1

    def _upsert(self, trial_id: int, row: Row) -> None:
        old = self._rows.get(trial_id)
        # An event that predates what is held (ListTrials overtook it) changes nothing:
        # a trial only goes from active to finished, or is re-issued (issue_count rises).
        if (
            old is not None
            and old.state != "active"
            and row.state == "active"
            and row.issue_count <= old.issue_count
        ):
            return
        if old is not None and old.curve is not None:
            if row.curve is None or old.curve.count > row.curve.count:
                row.curve = old.curve
        self._rows[trial_id] = row

    def update(self, trial: pb.Trial) -> Row:
        row = Row.from_pb(trial)
        with self._lock:
            self._upsert(trial.trial_id, row)
            self.version += 1
            return self._rows[trial.trial_id]

    def add_measurement(self, trial: pb.Trial, step: int, value: float) -> None:
        with self._lock:
            row = self._rows.get(trial.trial_id)
            if row is None:
                row = Row.from_pb(trial)
                self._rows[trial.trial_id] = row
            if row.curve is None:
                row.curve = Curve()
            row.curve.add(step, value)
            self.version += 1

    def get(self, trial_id: int) -> Row | None:
        return self._rows.get(trial_id)

    def rows(self) -> list[Row]:
        with self._lock:
            return list(self._rows.values())

    def _ordered(self, sort: str, desc: bool) -> list[Row]:
        """All rows in this order, cached until the next change."""
        with self._lock:
            version = self.version
            cached = self._sorted.get((sort, desc))
            if cached is not None and cached[0] == version:
                return cached[1]
            rows = list(self._rows.values())
        rows.sort(key=SORT_FIELDS["trial"])
        if sort != "trial":
            rows.sort(key=SORT_FIELDS[sort], reverse=desc)
        elif desc:
            rows.reverse()
        with self._lock:
            self._sorted[(sort, desc)] = (version, rows)
        return rows

    def query(self, q: Query) -> Page:
        rows = self._ordered(q.sort, q.desc)
        checks = []
        if q.states:
            checks.append(lambda r: r.state in q.states)
        if q.trainer:
            needle = q.trainer.lower()
            checks.append(lambda r: needle in r.client_id.lower())
        if q.reward_min is not None:
            checks.append(lambda r: r.reward is not None and r.reward >= q.reward_min)
        if q.reward_max is not None:
            checks.append(lambda r: r.reward is not None and r.reward <= q.reward_max)
        if q.time_min is not None:
            checks.append(lambda r: r.create_time is not None and r.create_time >= q.time_min)
        if q.time_max is not None:
            checks.append(lambda r: r.create_time is not None and r.create_time <= q.time_max)
        if checks:
            rows = [r for r in rows if all(c(r) for c in checks)]
        return Page(total=len(rows), rows=rows[q.offset : q.offset + q.limit])

    def trainers(self, lease: float, now: float | None = None) -> list[dict[str, Any]]:
        """Per client_id: trials, running, last contact (creation, completion or, for a
        running trial, its last lease renewal)."""
        now = time.time() if now is None else now
        seen: dict[str, dict[str, Any]] = {}
        for r in self.rows():
            contact = max(
                r.create_time or 0.0,
                r.complete_time or 0.0,
                (r.lease_expire_time or 0.0) - lease if r.state == "active" else 0.0,
            )
            entry = seen.setdefault(
                r.client_id, {"client_id": r.client_id, "trials": 0, "running": 0, "last": 0.0}
            )
            entry["trials"] += 1
            entry["running"] += r.state == "active"
            entry["last"] = max(entry["last"], contact)
        for entry in seen.values():
            entry["age"] = max(0.0, now - entry["last"]) if entry["last"] else None
        return sorted(seen.values(), key=lambda e: -e["last"])

    def series(self) -> dict[str, Any]:
        """Columns for the charts, in trial order: finished trials' reward, best so far,
        temperature and rolling acceptance; down-sampled to MAX_SERIES_POINTS buckets
        (each keeps its best reward) so a 100k-trial study stays a small download. The
        learning curves of the latest MAX_CURVES trials that reported progress, each cut
        to the extremes of CHART_CURVE_BUCKETS step ranges (the same ranges for all).

        Stopped trials are in it as the moves they were (rejected, for the acceptance);
        their reward is None (no point) unless the study judged their value as a reward,
        so "best so far" is the study's best whatever its goal and stopping options."""
        return json.loads(self.series_json())

    def series_json(self) -> bytes:
        """series() as JSON bytes, cached until the next change: serialising is most of
        the cost, so a cached answer is just these bytes."""
        with self._lock:
            version = self.version
            if self._series is not None and self._series[0] == version:
                return self._series[1]
        rows = self.rows()
        done = sorted((r for r in rows if r.state in ("succeeded", "stopped")), key=_trial_id)
        n = len(done)
        stride = max(1, math.ceil(n / MAX_SERIES_POINTS))
        window = max(1, min(20, n // 5))
        ids: list[int] = []
        rewards: list[float | None] = []
        best: list[float | None] = []
        temps: list[float] = []
        accept: list[float] = []
        top: float | None = None
        recent = 0
        for i, r in enumerate(done):
            reward = r.reward
            if reward is not None and (top is None or reward > top):
                top = reward
            recent += r.accepted
            if i >= window:
                recent -= done[i - window].accepted
            if i % stride == 0:
                ids.append(r.trial_id)
                rewards.append(reward)
                best.append(top)
                temps.append(r.temperature)
                accept.append(recent / min(i + 1, window))
                continue
            last = rewards[-1]
            if reward is not None and (last is None or reward > last):
                rewards[-1] = reward
            best[-1] = top
        measured = sorted((r for r in rows if r.curve is not None), key=_trial_id)[-MAX_CURVES:]
        measured.reverse()  # the latest first
        span = max((r.curve.last[0] for r in measured if r.curve and r.curve.last), default=0)
        width = max(1, math.ceil((span + 1) / CHART_CURVE_BUCKETS))
        curves = [
            {
                "trial_id": r.trial_id,
                "stopped": r.state == "stopped",
                "reported": r.curve.count,
                "points": r.curve.points(width),
            }
            for r in measured
            if r.curve is not None
        ]
        out = {
            "trial": ids,
            "reward": rewards,
            "best": best,
            "temperature": temps,
            "acceptance": accept,
            "window": window,
            "stride": stride,
            "finished": n,
            "curves": curves,
        }
        # As Starlette's JSONResponse renders it (no NaN), without the spaces.
        body = json.dumps(out, allow_nan=False, separators=(",", ":")).encode()
        with self._lock:
            self._series = (version, body)
        return body


_trial_id = operator.attrgetter("trial_id")
