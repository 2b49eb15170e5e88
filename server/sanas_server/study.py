"""A study: its config, its trials and its proposal policy, as a pure state machine.

Every change is an event (see journal.py). The live path decides an event (the policy's
`propose` / `judge`, which may draw from its generator) and records it; a journal replay
records the same events without deciding, handing the policy back what each event
carries (`record` / `restore`). Both paths share the `_record_*` methods, so a replay
rebuilds exactly the state that was acknowledged. The live calls return each event as
its journal record. The study knows its policy only through policy.Policy.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from sanas.spaces import Architecture, CombinedSpace, SpaceConfigError, check_tokens, describe
from sanas.spaces.cost import Cost, network_cost

from .annealer import Annealer
from .binding import Binding, bound_trial, new_study_uid
from .errors import (
    BudgetExhausted,
    InvalidArgument,
    SearchSpaceExhausted,
    TooManyPendingTrials,
    TrialAlreadyCompleted,
    TrialNotFound,
    TrialNotHeld,
)
from .guided import GuidedAnnealer
from .journal import (
    Ack,
    Complete,
    Event,
    EventKind,
    Header,
    Progress,
    Rebase,
    Record,
    Reissue,
    Skip,
    Snapshot,
    SnapshotState,
    Suggest,
    completed_trial,
    decode_event,
    decode_header,
    encode_event,
    encode_header,
    snapshot_event,
    trial_of_row,
)
from .leases import RunningTrials
from .policy import (
    MAX_ABS_REWARD,
    MAX_REWARDED,
    FitJob,
    Judgement,
    ModelFit,
    Policy,
    Proposal,
    SpaceExhausted,
)
from .request_log import RequestLog
from .spec import MAX_INT64, StudyRequest, StudySpec, resolve_early_stopping
from .stopping import MAX_RULE_INT, Curve, EarlyStopping, judge
from .trials import EMPTY_MEASUREMENTS, MAX_MEASUREMENTS, TrialRecord, TrialState

MAX_CLIENT_ID = 128
# The policy class of each name a study's config may give (spec.POLICY_NAMES).
POLICIES: dict[str, type[Policy]] = {"annealer": Annealer, "model-guided": GuidedAnnealer}
MAX_SKIP_REASON = 256


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
    # Set (by the controller) while the study is soft-deleted.
    delete_time: float | None = None
    expire_time: float | None = None
    model_fit: ModelFit | None = None  # how well the policy's model ranks (policy.py)

    @property
    def rejected_moves(self) -> int:
        """Results that did not move the base; a stopped trial is one (or its value is
        judged, with stopped_values_as_rewards)."""
        done = self.counts[TrialState.SUCCEEDED] + self.counts[TrialState.STOPPED]
        return done - self.accepted_moves


class Study:
    """One search: trials plus the proposal policy, changed only through events."""

    def __init__(
        self,
        study_id: str,
        request: StudyRequest,
        spec: StudySpec,
        create_time: float,
        uid: str | None = None,
        policy: type[Policy] | None = None,
    ) -> None:
        """`uid`: the incarnation's uid as its header keeps it; None mints a new one
        (a study being created). `policy`: the Policy class, when not the one the spec
        names (tests plug in their own)."""
        self.study_id = study_id
        self.uid = new_study_uid() if uid is None else uid
        self.request = request
        self.spec = spec
        self.create_time = create_time
        self.policy: Policy = (policy or POLICIES[spec.policy]).for_spec(spec)
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
        self.running = RunningTrials()
        # AIP-155 answers, rebuilt on replay.
        self.requests = RequestLog()

    # -- header (what storage keeps beside the journal) ----------------------------------
    def header(self) -> dict[str, Any]:
        return encode_header(
            Header(self.study_id, self.uid, self.request, self.spec, self.create_time)
        )

    @classmethod
    def from_header(cls, data: dict[str, Any], policy: type[Policy] | None = None) -> Study:
        header = decode_header(data)
        return cls(
            header.study_id, header.request, header.spec, header.create_time, header.uid, policy
        )

    def differences(self, request: StudyRequest) -> list[str]:
        """What a create of this study's id asks for that differs from the study: the
        requests' differences (StudyRequest.differences), and a policy other than the one
        it resolved (a study created without one has the default, which a request naming
        another must not silently join)."""
        out = self.request.differences(request)
        if (
            request.policy is not None
            and request.policy != self.spec.policy
            and not any(d.startswith("policy:") for d in out)
        ):
            out.append(f"policy: {self.spec.policy!r} (existing) vs {request.policy!r} (requested)")
        return out

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
        """The trial a trial-scoped request is about (see binding.bound_trial)."""
        return bound_trial(self, trial_id, binding)

    def summary(self) -> StudySummary:
        a = self.policy.standing()
        return StudySummary(
            study_id=self.study_id,
            spec=self.spec,
            completed=self.completed,
            best_tokens=a.best_tokens,
            best_reward=a.best_reward,
            current_tokens=a.current_tokens,
            current_reward=a.current_reward,
            temperature=a.temperature,
            counts=dict(self.counts),
            budget_remaining=self.budget_remaining,
            create_time=self.create_time,
            lease_expirations=min(self.lease_expirations, MAX_INT64),
            accepted_moves=self.accepted_moves,
            rejected_proposals=min(a.rejected_proposals, MAX_INT64),
            # 2^53-step stops add up past int64 after 1,024 of them: saturate.
            steps_saved=min(self.steps_saved, MAX_INT64),
            uid=self.uid,
            model_fit=a.model_fit,
        )

    def answer_for(
        self,
        request_id: str,
        call: str,
        trial_id: int | None = None,
        result: tuple[float, bool] | None = None,
    ) -> tuple[TrialRecord, TrialRecord | None] | None:
        """The first answer to a retried request (AIP-155), or None for a new request
        (see RequestLog.answer_for)."""
        return self.requests.answer_for(self.trials, request_id, call, trial_id, result)

    def renew_leases(self, now: float) -> None:
        """After a controller restart every running trial gets a whole lease again."""
        self.running.renew(self.trials, now, self.spec.lease_seconds)

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
    ) -> tuple[TrialRecord, Record | None]:
        """Issue a trial: an expired one first, else a new proposal. `next_of` names the
        CompleteTrial request (request id, trial id) whose suggest_next asked for it."""
        if len(client_id) > MAX_CLIENT_ID:
            raise InvalidArgument(f"client_id has {len(client_id)} characters; at most 128")
        known = self.answer_for(request_id, "suggest")
        if known is not None:
            return known[0], None
        if max_pending and self.running.held_by(client_id) >= max_pending:
            raise TooManyPendingTrials(
                f"client {client_id!r} already holds {max_pending} running trials of study "
                f"{self.study_id!r}; complete some before asking for more"
            )
        ids: dict[str, Any] = {"request_id": request_id}
        if next_of is not None and next_of[0]:
            ids["next_of"], ids["completed_trial"] = next_of
        expired = self.running.first_expired(self.trials, now)
        if expired is not None:
            reissue = Reissue(expired, client_id, now, **ids)
            return self._record_reissue(reissue), encode_event(reissue)
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
        feasible = self._feasible if self.spec.constraints.active else None
        try:
            proposal = self.policy.propose(feasible)
        except SpaceExhausted as exc:
            raise SearchSpaceExhausted(f"study {self.study_id!r}: {exc}") from exc
        event = Suggest(
            trial_id=len(self.trials),
            client_id=client_id,
            time=now,
            **proposal.event_fields(),  # stored as it is
            **ids,
        )
        return self._record_suggest(event), encode_event(event)

    def fit_job(
        self, now: float, completing: tuple[int, float, bool] | None = None
    ) -> FitJob | None:
        """The policy's work for the proposal `suggest` would make next, for a caller to
        run outside its lock and hand to `install_fit` (Policy.fit_job); None when there
        is none or `suggest` would not propose (budget spent, an expired trial to hand
        out again). `completing`: (trial id, reward, infeasible) of a report `complete`
        is about to record first, counted when it would reach the policy as a result."""
        result = None
        if completing is not None:
            trial_id, reward, infeasible = completing
            trial = self.trials[trial_id] if 0 <= trial_id < len(self.trials) else None
            if trial is None or trial.state is not TrialState.ACTIVE:
                return None  # refused, or a retry: either way no proposal to fit for
            if not infeasible and not (math.isfinite(reward) and abs(reward) <= MAX_ABS_REWARD):
                return None  # refused: no fit for a request that changes nothing
            if not infeasible:
                result = (trial.tokens, float(reward))
        job = self.policy.fit_job(result)  # the policy first: the annealer's is None
        if job is None or self.issued >= self.spec.search_steps:
            return None
        expired = self.running.first_expired(self.trials, now)
        if expired is not None and (completing is None or expired != completing[0]):
            return None
        return job

    def install_fit(self, fitted: object, stale_ok: bool = False) -> bool:
        """Install a fit job's result (Policy.install_fit): whether `suggest` uses it."""
        return self.policy.install_fit(fitted, stale_ok)

    def describe(self, tokens: Sequence[int]) -> tuple[list[Architecture], Cost] | None:
        """The networks a token vector decodes to and their cost, if the spaces have
        networks (custom token spaces do not)."""
        c = self.spec.constraints
        try:
            described = describe(self._space, tokens, c.in_channels, c.input_size)
        except SpaceConfigError:
            return None
        return described.architectures, described.cost

    def _feasible(self, tokens: tuple[int, ...]) -> bool:
        c = self.spec.constraints
        cost = network_cost(self._space.decode(tokens, c.in_channels), c.input_size)
        return (not c.max_flops or cost.flops <= c.max_flops) and (
            not c.max_params or cost.params <= c.max_params
        )

    def complete(
        self,
        trial_id: int,
        reward: float,
        infeasible: bool,
        now: float,
        request_id: str = "",
        binding: Binding | None = None,
    ) -> tuple[TrialRecord, Record | None]:
        """Returns the completed trial and the event, or no event for a repeated report."""
        if infeasible:
            reward = 0.0  # ignored for infeasible trials, whatever was sent
        elif not math.isfinite(reward):
            raise InvalidArgument(
                f"reward {reward!r} is not a finite number; report a candidate that failed "
                "(diverged, out of memory) as infeasible: CompleteTrial.infeasible, "
                "SANAS.reward(score, infeasible=True)"
            )
        elif abs(reward) > MAX_ABS_REWARD:  # the policy's statistics stay finite
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
        judgement = self.policy.judge(trial.tokens, reward, infeasible)
        event = Complete(
            trial_id,
            reward,
            infeasible,
            judgement.accepted,
            now,
            rng_state=judgement.rng_state,
            request_id=request_id,
        )
        return self._record_complete(event), encode_event(event)

    def skip(
        self,
        trial_id: int,
        now: float,
        client_id: str = "",
        reason: str = "",
        binding: Binding | None = None,
    ) -> tuple[TrialRecord, Record | None]:
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
        event = Skip(trial_id, now, reason)
        self.policy.skip(trial.tokens)
        return self._record_skip(event), encode_event(event)

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
    ) -> tuple[TrialRecord, bool, Record | None]:
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
            [self.trials[i].measurements.curve for i in self.running if i != trial_id]
            if config.rule is not None and config.rule.uses_running
            else []
        )
        planned = max_step or trial.max_step
        # At the planned last step training is done: a stop would save nothing and only
        # throw the finished result away.
        last = bool(planned) and step >= planned
        finished = self._finished_curves.values()
        reason = None if last else judge(config, step, value, measured.curve, finished, running)
        event = Progress(trial_id, step, value, now, max_step=max_step, stop_reason=reason)
        if reason is not None:
            if config.stopped_values_as_rewards:
                judgement = self.policy.judge(trial.tokens, value, False)
                event = dataclasses.replace(
                    event,
                    as_reward=True,
                    accepted=judgement.accepted,
                    rng_state=judgement.rng_state,
                )
            else:
                self.policy.stop(trial.tokens)
        return self._record_progress(event), reason is not None, encode_event(event)

    def import_history(
        self,
        results: Sequence[tuple[Sequence[int], float]],
        base: tuple[Sequence[int], float | None],
        best: tuple[Sequence[int] | None, float | None],
        rewarded: int,
        now: float,
    ) -> list[Record]:
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
        # The same reward rule as a live result, so the policy's statistics stay finite.
        rewards: list[tuple[str, float | None]] = [
            (f"imported result {i}", r) for i, (_, r) in enumerate(results)
        ]
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
            events.append(Suggest(trial_id, list(tokens), 0.0, "import", now))
            events.append(Complete(trial_id, reward, False, False, now))
        events.append(
            Rebase(
                list(base[0]),
                base[1],
                None if best[0] is None else list(best[0]),
                best[1],
                rewarded,
            )
        )
        for event in events:
            self.apply(event)
        return [encode_event(e) for e in events]

    # -- snapshots -----------------------------------------------------------------------
    def snapshot_state(self) -> SnapshotState:
        """The whole state, captured cheaply (references to immutable records) so the
        caller can serialize it after releasing the study's lock."""
        return SnapshotState(
            trials=tuple(self.trials),
            annealer=self.policy.state(),  # the snapshot's key, whatever the policy
            requests=tuple(self.requests.items()),
            lease_expirations=self.lease_expirations,
        )

    def snapshot_event(self) -> Record:
        """The whole state as one record (JSON-ready: its rows as a list): replaying it
        on a new Study restores this one."""
        record = snapshot_event(self.snapshot_state())
        return {**record, "trials": list(record["trials"])}

    # -- replay: one apply per event kind ------------------------------------------------
    def apply(self, event: Event | Record) -> None:
        """Record an already-decided event (a journal record, on replay)."""
        if isinstance(event, dict):
            event = decode_event(event)
        self._REPLAY[event.kind](self, event)

    def _apply_snapshot(self, event: Snapshot) -> None:
        if self.trials:
            raise ValueError("a snapshot can only start a journal")
        as_rewards = self.spec.early_stopping.stopped_values_as_rewards
        for trial_id, row in enumerate(event.trials):
            trial = trial_of_row(trial_id, row, self.uid, as_rewards)
            self.trials.append(trial)
            self.measured += len(trial.measurements)
            self.counts[trial.state] += 1
            self.accepted_moves += trial.accepted
            self.steps_saved += trial.steps_saved
            self._note_finished(trial)
            if trial.state is TrialState.ACTIVE:
                self.running.hold(trial)
        # Issued == every trial's tokens.
        issued = (trial.tokens for trial in self.trials)
        self.policy = type(self.policy).from_state(self.spec, event.annealer, issued)
        answers = ((rid, (kind, tid, nxt)) for rid, kind, tid, nxt in event.requests)
        self.requests = RequestLog(answers)
        self.lease_expirations = event.lease_expirations

    def _apply_suggest(self, event: Suggest) -> None:
        self.policy.record(Proposal.of_event(event))
        self._record_suggest(event)

    def _apply_complete(self, event: Complete) -> None:
        trial = self.trials[event.trial_id]
        judgement = Judgement(event.accepted, event.rng_state)
        self.policy.restore(trial.tokens, event.reward, event.infeasible, judgement)
        self._record_complete(event)

    def _apply_reissue(self, event: Reissue) -> None:
        self._record_reissue(event)

    def _apply_skip(self, event: Skip) -> None:
        self.policy.skip(self.trials[event.trial_id].tokens)
        self._record_skip(event)

    def _apply_progress(self, event: Progress) -> None:
        if event.stopped:
            tokens = self.trials[event.trial_id].tokens
            if event.as_reward:
                judgement = Judgement(bool(event.accepted), event.rng_state)
                self.policy.restore(tokens, event.value, False, judgement)
            else:
                self.policy.stop(tokens)
        # Only a stop judged as a reward carries a generator state (from `judge`).
        self._record_progress(event)

    def _apply_ack(self, event: Ack) -> None:
        self._remember_request(event, "complete")

    def _apply_rebase(self, event: Rebase) -> None:
        self.policy.rebase(
            event.base_tokens,
            event.base_reward,
            event.best_tokens,
            event.best_reward,
            event.rewarded,
        )

    _REPLAY: ClassVar[dict[EventKind, Callable[[Study, Any], None]]] = {
        EventKind.SNAPSHOT: _apply_snapshot,
        EventKind.SUGGEST: _apply_suggest,
        EventKind.COMPLETE: _apply_complete,
        EventKind.REISSUE: _apply_reissue,
        EventKind.SKIP: _apply_skip,
        EventKind.PROGRESS: _apply_progress,
        EventKind.ACK: _apply_ack,
        EventKind.REBASE: _apply_rebase,
    }

    # -- recording: shared by the live decisions and the replay --------------------------
    def _record_suggest(self, event: Suggest) -> TrialRecord:
        if event.trial_id != len(self.trials):
            raise ValueError(
                f"journal out of order: trial {event.trial_id} after {len(self.trials)}"
            )
        trial = TrialRecord(
            trial_id=event.trial_id,
            tokens=tuple(event.tokens),
            temperature=event.temperature,
            client_id=event.client_id,
            create_time=event.time,
            lease_expire=event.time + self.spec.lease_seconds,
            study_uid=self.uid,
        )
        self.trials.append(trial)
        self.counts[TrialState.ACTIVE] += 1
        self.running.hold(trial)
        self._remember_request(event, "suggest")
        return trial

    def _record_reissue(self, event: Reissue) -> TrialRecord:
        old = self.trials[event.trial_id]
        self.running.release(old)
        trial = dataclasses.replace(
            old,
            client_id=event.client_id,
            lease_expire=event.time + self.spec.lease_seconds,
            issues=old.issues + 1,
            measurements=EMPTY_MEASUREMENTS,  # the new holder trains from the start
            max_step=0,
        )
        self.measured -= len(old.measurements)
        self.trials[trial.trial_id] = trial
        self.running.hold(trial)
        self.lease_expirations += 1
        self._remember_request(event, "suggest")
        return trial

    def _record_progress(self, event: Progress) -> TrialRecord:
        old = self.trials[event.trial_id]
        if old.state is not TrialState.ACTIVE:
            raise ValueError(f"progress of trial {event.trial_id}, which is not running")
        trial = dataclasses.replace(
            old,
            measurements=old.measurements.appended(event.step, event.value, event.time),
            # An absent max_step (0) keeps the one reported before.
            max_step=event.max_step or old.max_step,
        )
        self.measured += 1
        if event.stop_reason is not None:
            trial = dataclasses.replace(
                trial,
                state=TrialState.STOPPED,
                reward=event.value,
                accepted=False if event.accepted is None else event.accepted,
                complete_time=event.time,
                lease_expire=event.time,  # see _record_complete
                stop_reason=event.stop_reason,
                stopped_as_reward=bool(event.as_reward),
            )
            self.counts[old.state] -= 1
            self.counts[TrialState.STOPPED] += 1
            self.accepted_moves += trial.accepted
            self.steps_saved += trial.steps_saved
            self.running.release(old)
            self._note_finished(trial)
        self.trials[trial.trial_id] = trial
        return trial

    def _record_skip(self, event: Skip) -> TrialRecord:
        old = self.trials[event.trial_id]
        if old.state is not TrialState.ACTIVE:
            raise ValueError(f"skip of trial {event.trial_id}, which is not running")
        trial = dataclasses.replace(
            old,
            state=TrialState.SKIPPED,
            complete_time=event.time,
            lease_expire=event.time,  # see _record_complete
            stop_reason=event.reason,
        )
        self.trials[trial.trial_id] = trial
        self.counts[old.state] -= 1
        self.counts[TrialState.SKIPPED] += 1
        self.running.release(old)
        return trial

    def _note_finished(self, trial: TrialRecord) -> None:
        if trial.state is not TrialState.ACTIVE and trial.measurements:
            self._finished_curves[trial.trial_id] = trial.measurements.curve

    def _remember_request(self, event: Suggest | Reissue | Complete | Ack, call: str) -> None:
        """Live and on replay alike, so the remembered ids (and which are forgotten)
        are the same after a restart."""
        self.requests.remember(event.request_id, call, event.trial_id)
        if not isinstance(event, Complete) and event.next_of is not None:
            first_id = completed_trial(event, lambda rid: self.requests.get(rid)[1])  # type: ignore[index]
            self.requests.remember_next(event.next_of, first_id, event.trial_id)

    def _record_complete(self, event: Complete) -> TrialRecord:
        old = self.trials[event.trial_id]
        state = TrialState.INFEASIBLE if event.infeasible else TrialState.SUCCEEDED
        trial = dataclasses.replace(
            old,
            state=state,
            reward=event.reward,
            accepted=event.accepted,
            complete_time=event.time,
            # The lease ends with the trial: the same after a journal replay (which never
            # sees heartbeats) and after a snapshot (which holds the renewed leases).
            lease_expire=event.time,
        )
        self.trials[event.trial_id] = trial
        self.counts[old.state] -= 1
        self.counts[state] += 1
        self.accepted_moves += trial.accepted
        self.running.release(old)
        self._note_finished(trial)
        self._remember_request(event, "complete")
        return trial
