"""The proposal policy: the seam between a study and its search algorithm.

`Study` (study.py) owns one `Policy` and talks to it only through the methods below; the
annealer (annealer.py, `Annealer`) is the first implementation. A policy is a pure,
seeded state machine (no clock, no I/O, no threads), and a journal replay must rebuild it
exactly, so every decision it makes comes in two halves:

- live, it *decides*: `propose` draws a trial's tokens and returns a `Proposal`, `judge`
  decides what a result does and returns a `Judgement`; the study stores each in its
  journal event as it is (a Proposal's fields are `journal.Suggest` fields of the same
  names and on-disk keys, a Judgement's those of `Complete` and of a `Progress` judged
  as a reward);
- on replay it *applies* what was decided: `record(proposal)` for a Suggest, `restore`
  for a result, each given back what the live half returned (generator state included),
  never deciding again.

`stop` (an early-stopped trial as a rejected move), `skip` and `rebase` (an import) are
deterministic and the same live and on replay. `state()` / `from_state()` carry the whole
policy through a snapshot (the issued token vectors are every trial's tokens, which the
snapshot's rows hold, so `state()` leaves them out). `standing()` is what a study's
summary shows of the search.

Work a proposal needs that is costly and can be done ahead (a model's fit) may be taken
out of the caller's lock: `fit_job` copies what it needs into an immutable `FitJob`,
whose `run()` is a pure function of that copy (no policy state), and `install_fit`
puts the result back. A policy that has no such work keeps the defaults (no job, nothing
to install); one that has must still decide the same when used alone, with no job run:
`propose` then does the work itself.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .spec import StudySpec

# The largest |reward| a study accepts (live results and imports alike): squared
# deviations of such rewards stay below 4e200, so a policy's reward statistics never
# overflow.
MAX_ABS_REWARD = 1e100
# The largest reward count a study is given from outside (a PaddleSlim checkpoint's
# _iter): an int32 like a token, and a count whose int -> float conversion is exact.
MAX_REWARDED = 2**31 - 1

# A cost-constraint test on a candidate (None: no constraints).
Feasible = Callable[[tuple[int, ...]], bool]


# A result a fit job may count as already reported: (tokens, reward), feasible.
PendingResult = tuple[tuple[int, ...], float]


class FitJob(ABC):
    """Work for the next proposal, copied out of a policy under its owner's lock and run
    without it: `run()` reads only the job's own (immutable) data."""

    @abstractmethod
    def run(self) -> object:
        """The result, for the policy's `install_fit`."""


class SpaceExhausted(Exception):
    """Every token vector of the space has been issued (or none left is feasible)."""


@dataclass(frozen=True, slots=True)
class Proposal:
    """A proposal as the Suggest event stores it: each field is the `journal.Suggest`
    field of the same name (so the on-disk keys are Suggest's). `temperature` is what
    the trial records as drawn at (0.0 for a policy without one); the rest is the
    policy's own state after deciding, None / default when it has none. A policy that
    needs another field adds it here and to Suggest with a default (an omitted key reads
    as the default, so older journals replay unchanged)."""

    tokens: tuple[int, ...]
    temperature: float
    rng_state: list[int] | None = None  # the generator after the proposal
    radius: int | None = None
    rejected: int | None = None  # candidates the constraints refused so far
    kick: bool = False
    dropped: int = 0
    # The reward a policy's model predicted for the tokens when it chose them (None: no
    # model chose them), so a replayed study measures its model as the live one did.
    predicted: float | None = None

    def event_fields(self) -> dict[str, Any]:
        """Keyword arguments for journal.Suggest (tokens as the list JSON holds)."""
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        fields["tokens"] = list(self.tokens)
        return fields

    @classmethod
    def of_event(cls, event: Any) -> Proposal:
        """The proposal a Suggest event stored."""
        fields = {f.name: getattr(event, f.name) for f in dataclasses.fields(cls)}
        fields["tokens"] = tuple(fields["tokens"])
        return cls(**fields)


@dataclass(frozen=True, slots=True)
class Judgement:
    """What a result did, as Complete (and a Progress judged as a reward) store it:
    `accepted` (it became the base) and the generator state after deciding (None when
    no generator was drawn from, as for imported results)."""

    accepted: bool
    rng_state: list[int] | None = None


@dataclass(frozen=True, slots=True)
class ModelFit:
    """How well a policy's model ranked results before seeing them: the Spearman rank
    correlation of its predictions with the rewards, over `trials` recent results."""

    rank_correlation: float
    trials: int


@dataclass(frozen=True, slots=True)
class Standing:
    """Where the search stands, for a study's summary."""

    best_tokens: tuple[int, ...] | None
    best_reward: float | None
    current_tokens: tuple[int, ...]
    current_reward: float | None
    temperature: float
    rejected_proposals: int  # candidates the constraints refused
    model_fit: ModelFit | None = None  # None: the policy has no model, or too few results


class Policy(ABC):
    """What a study asks of its search algorithm (see the module doc)."""

    @classmethod
    @abstractmethod
    def for_spec(cls, spec: StudySpec) -> Policy:
        """A new search for a study's resolved config."""

    # -- proposals ---------------------------------------------------------------------
    @abstractmethod
    def propose(self, feasible: Feasible | None) -> Proposal:
        """Decide and apply a new trial's tokens, never issued before (SpaceExhausted
        when there are none), accepted by `feasible` when given."""

    def fit_job(self, result: PendingResult | None = None) -> FitJob | None:
        """Work the next `propose` would otherwise do itself, to be run outside the
        caller's lock; None when there is none (the default) or it is done already.
        `result`: a feasible result about to be reported, counted as if it were (a
        CompleteTrial that also asks for the next trial)."""
        return None

    def install_fit(self, fitted: object, stale_ok: bool = False) -> bool:
        """Install what a `fit_job`'s run returned. True when the next `propose` uses it:
        it is for the results the policy has now, or it is for fewer (results arrived
        during the run) and `stale_ok`. False, changing nothing, otherwise (the default:
        a policy without jobs)."""
        return False

    @abstractmethod
    def record(self, proposal: Proposal) -> None:
        """Apply a proposal `propose` returned (a replayed Suggest; also an imported
        result's, which carries only tokens), restoring the state it carries."""

    # -- results -----------------------------------------------------------------------
    @abstractmethod
    def judge(self, tokens: Sequence[int], reward: float, infeasible: bool) -> Judgement:
        """Decide and apply what a result does to the search."""

    @abstractmethod
    def restore(
        self, tokens: Sequence[int], reward: float, infeasible: bool, judgement: Judgement
    ) -> None:
        """Apply a result as `judge` decided it (a replay), restoring the state the
        judgement carries."""

    @abstractmethod
    def stop(self, tokens: Sequence[int]) -> None:
        """A trial stopped early, as a rejected move (its value is not a reward)."""

    @abstractmethod
    def skip(self, tokens: Sequence[int]) -> None:
        """A trial its trainer skipped: no longer pending, its tokens stay issued."""

    @abstractmethod
    def rebase(
        self,
        base_tokens: Sequence[int],
        base_reward: float | None,
        best_tokens: Sequence[int] | None,
        best_reward: float | None,
        rewarded: int,
    ) -> None:
        """Set the search position directly (a PaddleSlim checkpoint's import)."""

    # -- queries and snapshots ---------------------------------------------------------
    @abstractmethod
    def standing(self) -> Standing: ...

    @abstractmethod
    def state(self) -> dict[str, Any]:
        """Everything but the issued token vectors, as JSON (the snapshot's "annealer")."""

    @classmethod
    @abstractmethod
    def from_state(
        cls, spec: StudySpec, state: dict[str, Any], issued: Iterable[Sequence[int]]
    ) -> Policy:
        """The policy a snapshot holds: `state()` output plus every trial's tokens."""
