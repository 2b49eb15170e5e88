"""A study: its config, its trials and its annealer, as a pure state machine.

Every change is an event (a JSON-ready dict). The live path decides an event (drawing
from the annealer's generator) and records it; a journal replay records the same events
without deciding, restoring the generator state each event carries. Both paths share
the `_record_*` methods, so a replay rebuilds exactly the state that was acknowledged.
"""

from __future__ import annotations

import base64
import bisect
import dataclasses
import hashlib
import itertools
import math
import re
import secrets
import struct
import sys
import uuid
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

import numpy as np

from sanas.spaces import (
    VARIANT_OF,
    Architecture,
    CombinedSpace,
    SpaceConfig,
    SpaceConfigError,
    check_tokens,
)
from sanas.spaces.cost import Cost, network_cost

from .annealer import MAX_ABS_REWARD, MAX_REWARDED, Annealer, SpaceExhausted
from .errors import (
    BudgetExhausted,
    InvalidArgument,
    SearchSpaceExhausted,
    StaleTrial,
    TooManyPendingTrials,
    TrialAlreadyCompleted,
    TrialNotFound,
    TrialNotHeld,
)
from .stopping import (
    DEFAULT_MIN_TRIALS,
    DEFAULT_REDUCTION_FACTOR,
    MAX_RULE_INT,
    NEVER_STOP,
    Curve,
    EarlyStopping,
    HalvingRule,
    MedianRule,
    judge,
)

DEFAULT_SEARCH_STEPS = 300
DEFAULT_REDUCE_RATE = 0.85
# PaddleSlim's documented rule: 10.0 for a random start, 1.0 from given init_tokens.
DEFAULT_TEMPERATURE_RANDOM_START = 10.0
DEFAULT_TEMPERATURE_GIVEN_START = 1.0
DEFAULT_LEASE_SECONDS = 60.0
MAX_LEASE_SECONDS = 30 * 24 * 3600.0
MAX_TOKENS = 10_000
MAX_CLIENT_ID = 128
MAX_REQUEST_ID = 128
MAX_SKIP_REASON = 256
# AIP-155 request ids a study remembers, newest first out last: a retry of one of its
# last MAX_REMEMBERED_REQUESTS calls gets the first answer; an older id counts as new.
MAX_REMEMBERED_REQUESTS = 10_000
# Intermediate results one issue of a trial may report (an epoch each is typical): a
# trial, its snapshot row and a ListTrials page stay bounded.
MAX_MEASUREMENTS = 10_000
# What the int64 fields of the answers can carry: sums over a study (steps saved by
# 2^53-step stops, counts) saturate here instead of failing to render.
MAX_INT64 = 2**63 - 1
MAX_INT32 = 2**31 - 1  # the int32 fields: issue counts, the rules' trial counts
# The study header's format. 1 (no "format" key): PaddleSlim's space keys meant sanas's
# own networks, now the "sanas." spaces; 2: those keys mean PaddleSlim's networks.
HEADER_FORMAT = 2
# Matched whole (fullmatch): `$` would also accept a trailing newline.
STUDY_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
# Namespace of the uids derived for studies whose header predates uids (see
# derived_study_uid). Fixed forever: changing it would make every such study's trials
# stale at the next start.
LEGACY_UID_NAMESPACE = uuid.UUID("ab174d20-2643-49ea-843a-7f578c56ca6b")
# What a trainer must do with a call refused as stale, in every such message.
STALE_ADVICE = (
    "Nothing was written: drop this trial (stop training it, discard its result) and ask "
    "for a new trial"
)

Event = dict[str, Any]


def new_study_uid() -> str:
    """A study incarnation's uid (AIP-148: a UUID4), minted when the study is created."""
    return str(uuid.uuid4())


def derived_study_uid(study_id: str, create_time: float, seed: int) -> str:
    """The uid of a study whose header has none (written before uids existed): a
    name-based UUID (version 5) of what every header has, so every start of the server
    gives the same one. A study created again under the same id has another creation
    time (and, unless given, seed), hence another uid."""
    return str(uuid.uuid5(LEGACY_UID_NAMESPACE, f"{study_id}\n{create_time!r}\n{seed}"))


def tokens_fingerprint(tokens: Sequence[int]) -> str:
    """An opaque fingerprint of a token vector (64 bits of BLAKE2b over the tokens as
    little-endian int32, so it is the same on every host): clients copy it from a Trial
    and send it back, and never compute it."""
    packed = struct.pack(f"<{len(tokens)}i", *tokens)
    return hashlib.blake2b(packed, digest_size=8).hexdigest()


@dataclass(frozen=True)
class Binding:
    """What a trial-scoped request says about the trial it is for: the study incarnation
    (`study_uid`) and the trial's tokens (`fingerprint`), both copied from the Trial the
    trainer was handed. `required`: a request without them is refused (False only when
    the server runs with --allow-unbound-trial-calls). `call` names the RPC in messages."""

    study_uid: str = ""
    fingerprint: str = ""
    required: bool = True
    call: str = "the call"


class TrialState(str, Enum):
    ACTIVE = "ACTIVE"
    SUCCEEDED = "SUCCEEDED"
    INFEASIBLE = "INFEASIBLE"
    STOPPED = "STOPPED"
    SKIPPED = "SKIPPED"


def check_study_id(study_id: str) -> str:
    if not STUDY_ID_PATTERN.fullmatch(study_id):
        raise InvalidArgument(
            f"study_id {study_id!r} is invalid: use 1-128 characters of letters, digits, "
            "'.', '_' or '-', starting with a letter or digit"
        )
    return study_id


@dataclass(frozen=True)
class Constraints:
    """Cost limits on candidates; 0 means "no limit" / "the default"."""

    input_size: int = 0
    in_channels: int = 0
    max_flops: int = 0
    max_params: int = 0

    @property
    def active(self) -> bool:
        return bool(self.max_flops or self.max_params)


@dataclass(frozen=True)
class StudyRequest:
    """A study config as a client sent it; None / 0 / empty mean "use the default"."""

    search_spaces: tuple[SpaceConfig, ...]
    init_temperature: float | None = None
    reduce_rate: float | None = None
    init_tokens: tuple[int, ...] = ()
    search_steps: int = 0
    seed: int | None = None
    lease_seconds: float | None = None
    constraints: Constraints = Constraints()
    early_stopping: EarlyStopping = NEVER_STOP

    def to_json(self) -> dict[str, Any]:
        return {
            **dataclasses.asdict(self),
            "search_spaces": [dataclasses.asdict(c) for c in self.search_spaces],
            "early_stopping": early_stopping_to_json(self.early_stopping),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StudyRequest:
        spaces = tuple(
            SpaceConfig(
                **{
                    **c,
                    "block_mask": tuple(c["block_mask"]),
                    "range_table": tuple(c["range_table"]),
                }
            )
            for c in data["search_spaces"]
        )
        return cls(
            search_spaces=spaces,
            init_temperature=data["init_temperature"],
            reduce_rate=data["reduce_rate"],
            init_tokens=tuple(data["init_tokens"]),
            search_steps=data["search_steps"],
            seed=data["seed"],
            lease_seconds=data.get("lease_seconds"),
            constraints=Constraints(**data.get("constraints", {})),
            early_stopping=early_stopping_from_json(data.get("early_stopping")),
        )

    def differences(self, other: StudyRequest) -> list[str]:
        """Fields that differ, as `name: <self> (existing) vs <other> (requested)`; an
        unset seed matches any seed."""
        out = []
        for f in dataclasses.fields(self):
            mine, theirs = getattr(self, f.name), getattr(other, f.name)
            if f.name == "seed" and (mine is None or theirs is None):
                continue
            if mine != theirs:
                out.append(f"{f.name}: {mine!r} (existing) vs {theirs!r} (requested)")
        return out


@dataclass(frozen=True)
class StudySpec:
    """The effective config: every default resolved and validated."""

    search_spaces: tuple[SpaceConfig, ...]
    init_temperature: float
    reduce_rate: float
    init_tokens: tuple[int, ...]
    search_steps: int
    seed: int
    range_table: tuple[int, ...]
    lease_seconds: float = DEFAULT_LEASE_SECONDS
    constraints: Constraints = Constraints()
    early_stopping: EarlyStopping = NEVER_STOP

    @classmethod
    def resolve(cls, request: StudyRequest) -> StudySpec:
        try:
            space = CombinedSpace.from_configs(request.search_spaces)
            table = space.range_table()
        except SpaceConfigError as exc:
            raise InvalidArgument(str(exc)) from exc
        if len(table) > MAX_TOKENS:
            raise InvalidArgument(
                f"the search space has {len(table)} tokens; at most {MAX_TOKENS} are supported"
            )
        seed = request.seed if request.seed is not None else secrets.randbits(63)
        if not 0 <= seed < 2**64:
            raise InvalidArgument(f"seed {seed} is outside [0, 2**64)")
        steps = request.search_steps or DEFAULT_SEARCH_STEPS
        if steps < 0:
            raise InvalidArgument(f"search_steps = {request.search_steps}: must be >= 1")
        rate = DEFAULT_REDUCE_RATE if request.reduce_rate is None else request.reduce_rate
        if not (math.isfinite(rate) and 0.0 < rate <= 1.0):
            raise InvalidArgument(f"reduce_rate = {rate!r}: must be in (0, 1]")
        if request.init_tokens:
            try:
                init = check_tokens(request.init_tokens, table, "init_tokens")
            except SpaceConfigError as exc:
                raise InvalidArgument(str(exc)) from exc
            default_t = DEFAULT_TEMPERATURE_GIVEN_START
        else:
            own = space.init_tokens()
            if own is None:  # custom token spaces: a random start from the study's seed
                rng = np.random.default_rng([seed, 1])
                own = [int(rng.integers(r)) for r in table]
            init = own
            default_t = DEFAULT_TEMPERATURE_RANDOM_START
        lease = DEFAULT_LEASE_SECONDS if request.lease_seconds is None else request.lease_seconds
        if not (math.isfinite(lease) and 0.0 < lease <= MAX_LEASE_SECONDS):
            raise InvalidArgument(
                f"lease_duration = {lease!r} s: must be > 0 and at most {MAX_LEASE_SECONDS:.0f} s"
            )
        constraints = resolve_constraints(request.constraints, space, init)
        temperature = default_t if request.init_temperature is None else request.init_temperature
        if not (math.isfinite(temperature) and temperature > 0.0):
            raise InvalidArgument(f"init_temperature = {temperature!r}: must be finite and > 0")
        return cls(
            search_spaces=request.search_spaces,
            init_temperature=float(temperature),
            reduce_rate=float(rate),
            init_tokens=tuple(init),
            search_steps=int(steps),
            seed=int(seed),
            range_table=tuple(table),
            lease_seconds=float(lease),
            constraints=constraints,
            early_stopping=resolve_early_stopping(request.early_stopping),
        )


def early_stopping_to_json(config: EarlyStopping) -> dict[str, Any]:
    rule = config.rule
    kind = {MedianRule: "median", HalvingRule: "successive_halving"}.get(type(rule))
    return {
        "rule": None if rule is None else {"kind": kind, **dataclasses.asdict(rule)},
        "minimize": config.minimize,
        "stopped_values_as_rewards": config.stopped_values_as_rewards,
    }


def early_stopping_from_json(data: dict[str, Any] | None) -> EarlyStopping:
    """Headers written before early stopping existed have none: never stop."""
    if data is None:
        return EarlyStopping()
    rule = data["rule"]
    parsed: MedianRule | HalvingRule | None = None
    if rule is not None:
        fields = {k: v for k, v in rule.items() if k != "kind"}
        parsed = {"median": MedianRule, "successive_halving": HalvingRule}[rule["kind"]](**fields)
    return EarlyStopping(parsed, data["minimize"], data["stopped_values_as_rewards"])


def resolve_early_stopping(config: EarlyStopping) -> EarlyStopping:
    """Fill the rules' defaults (0 means "the default") and check their ranges, and refuse
    what makes no sense: the annealer maximizes rewards and `minimize` is the direction of
    progress values only, so with a loss goal a stopped trial's last value (a loss) cannot
    be judged as its reward."""
    rule = config.rule

    def bounded(name: str, value: int, low: int, high: int = MAX_RULE_INT) -> int:
        if not low <= value <= high:
            top = "2^53" if high == MAX_RULE_INT else "2^31-1"
            raise InvalidArgument(
                f"early_stopping: {name} = {value} must be in [{low}, {top}] (0: the default)"
            )
        return value

    if config.minimize and config.stopped_values_as_rewards:
        raise InvalidArgument(
            "early_stopping: stopped_values_as_rewards with goal OBJECTIVE_GOAL_MINIMIZE "
            "would judge a stopped trial's loss as a reward, and rewards are maximized (a "
            "diverging trial would become the best). Report the negated loss with goal "
            "MAXIMIZE (and the same negated value as the reward), or leave "
            "stopped_values_as_rewards off so a stop is a rejected move"
        )
    if isinstance(rule, MedianRule):
        rule = MedianRule(
            start_step=bounded("median.start_step", rule.start_step, 0),
            min_trials=bounded(
                "median.min_trials", rule.min_trials or DEFAULT_MIN_TRIALS, 1, MAX_INT32
            ),
        )
    elif isinstance(rule, HalvingRule):
        rule = HalvingRule(
            min_step=bounded("successive_halving.min_step", rule.min_step or 1, 1),
            reduction_factor=bounded(
                "successive_halving.reduction_factor",
                rule.reduction_factor or DEFAULT_REDUCTION_FACTOR,
                2,
                MAX_INT32,
            ),
            min_trials=bounded(
                "successive_halving.min_trials",
                rule.min_trials or DEFAULT_MIN_TRIALS,
                1,
                MAX_INT32,
            ),
        )
    return dataclasses.replace(config, rule=rule)


def legacy_early_stopping(config: EarlyStopping) -> EarlyStopping:
    """A study created before resolve_early_stopping refused a loss goal with stopped
    values as rewards keeps its journal (replayed as it was decided), and from now on
    stops its trials as rejected moves, as such a study is refused now."""
    if config.minimize and config.stopped_values_as_rewards:
        return dataclasses.replace(config, stopped_values_as_rewards=False)
    return config


def resolve_constraints(c: Constraints, space: CombinedSpace, init: Sequence[int]) -> Constraints:
    """Fill the defaults and check that the spaces have networks to count."""
    for name in ("input_size", "in_channels", "max_flops", "max_params"):
        if getattr(c, name) < 0:
            raise InvalidArgument(f"constraints.{name} = {getattr(c, name)}: must be >= 0")
    size = c.input_size or space.spaces[0].config.input_size or 32
    resolved = Constraints(size, c.in_channels or 3, c.max_flops, c.max_params)
    if resolved.active:
        try:
            network_cost(space.decode(list(init), resolved.in_channels), size)
        except SpaceConfigError as exc:
            raise InvalidArgument(
                f"constraints need search spaces that decode to networks: {exc}"
            ) from exc
    return resolved


def _column_bytes(column: array) -> str:
    """A column as base64 of its little-endian items (the snapshot's encoding)."""
    if sys.byteorder == "big":  # pragma: no cover - snapshots are little-endian everywhere
        column = array(column.typecode, column)
        column.byteswap()
    return base64.b64encode(column.tobytes()).decode("ascii")


def _column_from(text: str, typecode: str) -> array:
    column = array(typecode)
    column.frombytes(base64.b64decode(text.encode("ascii"), validate=True))
    if sys.byteorder == "big":  # pragma: no cover
        column.byteswap()
    return column


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

    def __init__(self, curve: Curve | None = None, times: array | None = None, n: int = 0) -> None:
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

    def to_json(self) -> dict[str, str]:
        """The snapshot's encoding: each column as base64 of little-endian int64 or
        float64, about 32 characters a point where JSON numbers took about 45."""
        curve, times, n = self._curve, self._times, self._n
        if curve is None or times is None:
            return {"steps": "", "values": "", "times": ""}
        # Slices copy the first n items at once, never exposing the live columns' buffers.
        return {
            "steps": _column_bytes(curve.steps[:n]),
            "values": _column_bytes(curve.values[:n]),
            "times": _column_bytes(times[:n]),
        }

    @classmethod
    def from_json(cls, data: Any) -> Measurements:
        """Either encoding: the base64 columns, or a list of [step, value, time] (snapshot
        rows written before the columns)."""
        if isinstance(data, list):
            steps = array("q", (int(s) for s, _, _ in data))
            values = array("d", (float(v) for _, v, _ in data))
            times = array("d", (float(t) for _, _, t in data))
        else:
            steps = _column_from(data["steps"], "q")
            values = _column_from(data["values"], "d")
            times = _column_from(data["times"], "d")
        if not len(steps) == len(values) == len(times):
            raise ValueError("snapshot measurements: columns of different lengths")
        if any(a >= b for a, b in itertools.pairwise(steps)):
            raise ValueError("snapshot measurements: steps do not increase")
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


@dataclass(frozen=True)
class SnapshotState:
    """A study's state at one instant; turned into a snapshot event by `snapshot_event`."""

    trials: tuple[TrialRecord, ...]
    annealer: dict[str, Any]
    requests: tuple[tuple[str, tuple[str, int, int | None]], ...]
    lease_expirations: int


def snapshot_row(t: TrialRecord) -> list[Any]:
    """One trial of a snapshot (its position in the list is its id)."""
    return [
        list(t.tokens),
        t.temperature,
        t.client_id,
        t.create_time,
        t.state.value,
        t.reward,
        t.accepted,
        t.complete_time,
        t.lease_expire,
        t.issues,
        t.measurements.to_json(),
        t.stop_reason,
        t.max_step,
        t.stopped_as_reward,
    ]


class SnapshotRows:
    """A snapshot's trial rows, encoded one at a time as they are iterated: a snapshot
    is written row by row outside the study's lock (the records and their measurement
    views never change), never built whole in memory. Iterable again at will."""

    def __init__(self, trials: tuple[TrialRecord, ...]) -> None:
        self._trials = trials

    def __len__(self) -> int:
        return len(self._trials)

    def __iter__(self) -> Iterator[list[Any]]:
        return (snapshot_row(t) for t in self._trials)


def snapshot_event(state: SnapshotState) -> Event:
    """The whole state as one event: replaying it on a new Study restores that state. Its
    "trials" are lazy (SnapshotRows); `Study.snapshot_event` gives them as a list."""
    return {
        "e": "snapshot",
        "trials": SnapshotRows(state.trials),
        "annealer": state.annealer,
        "requests": [[rid, *answer] for rid, answer in state.requests],
        "lease_expirations": state.lease_expirations,
    }


@dataclass(frozen=True)
class StudySummary:
    """A consistent copy of a study's current state (what GetStudy returns)."""

    study_id: str
    spec: StudySpec
    completed: bool
    best_tokens: tuple[int, ...] | None
    best_reward: float | None
    current_tokens: tuple[int, ...]
    current_reward: float | None
    temperature: float
    counts: dict[TrialState, int]
    budget_remaining: int
    create_time: float
    lease_expirations: int
    accepted_moves: int
    rejected_proposals: int
    steps_saved: int = 0
    uid: str = ""

    @property
    def rejected_moves(self) -> int:
        """Results that did not move the base; a stopped trial is one (or its value is
        judged, with stopped_values_as_rewards)."""
        done = self.counts[TrialState.SUCCEEDED] + self.counts[TrialState.STOPPED]
        return done - self.accepted_moves


class Study:
    """One search: trials plus the annealer, changed only through events."""

    def __init__(
        self,
        study_id: str,
        request: StudyRequest,
        spec: StudySpec,
        create_time: float,
        uid: str | None = None,
    ) -> None:
        """`uid`: the incarnation's uid as its header keeps it; None mints a new one
        (a study being created)."""
        self.study_id = study_id
        self.uid = new_study_uid() if uid is None else uid
        self.request = request
        self.spec = spec
        self.create_time = create_time
        self.annealer = Annealer(
            spec.range_table, spec.init_tokens, spec.init_temperature, spec.reduce_rate, spec.seed
        )
        self.trials: list[TrialRecord] = []
        self.counts = dict.fromkeys(TrialState, 0)
        self.lease_expirations = 0
        self.accepted_moves = 0  # results that moved the base
        self.steps_saved = 0  # over stopped trials, see TrialRecord.steps_saved
        # Points in the trials' current curves: what a snapshot's size grows with.
        self.measured = 0
        # Curves of finished trials (they never change again), for the stopping rules.
        self._finished_curves: dict[int, Curve] = {}
        self._space_size = math.prod(spec.range_table)
        self._space = CombinedSpace.from_configs(spec.search_spaces)
        self._active: dict[int, None] = {}  # ids of active trials, oldest first
        self._pending_by_client: dict[str, int] = {}
        # request_id -> (call, trial_id, next trial_id): AIP-155 answers, rebuilt on replay.
        self._requests: dict[str, tuple[str, int, int | None]] = {}

    # -- header (what storage keeps beside the journal) ----------------------------------
    def header(self) -> dict[str, Any]:
        return {
            "format": HEADER_FORMAT,
            "study_id": self.study_id,
            # An optional key, so format 2 still describes the header: a sanas without
            # uids reads it unchanged, and a header without it gets a derived uid.
            "uid": self.uid,
            "request": self.request.to_json(),
            "spec": {
                **dataclasses.asdict(self.spec),
                "search_spaces": None,
                "early_stopping": early_stopping_to_json(self.spec.early_stopping),
            },
            "create_time": self.create_time,
        }

    @classmethod
    def from_header(cls, header: dict[str, Any]) -> Study:
        request = StudyRequest.from_json(header["request"])
        version = header.get("format", 1)
        if not isinstance(version, int) or version > HEADER_FORMAT:
            raise ValueError(
                f"the study header has format {version!r}; this release reads formats 1 "
                f"to {HEADER_FORMAT}: a newer sanas wrote it"
            )
        if version < 2:  # its keys meant what the "sanas." spaces build now
            spaces = tuple(
                dataclasses.replace(c, key=VARIANT_OF.get(c.key, c.key))
                for c in request.search_spaces
            )
            request = dataclasses.replace(request, search_spaces=spaces)
        spec_data = header["spec"]
        spec = StudySpec(
            search_spaces=request.search_spaces,
            init_temperature=spec_data["init_temperature"],
            reduce_rate=spec_data["reduce_rate"],
            init_tokens=tuple(spec_data["init_tokens"]),
            search_steps=spec_data["search_steps"],
            seed=spec_data["seed"],
            range_table=tuple(spec_data["range_table"]),
            lease_seconds=spec_data.get("lease_seconds", DEFAULT_LEASE_SECONDS),
            constraints=Constraints(**spec_data.get("constraints", {})),
            early_stopping=legacy_early_stopping(
                early_stopping_from_json(spec_data.get("early_stopping"))
            ),
        )
        uid = header.get("uid")
        if uid is None:
            uid = derived_study_uid(header["study_id"], header["create_time"], spec.seed)
        elif not isinstance(uid, str) or not uid:
            raise ValueError(f"the study header's uid {uid!r} is not a non-empty string")
        return cls(header["study_id"], request, spec, header["create_time"], uid)

    # -- queries -------------------------------------------------------------------------
    @property
    def issued(self) -> int:
        """Trials that count against search_steps: every trial but the skipped ones."""
        return len(self.trials) - self.counts[TrialState.SKIPPED]

    @property
    def budget_remaining(self) -> int:
        # A skipped trial gives its step back, but its tokens stay used up.
        return min(self.spec.search_steps - self.issued, self._space_size - len(self.trials))

    @property
    def completed(self) -> bool:
        return self.budget_remaining <= 0 and self.counts[TrialState.ACTIVE] == 0

    def trial(self, trial_id: int) -> TrialRecord:
        if not 0 <= trial_id < len(self.trials):
            raise TrialNotFound(
                f"study {self.study_id!r} has no trial {trial_id} "
                f"(trial ids run from 0 to {len(self.trials) - 1})"
            )
        return self.trials[trial_id]

    def bound_trial(self, trial_id: int, binding: Binding | None) -> TrialRecord:
        """The trial a trial-scoped request is about, once its binding says the request is
        for this very trial: issued by this incarnation of the study (the uid), with the
        tokens the trainer trained (the fingerprint). A restore from a backup keeps the
        uid (nothing on disk tells it from a restart), so the fingerprint is what refuses
        a result for a trial that has other tokens since. None: a caller inside the
        server, not checked."""
        if binding is None:
            return self.trial(trial_id)
        if binding.study_uid and binding.study_uid != self.uid:
            raise StaleTrial(
                f"study {self.study_id!r} was created again since trial {trial_id} was "
                f"issued to you (it is another study now, uid {self.uid}). {STALE_ADVICE}"
            )
        if not 0 <= trial_id < len(self.trials):
            if binding.study_uid and binding.fingerprint and trial_id >= 0:
                # Issued by this incarnation (the uid matches), so it existed: the study
                # went back in time.
                held = f"trials 0 to {len(self.trials) - 1}" if self.trials else "no trials"
                raise StaleTrial(
                    f"trial {trial_id} of study {self.study_id!r} no longer exists: the "
                    f"study has {held} (was the checkpoint folder restored from a "
                    f"backup?). {STALE_ADVICE}"
                )
            return self.trial(trial_id)  # TrialNotFound
        trial = self.trials[trial_id]
        missing = [
            name
            for name, value in (
                ("study_uid", binding.study_uid),
                ("trial_fingerprint", binding.fingerprint),
            )
            if not value
        ]
        if missing and binding.required:
            raise InvalidArgument(
                f"{binding.call} for trial {trial_id} of study {self.study_id!r} names no "
                f"{' and no '.join(missing)}, so the controller cannot tell that it is for "
                "the trial it issued (the study may have been created again, or restored "
                "from a backup, since). Send the study_uid and fingerprint of the Trial "
                "that SuggestTrial (or CompleteTrial's next_trial) returned, as "
                "study_uid and trial_fingerprint; the sanas clients do it for you "
                "(upgrade an older one)"
            )
        if binding.fingerprint and binding.fingerprint != trial.fingerprint:
            raise StaleTrial(
                f"trial {trial_id} of study {self.study_id!r} now has other tokens than "
                "the ones you trained (was the checkpoint folder restored from a backup?). "
                f"{STALE_ADVICE}"
            )
        return trial

    def summary(self) -> StudySummary:
        a = self.annealer
        return StudySummary(
            study_id=self.study_id,
            spec=self.spec,
            completed=self.completed,
            best_tokens=a.best_tokens,
            best_reward=a.best_reward,
            current_tokens=a.base_tokens,
            current_reward=a.base_reward,
            temperature=a.temperature,
            counts=dict(self.counts),
            budget_remaining=self.budget_remaining,
            create_time=self.create_time,
            lease_expirations=min(self.lease_expirations, MAX_INT64),
            accepted_moves=self.accepted_moves,
            rejected_proposals=min(self.annealer.rejected, MAX_INT64),
            # 2^53-step stops add up past int64 after 1,024 of them: saturate.
            steps_saved=min(self.steps_saved, MAX_INT64),
            uid=self.uid,
        )

    def answer_for(
        self,
        request_id: str,
        call: str,
        trial_id: int | None = None,
        result: tuple[float, bool] | None = None,
    ) -> tuple[TrialRecord, TrialRecord | None] | None:
        """The first answer to a retried request (AIP-155), or None for a new request. A
        request id reused for a different request (another call, trial or result) is an
        error, not a silent replay of the first answer."""
        if not request_id:
            return None
        if len(request_id) > MAX_REQUEST_ID:
            raise InvalidArgument(f"request_id has {len(request_id)} characters; at most 128")
        known = self._requests.get(request_id)
        if known is None:
            return None
        kind, first_id, next_id = known
        first = self.trials[first_id]
        if kind != call or (trial_id is not None and trial_id != first_id):
            raise InvalidArgument(
                f"request_id {request_id!r} was already used for another request; "
                "use a new id for every distinct call"
            )
        # A stopped trial takes any later result and keeps its own (see `complete`): a
        # retry gets the first answer whatever result it repeats.
        stopped = first.state is TrialState.STOPPED
        if result is not None and not stopped and not first.same_result(*result):
            raise InvalidArgument(
                f"request_id {request_id!r} was already used to report "
                f"{first.result_text} for trial {first_id}; a retry must repeat the same "
                "result, and a different result needs a new request_id"
            )
        return first, None if next_id is None else self.trials[next_id]

    def renew_leases(self, now: float) -> None:
        """After a controller restart every running trial gets a whole lease again."""
        for trial_id in self._active:
            trial = self.trials[trial_id]
            expire = max(trial.lease_expire, now + self.spec.lease_seconds)
            self.trials[trial_id] = dataclasses.replace(trial, lease_expire=expire)

    def heartbeat(self, trial_id: int, now: float, binding: Binding | None = None) -> TrialRecord:
        """Renew a running trial's lease. In memory only: a restart renews every lease."""
        trial = self.bound_trial(trial_id, binding)
        if trial.state is not TrialState.ACTIVE:
            raise TrialAlreadyCompleted(
                f"trial {trial_id} of study {self.study_id!r} is already completed; "
                "its lease cannot be renewed"
            )
        renewed = dataclasses.replace(trial, lease_expire=now + self.spec.lease_seconds)
        self.trials[trial_id] = renewed
        return renewed

    # -- live decisions ------------------------------------------------------------------
    def suggest(
        self,
        client_id: str,
        now: float,
        request_id: str = "",
        max_pending: int = 0,
        next_of: tuple[str, int] | None = None,
    ) -> tuple[TrialRecord, Event | None]:
        """Issue a trial: an expired one first, else a new proposal. `next_of` names the
        CompleteTrial request (request id, trial id) whose suggest_next asked for it."""
        if len(client_id) > MAX_CLIENT_ID:
            raise InvalidArgument(f"client_id has {len(client_id)} characters; at most 128")
        known = self.answer_for(request_id, "suggest")
        if known is not None:
            return known[0], None
        if max_pending and self._pending_by_client.get(client_id, 0) >= max_pending:
            raise TooManyPendingTrials(
                f"client {client_id!r} already holds {max_pending} running trials of study "
                f"{self.study_id!r}; complete some before asking for more"
            )
        ids: Event = {"request_id": request_id} if request_id else {}
        if next_of is not None and next_of[0]:
            ids["next_of"], ids["after"] = next_of
        expired = self._first_expired(now)
        if expired is not None:
            event: Event = {"e": "reissue", "id": expired, "client": client_id, "time": now, **ids}
            return self._record_reissue(event), event
        if self.issued >= self.spec.search_steps:
            # Read by trainers whose loop asked for one more: the end of the search is the
            # expected outcome, so the advice is how to end the loop, then how to go on.
            raise BudgetExhausted(
                f"study {self.study_id!r} has issued all {self.spec.search_steps} trials of its "
                f"search_steps budget ({self.counts[TrialState.ACTIVE]} still running), so the "
                "search is finished: end the trainer's loop here (in Python, catch "
                "sanas.SearchFinished, which BudgetExhaustedError subclasses). search_steps "
                "is one budget shared by every trainer (PaddleSlim gave each client its own). "
                "For more trials, create a new study with a larger search_steps"
            )
        temperature = self.annealer.temperature
        feasible = self._feasible if self.spec.constraints.active else None
        try:
            tokens = self.annealer.propose(feasible)
        except SpaceExhausted as exc:
            raise SearchSpaceExhausted(f"study {self.study_id!r}: {exc}") from exc
        event = {
            "e": "suggest",
            "id": len(self.trials),
            "tokens": list(tokens),
            "T": temperature,
            "client": client_id,
            "time": now,
            "rng": list(self.annealer.rng_state),
            "radius": self.annealer.radius,
            **ids,
        }
        if feasible is not None:
            event["rejected"] = self.annealer.rejected
        if tokens in self.annealer.kicks:
            event["kick"] = True
        if self.annealer.last_dropped:  # omitted when 0: older journals replay unchanged
            event["dropped"] = self.annealer.last_dropped
        return self._record_suggest(event), event

    def describe(self, tokens: Sequence[int]) -> tuple[list[Architecture], Cost] | None:
        """The networks a token vector decodes to and their cost, if the spaces have
        networks (custom token spaces do not)."""
        c = self.spec.constraints
        try:
            archs = self._space.decode(list(tokens), c.in_channels or 3)
            return archs, network_cost(archs, c.input_size or 32)
        except SpaceConfigError:
            return None

    def _feasible(self, tokens: tuple[int, ...]) -> bool:
        c = self.spec.constraints
        cost = network_cost(self._space.decode(tokens, c.in_channels), c.input_size)
        return (not c.max_flops or cost.flops <= c.max_flops) and (
            not c.max_params or cost.params <= c.max_params
        )

    def _first_expired(self, now: float) -> int | None:
        """The expired trial whose lease ran out first (the lowest id among equals): a
        function of the trials alone, so a restart from a snapshot and one from the
        journal, which order the running trials differently, hand out the same one."""
        expired = (
            (self.trials[i].lease_expire, i)
            for i in self._active  # a handful: the running trials
            if self.trials[i].lease_expire <= now
        )
        first = min(expired, default=None)
        return None if first is None else first[1]

    def complete(
        self,
        trial_id: int,
        reward: float,
        infeasible: bool,
        now: float,
        request_id: str = "",
        binding: Binding | None = None,
    ) -> tuple[TrialRecord, Event | None]:
        """Returns the completed trial and the event, or no event for a repeated report."""
        if infeasible:
            reward = 0.0  # ignored for infeasible trials, whatever was sent
        elif not math.isfinite(reward):
            raise InvalidArgument(
                f"reward {reward!r} is not a finite number; report a candidate that failed "
                "(diverged, out of memory) as infeasible: CompleteTrial.infeasible, "
                "SANAS.reward(score, infeasible=True)"
            )
        elif abs(reward) > MAX_ABS_REWARD:  # the annealer's statistics stay finite
            raise InvalidArgument(
                f"reward {reward!r} is too large: |reward| may be at most {MAX_ABS_REWARD:g}"
            )
        trial = self.bound_trial(trial_id, binding)
        if trial.state is TrialState.SKIPPED:
            raise TrialAlreadyCompleted(
                f"trial {trial_id} of study {self.study_id!r} was skipped by its trainer; "
                "a skipped trial takes no result (ask for a new trial)"
            )
        if trial.state is TrialState.STOPPED:
            # The stopping rule already finished it; the trainer's score after stopping
            # (PaddleSlim scripts still call reward()) is accepted and changes nothing.
            return trial, None
        if trial.state is not TrialState.ACTIVE:
            if trial.same_result(reward, infeasible):
                # The same report again: idempotent, and nothing is written (the journal
                # does not grow with repeats). A suggest_next it carries records its
                # request id with the trial it issues (see `suggest`).
                return trial, None
            raise TrialAlreadyCompleted(
                f"trial {trial_id} of study {self.study_id!r} was already completed with "
                f"{trial.result_text}; a different result cannot replace it"
            )
        outcome = self.annealer.observe(trial.tokens, reward, infeasible)
        event: Event = {
            "e": "complete",
            "id": trial_id,
            "reward": reward,
            "infeasible": infeasible,
            "accepted": outcome.accepted,
            "time": now,
            "rng": list(self.annealer.rng_state),
        }
        if request_id:
            event["request_id"] = request_id
        return self._record_complete(event), event

    def skip(
        self,
        trial_id: int,
        now: float,
        client_id: str = "",
        reason: str = "",
        binding: Binding | None = None,
    ) -> tuple[TrialRecord, Event | None]:
        """End a running trial unevaluated: it gives its budget step back and its tokens
        are never issued again. Returns the trial and the event (None when it was
        skipped already: a retry)."""
        if len(client_id) > MAX_CLIENT_ID:
            raise InvalidArgument(f"client_id has {len(client_id)} characters; at most 128")
        if len(reason) > MAX_SKIP_REASON:
            raise InvalidArgument(f"reason has {len(reason)} characters; at most {MAX_SKIP_REASON}")
        trial = self.bound_trial(trial_id, binding)
        if trial.state is TrialState.SKIPPED:
            return trial, None
        if trial.state is not TrialState.ACTIVE:
            raise TrialAlreadyCompleted(
                f"trial {trial_id} of study {self.study_id!r} is already completed with "
                f"{trial.result_text}; only a running trial can be skipped"
            )
        if client_id and client_id != trial.client_id:
            raise TrialNotHeld(
                f"trial {trial_id} of study {self.study_id!r} is held by {trial.client_id!r} "
                f"now (the lease of {client_id!r} ran out); it is not yours to skip"
            )
        event: Event = {"e": "skip", "id": trial_id, "time": now}
        if reason:
            event["reason"] = reason
        self.annealer.apply_skip(trial.tokens)
        return self._record_skip(event), event

    def report_progress(
        self,
        trial_id: int,
        step: int,
        value: float,
        now: float,
        max_step: int = 0,
        client_id: str = "",
        rule: EarlyStopping | None = None,
        binding: Binding | None = None,
    ) -> tuple[TrialRecord, bool, Event | None]:
        """Record an intermediate result and judge it by `rule` (the study's when None).
        Returns the trial, whether to stop, and the event (None for a repeated report or
        one after the stop, which change nothing)."""
        if not 0 <= step <= MAX_RULE_INT:
            raise InvalidArgument(f"step = {step}: must be in [0, 2^53]")
        if not 0 <= max_step <= MAX_RULE_INT:
            raise InvalidArgument(f"max_step = {max_step}: must be in [0, 2^53] (0: unknown)")
        if max_step and max_step < step:
            raise InvalidArgument(f"max_step = {max_step} is before step {step}")
        if not math.isfinite(value) or abs(value) > MAX_ABS_REWARD:
            raise InvalidArgument(
                f"value {value!r} must be a finite number with |value| at most "
                f"{MAX_ABS_REWARD:g}; report a diverged candidate as infeasible instead"
            )
        if len(client_id) > MAX_CLIENT_ID:
            raise InvalidArgument(f"client_id has {len(client_id)} characters; at most 128")
        config = self.spec.early_stopping if rule is None else resolve_early_stopping(rule)
        trial = self.bound_trial(trial_id, binding)
        if trial.state is TrialState.STOPPED:
            return trial, True, None  # told to stop already: nothing more is recorded
        if trial.state is not TrialState.ACTIVE:
            raise TrialAlreadyCompleted(
                f"trial {trial_id} of study {self.study_id!r} is already completed with "
                f"{trial.result_text}; progress can only be reported while it runs"
            )
        if client_id and client_id != trial.client_id:
            raise TrialNotHeld(
                f"trial {trial_id} of study {self.study_id!r} is held by {trial.client_id!r} "
                f"now (the lease of {client_id!r} ran out); stop training it and ask for "
                "a new trial"
            )
        measured = trial.measurements
        previous = measured.last_step
        if previous is not None and step <= previous:
            if measured.value_at(step) == value:
                return trial, False, None  # a retry of an earlier report
            raise InvalidArgument(
                f"trial {trial_id} of study {self.study_id!r} already has progress up to step "
                f"{previous}; steps must increase (a retry must repeat the same step and value)"
            )
        if len(trial.measurements) >= MAX_MEASUREMENTS:
            raise InvalidArgument(
                f"trial {trial_id} of study {self.study_id!r} already has {MAX_MEASUREMENTS} "
                "progress reports, the most one trial may have; report less often"
            )
        # The curves as they are, never rebuilt: a report costs one bisection per other
        # trial whatever the curves' lengths (see stopping.judge).
        running = (
            [self.trials[i].measurements.curve for i in self._active if i != trial_id]
            if isinstance(config.rule, HalvingRule)
            else []
        )
        planned = max_step or trial.max_step
        # At the planned last step training is done: a stop would save nothing and only
        # throw the finished result away.
        last = bool(planned) and step >= planned
        finished = self._finished_curves.values()
        reason = None if last else judge(config, step, value, measured.curve, finished, running)
        event: Event = {"e": "progress", "id": trial_id, "step": step, "value": value, "time": now}
        if max_step:
            event["max_step"] = max_step
        if reason is not None:
            event["stop"] = reason
            if config.stopped_values_as_rewards:
                event["as_reward"] = True
                event["accepted"] = self.annealer.observe(trial.tokens, value, False).accepted
                event["rng"] = list(self.annealer.rng_state)
            else:
                self.annealer.apply_stop(trial.tokens)
        return self._record_progress(event), reason is not None, event

    def import_history(
        self,
        results: Sequence[tuple[Sequence[int], float]],
        base: tuple[Sequence[int], float | None],
        best: tuple[Sequence[int] | None, float | None],
        rewarded: int,
        now: float,
    ) -> list[Event]:
        """Record results from another controller as completed trials, then set the base."""
        table = self.spec.range_table
        try:
            for i, (tokens, _) in enumerate(results):
                check_tokens(tokens, table, f"imported result {i}")
            check_tokens(base[0], table, "imported base tokens")
            if best[0] is not None:
                check_tokens(best[0], table, "imported best tokens")
        except SpaceConfigError as exc:
            raise InvalidArgument(str(exc)) from exc
        # The same reward rule as a live result, so the annealer's statistics stay finite.
        rewards = [(f"imported result {i}", r) for i, (_, r) in enumerate(results)]
        rewards += [("imported base reward", base[1]), ("imported best reward", best[1])]
        for what, reward in rewards:
            if reward is not None and not (
                isinstance(reward, int | float)
                and math.isfinite(reward)
                and abs(reward) <= MAX_ABS_REWARD
            ):
                raise InvalidArgument(
                    f"{what}: reward {reward!r} must be a finite number with |reward| at most "
                    f"{MAX_ABS_REWARD:g}"
                )
        if not 0 <= rewarded <= MAX_REWARDED:
            raise InvalidArgument(
                f"imported rewarded count must be in [0, {MAX_REWARDED}]: at most "
                f"{MAX_REWARDED} rewards are supported"
            )
        events: list[Event] = []
        for trial_id, (tokens, reward) in enumerate(results):
            events.append(
                {
                    "e": "suggest",
                    "id": trial_id,
                    "tokens": list(tokens),
                    "T": 0.0,
                    "client": "import",
                    "time": now,
                }
            )
            events.append(
                {
                    "e": "complete",
                    "id": trial_id,
                    "reward": reward,
                    "infeasible": False,
                    "accepted": False,
                    "time": now,
                }
            )
        events.append(
            {
                "e": "rebase",
                "base_tokens": list(base[0]),
                "base_reward": base[1],
                "best_tokens": None if best[0] is None else list(best[0]),
                "best_reward": best[1],
                "rewarded": rewarded,
            }
        )
        for event in events:
            self.apply(event)
        return events

    # -- snapshots -----------------------------------------------------------------------
    def snapshot_state(self) -> SnapshotState:
        """The whole state, captured cheaply (references to immutable records) so the
        caller can serialize it after releasing the study's lock."""
        return SnapshotState(
            trials=tuple(self.trials),
            annealer=self.annealer.state(),
            requests=tuple(self._requests.items()),
            lease_expirations=self.lease_expirations,
        )

    def snapshot_event(self) -> Event:
        """The whole state as one event (JSON-ready: its rows as a list): replaying it on
        a new Study restores this one."""
        event = snapshot_event(self.snapshot_state())
        return {**event, "trials": list(event["trials"])}

    def _restore(self, event: Event) -> None:
        if self.trials:
            raise ValueError("a snapshot can only start a journal")
        for trial_id, row in enumerate(event["trials"]):
            tokens, temperature, client, created, state, reward, accepted, done, lease, n = row[:10]
            # Rows of snapshots written before early stopping have 10 columns.
            measured, reason, max_step = row[10:13] if len(row) > 10 else ([], "", 0)
            if len(row) > 13:
                as_reward = bool(row[13])
            else:
                # Rows before the column: an accepted stop was judged as a reward (a
                # rejected move never is); otherwise the study's setting is the best guess.
                stopping = self.spec.early_stopping
                as_reward = state == TrialState.STOPPED.value and (
                    bool(accepted) or stopping.stopped_values_as_rewards
                )
            trial = TrialRecord(
                trial_id,
                tuple(tokens),
                temperature,
                client,
                created,
                TrialState(state),
                reward,
                accepted,
                done,
                lease,
                n,
                Measurements.from_json(measured),
                reason,
                max_step,
                study_uid=self.uid,
                stopped_as_reward=as_reward,
            )
            self.trials.append(trial)
            self.measured += len(trial.measurements)
            self.counts[trial.state] += 1
            self.accepted_moves += trial.accepted
            self.steps_saved += trial.steps_saved
            self._note_finished(trial)
            self.annealer.mark_issued(trial.tokens)  # issued == every trial's tokens
            if trial.state is TrialState.ACTIVE:
                self._hold(trial)
        self.annealer.restore(event["annealer"])
        self._requests = {rid: (kind, tid, nxt) for rid, kind, tid, nxt in event["requests"]}
        self.lease_expirations = event["lease_expirations"]

    # -- replay --------------------------------------------------------------------------
    def apply(self, event: Event) -> None:
        """Record an already-decided event (journal replay)."""
        kind = event["e"]
        if kind == "snapshot":
            self._restore(event)
            return
        if kind == "suggest":
            self.annealer.record_proposal(
                event["tokens"], kick=event.get("kick", False), dropped=event.get("dropped", 0)
            )
            self._record_suggest(event)
        elif kind == "complete":
            trial = self.trials[event["id"]]
            self.annealer.apply_result(
                trial.tokens, event["reward"], event["infeasible"], event["accepted"]
            )
            self._record_complete(event)
        elif kind == "reissue":
            self._record_reissue(event)
        elif kind == "skip":
            self.annealer.apply_skip(self.trials[event["id"]].tokens)
            self._record_skip(event)
        elif kind == "progress":
            if "stop" in event:
                tokens = self.trials[event["id"]].tokens
                if event.get("as_reward"):
                    self.annealer.apply_result(tokens, event["value"], False, event["accepted"])
                else:
                    self.annealer.apply_stop(tokens)
            self._record_progress(event)
        elif kind == "ack":  # written by earlier versions for a repeated report
            self._remember_request(event, "complete")
        elif kind == "rebase":
            self.annealer.rebase(
                event["base_tokens"],
                event["base_reward"],
                event["best_tokens"],
                event["best_reward"],
                event["rewarded"],
            )
            return
        else:
            raise ValueError(f"unknown journal event {kind!r}")
        if "rng" in event:
            self.annealer.rng_state = event["rng"]
        if "radius" in event:
            self.annealer.radius = event["radius"]
        if "rejected" in event:
            self.annealer.rejected = event["rejected"]

    def _record_suggest(self, event: Event) -> TrialRecord:
        if event["id"] != len(self.trials):
            raise ValueError(f"journal out of order: trial {event['id']} after {len(self.trials)}")
        trial = TrialRecord(
            trial_id=event["id"],
            tokens=tuple(event["tokens"]),
            temperature=event["T"],
            client_id=event["client"],
            create_time=event["time"],
            lease_expire=event["time"] + self.spec.lease_seconds,
            study_uid=self.uid,
        )
        self.trials.append(trial)
        self.counts[TrialState.ACTIVE] += 1
        self._hold(trial)
        self._remember_request(event, "suggest")
        return trial

    def _record_reissue(self, event: Event) -> TrialRecord:
        old = self.trials[event["id"]]
        self._release(old)
        trial = dataclasses.replace(
            old,
            client_id=event["client"],
            lease_expire=event["time"] + self.spec.lease_seconds,
            issues=old.issues + 1,
            measurements=EMPTY_MEASUREMENTS,  # the new holder trains from the start
            max_step=0,
        )
        self.measured -= len(old.measurements)
        self.trials[trial.trial_id] = trial
        self._hold(trial)
        self.lease_expirations += 1
        self._remember_request(event, "suggest")
        return trial

    def _record_progress(self, event: Event) -> TrialRecord:
        old = self.trials[event["id"]]
        if old.state is not TrialState.ACTIVE:
            raise ValueError(f"progress of trial {event['id']}, which is not running")
        trial = dataclasses.replace(
            old,
            measurements=old.measurements.appended(event["step"], event["value"], event["time"]),
            max_step=event.get("max_step", old.max_step),
        )
        self.measured += 1
        if "stop" in event:
            trial = dataclasses.replace(
                trial,
                state=TrialState.STOPPED,
                reward=event["value"],
                accepted=event.get("accepted", False),
                complete_time=event["time"],
                lease_expire=event["time"],  # see _record_complete
                stop_reason=event["stop"],
                stopped_as_reward=bool(event.get("as_reward", False)),
            )
            self.counts[old.state] -= 1
            self.counts[TrialState.STOPPED] += 1
            self.accepted_moves += trial.accepted
            self.steps_saved += trial.steps_saved
            self._release(old)
            self._note_finished(trial)
        self.trials[trial.trial_id] = trial
        return trial

    def _record_skip(self, event: Event) -> TrialRecord:
        old = self.trials[event["id"]]
        if old.state is not TrialState.ACTIVE:
            raise ValueError(f"skip of trial {event['id']}, which is not running")
        trial = dataclasses.replace(
            old,
            state=TrialState.SKIPPED,
            complete_time=event["time"],
            lease_expire=event["time"],  # see _record_complete
            stop_reason=event.get("reason", ""),
        )
        self.trials[trial.trial_id] = trial
        self.counts[old.state] -= 1
        self.counts[TrialState.SKIPPED] += 1
        self._release(old)
        return trial

    def _note_finished(self, trial: TrialRecord) -> None:
        if trial.state is not TrialState.ACTIVE and trial.measurements:
            self._finished_curves[trial.trial_id] = trial.measurements.curve

    def _hold(self, trial: TrialRecord) -> None:
        self._active[trial.trial_id] = None
        self._pending_by_client[trial.client_id] = (
            self._pending_by_client.get(trial.client_id, 0) + 1
        )

    def _release(self, trial: TrialRecord) -> None:
        del self._active[trial.trial_id]
        left = self._pending_by_client[trial.client_id] - 1
        if left:
            self._pending_by_client[trial.client_id] = left
        else:
            del self._pending_by_client[trial.client_id]

    def _remember_request(self, event: Event, call: str) -> None:
        """Live and on replay alike, so the remembered ids (and which are forgotten)
        are the same after a restart."""
        if "request_id" in event:
            self._requests[event["request_id"]] = (call, event["id"], None)
        if "next_of" in event:
            # "after" (the completed trial) is absent in journals of earlier versions,
            # where an "ack" event recorded the request first.
            first_id = event["after"] if "after" in event else self._requests[event["next_of"]][1]
            self._requests[event["next_of"]] = ("complete", first_id, event["id"])
        while len(self._requests) > MAX_REMEMBERED_REQUESTS:
            del self._requests[next(iter(self._requests))]

    def _record_complete(self, event: Event) -> TrialRecord:
        old = self.trials[event["id"]]
        state = TrialState.INFEASIBLE if event["infeasible"] else TrialState.SUCCEEDED
        trial = dataclasses.replace(
            old,
            state=state,
            reward=event["reward"],
            accepted=event["accepted"],
            complete_time=event["time"],
            # The lease ends with the trial: the same after a journal replay (which never
            # sees heartbeats) and after a snapshot (which holds the renewed leases).
            lease_expire=event["time"],
        )
        self.trials[event["id"]] = trial
        self.counts[old.state] -= 1
        self.counts[state] += 1
        self.accepted_moves += trial.accepted
        self._release(old)
        self._note_finished(trial)
        self._remember_request(event, "complete")
        return trial
