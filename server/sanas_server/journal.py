"""The journal format: what a study's header, its journal events and its snapshots hold.

A study is stored as a header (`study.json`: its config, written once) and a sequence
of events (journal records, one JSON object each, maybe led by a snapshot that stands
for every event before it). This module is the one place that knows their keys: the
typed events below map their fields to the terse keys on disk (ON_DISK), `encode_event`
and `decode_event` convert, and `decode_event` refuses a record with a key its kind
does not have, naming both. How records are framed in files (checksums, the snapshot's
row-a-line layout, journal names) is storage.py's business.

Compatibility: every reading of what earlier releases wrote lives here, marked
"(compat)": format-1 headers, headers without a uid or the later config keys, the
"ack" event, a suggest_next without "after", snapshot rows of 10 and 13 columns and
measurements as lists.
"""

from __future__ import annotations

import base64
import dataclasses
import itertools
import sys
import uuid
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, ClassVar, Literal, overload

from sanas.spaces import VARIANT_OF, SpaceConfig

from .errors import NewerFormat
from .spec import DEFAULT_LEASE_SECONDS, POLICY_NAMES, Constraints, StudyRequest, StudySpec
from .stopping import EarlyStopping, rule_from_json, rule_to_json
from .trials import EMPTY_MEASUREMENTS, Measurements, TrialRecord, TrialState

# The header's "format". 1 (no "format" key): PaddleSlim's space keys meant sanas's own
# networks, now the "sanas." spaces; 2: those keys mean PaddleSlim's networks; 3: the
# header may name a proposal policy other than the annealer. A header is written in the
# oldest format that describes it (ANNEALER_FORMAT for an annealing study, which releases
# before policies read unchanged), so a rollback refuses a model-guided study by name
# instead of replaying it with the annealer.
FORMAT_VERSION = 3
ANNEALER_FORMAT = 2
# (compat) The policy of a header without a "policy" key: every study before format 3.
DEFAULT_POLICY_OF_FORMAT_2 = "annealer"
# (compat) Namespace of the uids derived for studies whose header predates uids (see
# derived_study_uid). Fixed forever: changing it would make every such study's trials
# stale at the next start.
LEGACY_UID_NAMESPACE = uuid.UUID("ab174d20-2643-49ea-843a-7f578c56ca6b")

# A journal record as stored: a JSON-ready dict with terse keys.
Record = dict[str, Any]


class JournalError(ValueError):
    """A record this release cannot read (a ValueError: a replay reports it as a
    corrupt checkpoint)."""


class EventKind(str, Enum):
    """The "e" of a journal record."""

    SUGGEST = "suggest"  # a new trial, proposed by the annealer
    REISSUE = "reissue"  # a trial whose lease ran out, handed to another trainer
    COMPLETE = "complete"  # a trial's result
    SKIP = "skip"  # a trial given up by its trainer
    PROGRESS = "progress"  # an intermediate result, maybe with the rule's stop
    REBASE = "rebase"  # the annealer's base and best, set by an import
    SNAPSHOT = "snapshot"  # the whole state: only ever the first event
    ACK = "ack"  # (compat) a repeated report's request id, written by earlier releases


# Field name -> on-disk key, for every event (a field not named keeps its name).
ON_DISK = {
    "trial_id": "id",
    "temperature": "T",
    "client_id": "client",
    "rng_state": "rng",
    "stop_reason": "stop",
    "completed_trial": "after",
}


@dataclass(frozen=True, slots=True)
class Suggest:
    """A new trial. `next_of`: the CompleteTrial request (its id) whose suggest_next
    asked for it, `completed_trial` the trial that request completed."""

    kind: ClassVar[EventKind] = EventKind.SUGGEST
    trial_id: int
    tokens: Sequence[int]
    temperature: float
    client_id: str
    time: float
    rng_state: list[int] | None = None  # the generator after the proposal
    radius: int | None = None
    request_id: str = ""
    next_of: str | None = None
    completed_trial: int | None = None
    rejected: int | None = None  # proposals rejected by the constraints, so far
    kick: bool = False
    dropped: int = 0  # omitted when 0: older journals replay unchanged
    predicted: float | None = None  # the model's predicted reward; omitted when None


@dataclass(frozen=True, slots=True)
class Reissue:
    kind: ClassVar[EventKind] = EventKind.REISSUE
    trial_id: int
    client_id: str
    time: float
    request_id: str = ""
    next_of: str | None = None
    completed_trial: int | None = None


@dataclass(frozen=True, slots=True)
class Complete:
    kind: ClassVar[EventKind] = EventKind.COMPLETE
    trial_id: int
    reward: float
    infeasible: bool
    accepted: bool
    time: float
    rng_state: list[int] | None = None  # absent for imported results
    request_id: str = ""


@dataclass(frozen=True, slots=True)
class Skip:
    kind: ClassVar[EventKind] = EventKind.SKIP
    trial_id: int
    time: float
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Progress:
    """A report; with `stop_reason` the rule stopped the trial there, judged as a
    rejected move, or as a reward (`as_reward`, with the annealer's `accepted`)."""

    kind: ClassVar[EventKind] = EventKind.PROGRESS
    trial_id: int
    step: int
    value: float
    time: float
    max_step: int = 0
    stop_reason: str | None = None
    as_reward: bool = False
    accepted: bool | None = None
    rng_state: list[int] | None = None

    @property
    def stopped(self) -> bool:
        return self.stop_reason is not None


@dataclass(frozen=True, slots=True)
class Rebase:
    kind: ClassVar[EventKind] = EventKind.REBASE
    base_tokens: Sequence[int]
    base_reward: float | None
    best_tokens: Sequence[int] | None
    best_reward: float | None
    rewarded: int


@dataclass(frozen=True, slots=True)
class Ack:
    """(compat) Earlier releases recorded a repeated report's request id this way."""

    kind: ClassVar[EventKind] = EventKind.ACK
    trial_id: int
    request_id: str = ""
    next_of: str | None = None
    completed_trial: int | None = None


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The whole state: `trials` holds a row a trial (see snapshot_row), `requests` the
    request log as [request id, call, trial id, next trial id]."""

    kind: ClassVar[EventKind] = EventKind.SNAPSHOT
    trials: Iterable[list[Any]]
    annealer: dict[str, Any]
    requests: list[list[Any]]
    lease_expirations: int


Event = Suggest | Reissue | Complete | Skip | Progress | Rebase | Ack | Snapshot
EVENT_TYPES: dict[EventKind, type[Event]] = {
    cls.kind: cls for cls in (Suggest, Reissue, Complete, Skip, Progress, Rebase, Ack, Snapshot)
}
_REQUIRED = object()
# Per type: (field, key, default or _REQUIRED) in the order keys are written.
_FIELDS: dict[type, tuple[tuple[str, str, Any], ...]] = {
    cls: tuple(
        (
            f.name,
            ON_DISK.get(f.name, f.name),
            _REQUIRED if f.default is dataclasses.MISSING else f.default,
        )
        for f in dataclasses.fields(cls)
    )
    for cls in EVENT_TYPES.values()
}
_FIELD_OF_KEY = {cls: {key: name for name, key, _ in fields} for cls, fields in _FIELDS.items()}
_REQUIRED_KEYS = {
    cls: frozenset(key for _, key, default in fields if default is _REQUIRED)
    for cls, fields in _FIELDS.items()
}


def encode_event(event: Event) -> Record:
    """The record of an event: its kind, every required field, and every optional one
    that differs from its default (an omitted key reads as the default)."""
    record: Record = {"e": event.kind.value}
    for name, key, default in _FIELDS[type(event)]:
        value = getattr(event, name)
        if default is _REQUIRED or value != default:
            record[key] = value
    return record


def decode_event(record: Record) -> Event:
    """The event of a record; JournalError names the event and the key for a record
    of an unknown kind, with a key its kind does not have, or without a required one."""
    if not isinstance(record, dict):
        raise JournalError(f"a journal record is a JSON object, not {type(record).__name__}")
    kind = record.get("e")
    cls = EVENT_TYPES.get(kind)  # type: ignore[arg-type]
    if cls is None:
        raise JournalError(f"unknown journal event {kind!r}")
    names = _FIELD_OF_KEY[cls]
    fields = {}
    for key, value in record.items():
        name = names.get(key)
        if name is None:
            if key == "e":
                continue
            known = ", ".join(repr(k) for k in names)
            raise JournalError(
                f"journal event {kind!r} has an unknown key {key!r} (its keys: {known})"
            )
        fields[name] = value
    if not _REQUIRED_KEYS[cls] <= record.keys():
        missing = ", ".join(repr(k) for k in sorted(_REQUIRED_KEYS[cls] - record.keys()))
        raise JournalError(f"journal event {kind!r} lacks the key(s) {missing}")
    return cls(**fields)


def journal_length(records: Iterable[Record]) -> int:
    """Events a restart replays after the snapshot (if any) that starts them."""
    return sum(1 for r in records if r["e"] != EventKind.SNAPSHOT.value)


def completed_trial(event: Suggest | Reissue | Ack, lookup: Callable[[str], int]) -> int:
    """The trial whose CompleteTrial request (`next_of`) asked for this one. (compat)
    "after" is absent in journals of earlier versions, where the request was recorded
    first (by its complete or an "ack" event): `lookup` finds the trial it names."""
    if event.completed_trial is not None:
        return event.completed_trial
    assert event.next_of is not None
    return lookup(event.next_of)


# -- the header --------------------------------------------------------------------------
@dataclass(frozen=True)
class Header:
    study_id: str
    uid: str
    request: StudyRequest
    spec: StudySpec
    create_time: float


def derived_study_uid(study_id: str, create_time: float, seed: int) -> str:
    """(compat) The uid of a study whose header has none (written before uids existed):
    a name-based UUID (version 5) of what every header has, so every start of the server
    gives the same one. A study created again under the same id has another creation
    time (and, unless given, seed), hence another uid."""
    return str(uuid.uuid5(LEGACY_UID_NAMESPACE, f"{study_id}\n{create_time!r}\n{seed}"))


def encode_header(header: Header) -> dict[str, Any]:
    spec = {
        **dataclasses.asdict(header.spec),
        "search_spaces": None,
        "early_stopping": early_stopping_to_json(header.spec.early_stopping),
    }
    annealing = header.spec.policy == DEFAULT_POLICY_OF_FORMAT_2
    if annealing:  # what a header without the key means: format 2 describes it
        del spec["policy"]
    return {
        "format": ANNEALER_FORMAT if annealing else FORMAT_VERSION,
        "study_id": header.study_id,
        # An optional key, so format 2 still describes the header: a sanas without
        # uids reads it unchanged, and a header without it gets a derived uid.
        "uid": header.uid,
        "request": request_to_json(header.request),
        "spec": spec,
        "create_time": header.create_time,
    }


def check_format(data: dict[str, Any]) -> int:
    """The header's format; NewerFormat when a newer release wrote it (checked before
    anything else of the header is read, and before any file of its study is touched)."""
    version = data.get("format", 1)
    if isinstance(version, int) and not isinstance(version, bool) and version > FORMAT_VERSION:
        raise NewerFormat(
            f"the study header has format {version}; this release reads formats 1 to "
            f"{FORMAT_VERSION}: a newer sanas wrote it. The study is not served and its "
            "folder is left as it is: run that release (or a later one) on this checkpoint "
            "folder to serve it"
        )
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ValueError(f"the study header's format {version!r} is not a format number")
    return version


def decode_header(data: dict[str, Any]) -> Header:
    version = check_format(data)
    request = request_from_json(data["request"])
    if version < 2:  # (compat) its keys meant what the "sanas." spaces build now
        spaces = tuple(
            dataclasses.replace(c, key=VARIANT_OF.get(c.key, c.key)) for c in request.search_spaces
        )
        request = dataclasses.replace(request, search_spaces=spaces)
    spec_data = data["spec"]
    spec = StudySpec(
        search_spaces=request.search_spaces,
        init_temperature=spec_data["init_temperature"],
        reduce_rate=spec_data["reduce_rate"],
        init_tokens=tuple(spec_data["init_tokens"]),
        search_steps=spec_data["search_steps"],
        seed=spec_data["seed"],
        range_table=tuple(spec_data["range_table"]),
        # (compat) keys later releases added, with what studies before them did
        lease_seconds=spec_data.get("lease_seconds", DEFAULT_LEASE_SECONDS),
        constraints=Constraints(**spec_data.get("constraints", {})),
        early_stopping=legacy_early_stopping(
            early_stopping_from_json(spec_data.get("early_stopping"))
        ),
        policy=header_policy(version, spec_data),
    )
    if request.policy is not None and request.policy != spec.policy:
        raise ValueError(
            f"the study header asks for policy {request.policy!r} and resolved "
            f"{spec.policy!r}: one of them was edited"
        )
    uid = data.get("uid")
    if uid is None:
        uid = derived_study_uid(data["study_id"], data["create_time"], spec.seed)
    elif not isinstance(uid, str) or not uid:
        raise ValueError(f"the study header's uid {uid!r} is not a non-empty string")
    return Header(data["study_id"], uid, request, spec, data["create_time"])


def request_to_json(request: StudyRequest) -> dict[str, Any]:
    data = {
        **dataclasses.asdict(request),
        "search_spaces": [dataclasses.asdict(c) for c in request.search_spaces],
        "early_stopping": early_stopping_to_json(request.early_stopping),
    }
    if request.policy is None:  # omitted: a header of an annealing study stays format 2
        del data["policy"]
    return data


def header_policy(version: int, spec_data: dict[str, Any]) -> str:
    """The policy a header's spec names. Format 3 always names it; formats 1 and 2 never
    do (they mean the annealer), so a header that says otherwise was edited, and is
    refused rather than served with a policy its format does not promise."""
    if version >= 3:
        if "policy" not in spec_data:
            raise ValueError("the study header has format 3 but its spec names no policy")
        return policy_from_json(spec_data["policy"])
    if "policy" in spec_data:
        raise ValueError(
            f"the study header has format {version}, which names no policy, but its spec "
            f"names {spec_data['policy']!r}"
        )
    return DEFAULT_POLICY_OF_FORMAT_2


def policy_from_json(name: Any) -> str:
    if name not in POLICY_NAMES:
        raise ValueError(f"the study header's policy {name!r} is not one of {POLICY_NAMES}")
    return str(name)


def request_from_json(data: dict[str, Any]) -> StudyRequest:
    spaces = tuple(
        SpaceConfig(
            **{**c, "block_mask": tuple(c["block_mask"]), "range_table": tuple(c["range_table"])}
        )
        for c in data["search_spaces"]
    )
    return StudyRequest(
        search_spaces=spaces,
        init_temperature=data["init_temperature"],
        reduce_rate=data["reduce_rate"],
        init_tokens=tuple(data["init_tokens"]),
        search_steps=data["search_steps"],
        seed=data["seed"],
        # (compat) keys later releases added
        lease_seconds=data.get("lease_seconds"),
        constraints=Constraints(**data.get("constraints", {})),
        early_stopping=early_stopping_from_json(data.get("early_stopping")),
        policy=None if data.get("policy") is None else policy_from_json(data["policy"]),
    )


def early_stopping_to_json(config: EarlyStopping) -> dict[str, Any]:
    return {
        "rule": rule_to_json(config.rule),  # {"kind": ..., its fields}: the rule's own codec
        "minimize": config.minimize,
        "stopped_values_as_rewards": config.stopped_values_as_rewards,
    }


def early_stopping_from_json(data: dict[str, Any] | None) -> EarlyStopping:
    """(compat) Headers written before early stopping existed have none: never stop.
    A rule kind this release does not know is a stopping.UnknownRule (a ValueError)."""
    if data is None:
        return EarlyStopping()
    rule = rule_from_json(data["rule"])
    return EarlyStopping(rule, data["minimize"], data["stopped_values_as_rewards"])


def legacy_early_stopping(config: EarlyStopping) -> EarlyStopping:
    """(compat) A study created before resolve_early_stopping refused a loss goal with
    stopped values as rewards keeps its journal (replayed as it was decided), and from
    now on stops its trials as rejected moves, as such a study is refused now."""
    if config.minimize and config.stopped_values_as_rewards:
        return dataclasses.replace(config, stopped_values_as_rewards=False)
    return config


# -- snapshots ---------------------------------------------------------------------------
@dataclass(frozen=True)
class SnapshotState:
    """A study's state at one instant; turned into a snapshot record by `snapshot_event`."""

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
        measurements_to_json(t.measurements),
        t.stop_reason,
        t.max_step,
        t.stopped_as_reward,
    ]


def trial_of_row(
    trial_id: int, row: Sequence[Any], study_uid: str, stopped_values_as_rewards: bool
) -> TrialRecord:
    """The trial of a snapshot row; `stopped_values_as_rewards`: the study's setting."""
    tokens, temperature, client, created, state, reward, accepted, done, lease, n = row[:10]
    # (compat) Rows of snapshots written before early stopping have 10 columns.
    measured, reason, max_step = row[10:13] if len(row) > 10 else ([], "", 0)
    if len(row) > 13:
        as_reward = bool(row[13])
    else:
        # (compat) Rows before the column: an accepted stop was judged as a reward (a
        # rejected move never is); otherwise the study's setting is the best guess.
        as_reward = state == TrialState.STOPPED.value and (
            bool(accepted) or stopped_values_as_rewards
        )
    return TrialRecord(
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
        measurements_from_json(measured),
        reason,
        max_step,
        study_uid=study_uid,
        stopped_as_reward=as_reward,
    )


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


def snapshot_event(state: SnapshotState) -> Record:
    """The whole state as one record: replaying it on a new Study restores that state.
    Its "trials" are lazy (SnapshotRows); `Study.snapshot_event` gives them as a list."""
    return encode_event(
        Snapshot(
            trials=SnapshotRows(state.trials),
            annealer=state.annealer,
            requests=[[rid, *answer] for rid, answer in state.requests],
            lease_expirations=state.lease_expirations,
        )
    )


def _column_bytes(column: array[int] | array[float]) -> str:
    """A column as base64 of its little-endian items (the snapshot's encoding)."""
    if sys.byteorder == "big":  # pragma: no cover - snapshots are little-endian everywhere
        column = array(column.typecode, column)
        column.byteswap()
    return base64.b64encode(column.tobytes()).decode("ascii")


@overload
def _column_from(text: str, typecode: Literal["q"]) -> array[int]: ...
@overload
def _column_from(text: str, typecode: Literal["d"]) -> array[float]: ...
def _column_from(text: str, typecode: Literal["q", "d"]) -> array[int] | array[float]:
    column: array[int] | array[float] = array(typecode)
    column.frombytes(base64.b64decode(text.encode("ascii"), validate=True))
    if sys.byteorder == "big":  # pragma: no cover
        column.byteswap()
    return column


def measurements_to_json(m: Measurements) -> dict[str, str]:
    """The snapshot's encoding: each column as base64 of little-endian int64 or float64,
    about 32 characters a point where JSON numbers took about 45."""
    steps, values, times = m.columns()
    return {
        "steps": _column_bytes(steps),
        "values": _column_bytes(values),
        "times": _column_bytes(times),
    }


def measurements_from_json(data: Any) -> Measurements:
    """Either encoding: the base64 columns, or (compat) a list of [step, value, time]
    (snapshot rows written before the columns)."""
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
    return Measurements.of_columns(steps, values, times)
