"""A study: its config, its trials and its annealer, as a pure state machine.

Every change is an event (a JSON-ready dict). The live path decides an event (drawing
from the annealer's generator) and records it; a journal replay records the same events
without deciding, restoring the generator state each event carries. Both paths share
the `_record_*` methods, so a replay rebuilds exactly the state that was acknowledged.
"""

from __future__ import annotations

import dataclasses
import math
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

import numpy as np

from sanas.spaces import CombinedSpace, SpaceConfig, SpaceConfigError, check_tokens

from .annealer import Annealer, SpaceExhausted
from .errors import (
    BudgetExhausted,
    InvalidArgument,
    SearchSpaceExhausted,
    TrialAlreadyCompleted,
    TrialNotFound,
)

DEFAULT_SEARCH_STEPS = 300
DEFAULT_REDUCE_RATE = 0.85
# PaddleSlim's documented rule: 10.0 for a random start, 1.0 from given init_tokens.
DEFAULT_TEMPERATURE_RANDOM_START = 10.0
DEFAULT_TEMPERATURE_GIVEN_START = 1.0
MAX_TOKENS = 10_000
MAX_CLIENT_ID = 128
STUDY_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")

Event = dict[str, Any]


class TrialState(str, Enum):
    ACTIVE = "ACTIVE"
    SUCCEEDED = "SUCCEEDED"
    INFEASIBLE = "INFEASIBLE"


def check_study_id(study_id: str) -> str:
    if not STUDY_ID_PATTERN.match(study_id):
        raise InvalidArgument(
            f"study_id {study_id!r} is invalid: use 1-128 characters of letters, digits, "
            "'.', '_' or '-', starting with a letter or digit"
        )
    return study_id


@dataclass(frozen=True)
class StudyRequest:
    """A study config as a client sent it; None / 0 / empty mean "use the default"."""

    search_spaces: tuple[SpaceConfig, ...]
    init_temperature: float | None = None
    reduce_rate: float | None = None
    init_tokens: tuple[int, ...] = ()
    search_steps: int = 0
    seed: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            **dataclasses.asdict(self),
            "search_spaces": [dataclasses.asdict(c) for c in self.search_spaces],
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
        )

    def matches(self, other: StudyRequest) -> bool:
        """Same config for CreateStudy's idempotency; an unset seed matches any seed."""
        if self.seed is None or other.seed is None:
            return dataclasses.replace(self, seed=None) == dataclasses.replace(other, seed=None)
        return self == other


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
        )


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

    @property
    def infeasible(self) -> bool:
        return self.state is TrialState.INFEASIBLE


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


class Study:
    """One search: trials plus the annealer, changed only through events."""

    def __init__(
        self, study_id: str, request: StudyRequest, spec: StudySpec, create_time: float
    ) -> None:
        self.study_id = study_id
        self.request = request
        self.spec = spec
        self.create_time = create_time
        self.annealer = Annealer(
            spec.range_table, spec.init_tokens, spec.init_temperature, spec.reduce_rate, spec.seed
        )
        self.trials: list[TrialRecord] = []
        self.counts = dict.fromkeys(TrialState, 0)
        self._issuable = min(spec.search_steps, math.prod(spec.range_table))

    # -- header (what storage keeps beside the journal) ----------------------------------
    def header(self) -> dict[str, Any]:
        return {
            "study_id": self.study_id,
            "request": self.request.to_json(),
            "spec": {**dataclasses.asdict(self.spec), "search_spaces": None},
            "create_time": self.create_time,
        }

    @classmethod
    def from_header(cls, header: dict[str, Any]) -> Study:
        request = StudyRequest.from_json(header["request"])
        spec_data = header["spec"]
        spec = StudySpec(
            search_spaces=request.search_spaces,
            init_temperature=spec_data["init_temperature"],
            reduce_rate=spec_data["reduce_rate"],
            init_tokens=tuple(spec_data["init_tokens"]),
            search_steps=spec_data["search_steps"],
            seed=spec_data["seed"],
            range_table=tuple(spec_data["range_table"]),
        )
        return cls(header["study_id"], request, spec, header["create_time"])

    # -- queries -------------------------------------------------------------------------
    @property
    def budget_remaining(self) -> int:
        return self._issuable - len(self.trials)

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
        )

    # -- live decisions ------------------------------------------------------------------
    def suggest(self, client_id: str, now: float) -> tuple[TrialRecord, Event]:
        if len(client_id) > MAX_CLIENT_ID:
            raise InvalidArgument(f"client_id has {len(client_id)} characters; at most 128")
        if len(self.trials) >= self.spec.search_steps:
            raise BudgetExhausted(
                f"study {self.study_id!r} has issued all {self.spec.search_steps} trials of its "
                f"search_steps budget ({self.counts[TrialState.ACTIVE]} still running); "
                "create a new study or import this one to search further"
            )
        temperature = self.annealer.temperature
        try:
            tokens = self.annealer.propose()
        except SpaceExhausted as exc:
            raise SearchSpaceExhausted(f"study {self.study_id!r}: {exc}") from exc
        event: Event = {
            "e": "suggest",
            "id": len(self.trials),
            "tokens": list(tokens),
            "T": temperature,
            "client": client_id,
            "time": now,
            "rng": list(self.annealer.rng_state),
            "radius": self.annealer.radius,
        }
        return self._record_suggest(event), event

    def complete(
        self, trial_id: int, reward: float, infeasible: bool, now: float
    ) -> tuple[TrialRecord, Event | None]:
        """Returns the completed trial and the event, or no event for a repeated report."""
        if infeasible:
            reward = 0.0  # ignored for infeasible trials, whatever was sent
        elif not math.isfinite(reward):
            raise InvalidArgument(f"reward {reward!r} is not a finite number")
        trial = self.trial(trial_id)
        if trial.state is not TrialState.ACTIVE:
            if trial.infeasible == infeasible and trial.reward == reward:
                return trial, None  # the same report again: idempotent
            before = "infeasible" if trial.infeasible else f"reward {trial.reward!r}"
            raise TrialAlreadyCompleted(
                f"trial {trial_id} of study {self.study_id!r} was already completed with "
                f"{before}; a different result cannot replace it"
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
        return self._record_complete(event), event

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

    # -- replay --------------------------------------------------------------------------
    def apply(self, event: Event) -> None:
        """Record an already-decided event (journal replay)."""
        kind = event["e"]
        if kind == "suggest":
            self.annealer.mark_issued(event["tokens"])
            self._record_suggest(event)
        elif kind == "complete":
            trial = self.trials[event["id"]]
            self.annealer.apply_result(
                trial.tokens, event["reward"], event["infeasible"], event["accepted"]
            )
            self._record_complete(event)
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

    def _record_suggest(self, event: Event) -> TrialRecord:
        if event["id"] != len(self.trials):
            raise ValueError(f"journal out of order: trial {event['id']} after {len(self.trials)}")
        trial = TrialRecord(
            trial_id=event["id"],
            tokens=tuple(event["tokens"]),
            temperature=event["T"],
            client_id=event["client"],
            create_time=event["time"],
        )
        self.trials.append(trial)
        self.counts[TrialState.ACTIVE] += 1
        return trial

    def _record_complete(self, event: Event) -> TrialRecord:
        old = self.trials[event["id"]]
        state = TrialState.INFEASIBLE if event["infeasible"] else TrialState.SUCCEEDED
        trial = dataclasses.replace(
            old,
            state=state,
            reward=event["reward"],
            accepted=event["accepted"],
            complete_time=event["time"],
        )
        self.trials[event["id"]] = trial
        self.counts[old.state] -= 1
        self.counts[state] += 1
        return trial
