"""`SANAS`: PaddleSlim's documented API, backed by a sanas controller over gRPC.

Differences from PaddleSlim that scripts may notice (all deliberate):
- `search_steps` is a budget for the whole study, shared by every client; when it is
  spent, `next_archs()` raises `sanas.errors.SearchFinished` (never exits the process);
- several SANAS instances (trainers) join one study by `study_id` (default "sanas"). A
  joining client (`is_server=False`) takes the study as the server created it: its search
  spaces must match (a mismatch names the field), and annealing parameters it passes that
  differ are warned about and the study's values are used;
- the resume rule: `save_checkpoint` is where the embedded controller writes;
  `load_checkpoint` resumes. A sanas checkpoint folder is resumed in place (logged as
  `resumed study X with N results from DIR`); a PaddleSlim one is imported. A
  `save_checkpoint` folder that already holds trials of the study, with no
  `load_checkpoint` (the script run again), continues that search with a warning where
  PaddleSlim would start over; one holding other search spaces is refused;
- inside an initialised `paddle.distributed` group (a data-parallel trainer started by
  `python -m paddle.distributed.launch`), the ranks are one trainer: rank 0 alone talks to
  the controller (and alone starts an embedded one), every rank gets the same trial,
  builds its networks from the same seed, and sees the same stop and SearchFinished.
  Every rank calls the same methods; rank 0's reward is the group's (average the metric
  first: `sanas.group_mean`). `trainer_group=None` makes each rank a trainer of its own.
"""

from __future__ import annotations

import atexit
import collections
import logging
import math
import socket
import sys
import threading
import time
import zlib
from collections.abc import Sequence
from typing import Any

from .channel import DEFAULT_PORT, parse_server_addr, this_host_address
from .client import Client, LeaseKeeper
from .errors import (
    ControllerUnavailableError,
    EvaluationProgramError,
    InvalidArgumentError,
    SanasError,
    SearchFinished,
    StaleTrialError,
    TrialAlreadyCompletedError,
    TrialNotHeldError,
)
from .group import TrainerGroup
from .opening import join, open_as_server, results_of, trials_of
from .spaces import Architecture, CombinedSpace, CustomTokenSpace, SpaceConfig, SpaceConfigError
from .study_config import study_config
from .v1 import sanas_pb2 as pb
from .wire import bracketed

log = logging.getLogger(__name__)
# Seconds a trainer keeps trying a vanished controller once the budget is issued.
RETRY_AFTER_BUDGET = 15.0
# How long an embedded controller whose script has ended stays up once no other trainer
# holds a trial, so one between two calls (a skip and its next suggestion, a reward and
# the next next_archs()) still finds it; only when other trainers took part in the run.
TRAINERS_QUIET_SECONDS = 5.0


class _Default(float):
    """PaddleSlim's default value of a parameter, told apart from the same value passed
    on purpose (a joining client is warned only about what it passed)."""


class _DefaultInt(int):
    """As _Default, for integers."""


DEFAULT_REDUCE_RATE = _Default(0.85)
DEFAULT_SEARCH_STEPS = _DefaultInt(300)


def info_of(study: pb.Study, current: Sequence[int] | None = None) -> dict[str, Any]:
    """current_info() of a study; `current`: the tokens last handed to this trainer."""
    rewarded = study.HasField("best_reward")
    return {
        "best_tokens": list(study.best_tokens) if rewarded else None,
        "best_reward": study.best_reward if rewarded else -1,
        "current_tokens": list(study.current_tokens) if current is None else list(current),
    }


# Set by the hook below when an exception ends the interpreter: SANAS's exit handler then
# leaves a held trial to its lease (another trainer evaluates it) instead of skipping it.
_UNHANDLED = threading.Event()
_hook_installed = False


def _watch_unhandled_exceptions() -> None:
    global _hook_installed
    if _hook_installed:
        return
    _hook_installed = True
    previous = sys.excepthook

    def hook(kind: type[BaseException], value: BaseException, tb: Any) -> None:
        _UNHANDLED.set()
        previous(kind, value, tb)

    sys.excepthook = hook


class SANAS:
    """Simulated-annealing NAS with PaddleSlim's signature and defaults."""

    def __init__(
        self,
        configs: Sequence[Any],
        server_addr: tuple[str | None, int] | str = ("", DEFAULT_PORT),
        init_temperature: float | None = None,
        reduce_rate: float = DEFAULT_REDUCE_RATE,
        init_tokens: Sequence[int] | None = None,
        search_steps: int = DEFAULT_SEARCH_STEPS,
        save_checkpoint: str | None = "./nas_checkpoint",
        load_checkpoint: str | None = None,
        is_server: bool = True,
        *,
        study_id: str = "sanas",
        client_id: str | None = None,
        seed: int | None = None,
        input_channels: int = 3,
        lease_seconds: float | None = None,
        tls_ca_file: str | None = None,
        tls_cert_file: str | None = None,
        tls_key_file: str | None = None,
        auth_token_file: str | None = None,
        progress: str | None = None,
        metrics_port: int | None = None,
        max_flops: int | None = None,
        max_params: int | None = None,
        flops_input_size: int | None = None,
        early_stopping: pb.EarlyStopping | None = None,
        trainer_group: TrainerGroup | str | None = "auto",
        policy: str | None = None,
    ) -> None:
        if progress not in (None, "log", "bar"):
            raise ValueError(f"progress={progress!r}: use None, 'log' or 'bar'")
        self._progress = progress
        if isinstance(configs, str | tuple):
            configs = [configs]
        try:
            self._configs = [SpaceConfig.from_user(c) for c in configs]
            self._space = CombinedSpace.from_configs(self._configs)
        except SpaceConfigError as exc:
            raise InvalidArgumentError(str(exc), code="INVALID_ARGUMENT") from exc
        self._input_channels = input_channels
        self._study_id = study_id
        self._trial: pb.Trial | None = None
        self._trial_open = False  # the trial still waits for this trainer's result
        self._closed = False
        self._current_tokens: list[int] | None = None  # of the last next_archs()
        self._archs: list[Any] = []  # what the last next_archs() returned
        self._adopted: collections.deque[pb.Trial] = collections.deque()
        self._info: dict[str, Any] | None = None  # current_info()'s last answer
        self._finished = False  # next_archs() raised SearchFinished
        self._controller_gone = False  # ... because the controller stopped answering
        self._lease: LeaseKeeper | None = None
        self._embedded: Any = None
        self._budget_issued = False  # as the last reward's answer said
        if trainer_group == "auto":
            trainer_group = TrainerGroup.current()
        elif trainer_group is not None and not isinstance(trainer_group, TrainerGroup):
            raise ValueError(
                f"trainer_group={trainer_group!r}: use 'auto', None or a sanas.TrainerGroup"
            )
        self._group: TrainerGroup | None = trainer_group
        if isinstance(search_steps, bool) or not isinstance(search_steps, int) or search_steps < 1:
            raise InvalidArgumentError(
                f"search_steps={search_steps!r}: the search needs a budget of at least one "
                "step (PaddleSlim's default is 300)",
                code="INVALID_ARGUMENT",
            )
        ip, port = parse_server_addr(server_addr)
        folder = load_checkpoint or save_checkpoint
        if is_server and (self._group is None or self._group.leader):
            host = ip or this_host_address()
            from .embedded import start_embedded  # the server, imported only here

            self._embedded = start_embedded(host, port, folder, metrics_port=metrics_port)
            # A script that ends without close(): first wait for the other trainers while
            # gRPC can still serve them (threading's exit hooks run before
            # concurrent.futures shuts the server's thread pool down), then stop.
            register_before_pools_stop = getattr(threading, "_register_atexit", None)
            if register_before_pools_stop is not None:
                register_before_pools_stop(self._wait_at_exit)
            atexit.register(self.close, wait_for_trainers=False)
            address = self._embedded.address
        else:
            address = f"{bracketed(ip or this_host_address())}:{port}"
        if client_id is None and self._embedded is not None:
            # The server script's own trainer keeps its id across runs of the script (the
            # folder lock makes it the only one), so a rerun continues the trial an
            # earlier run held when it died instead of waiting a lease for it.
            client_id = f"{socket.gethostname()}:embedded:{study_id}"[:128]
        self._client: Client | None = None
        try:
            self._client = Client(
                address,
                client_id=client_id,
                tls_ca_file=tls_ca_file,
                tls_cert_file=tls_cert_file,
                tls_key_file=tls_key_file,
                auth_token_file=auth_token_file,
                trainer_group=self._group,
            )
            self._client.wait_ready()
            config = study_config(
                self._configs,
                init_temperature=init_temperature,
                reduce_rate=reduce_rate,
                init_tokens=init_tokens,
                search_steps=search_steps,
                seed=seed,
                lease_seconds=lease_seconds,
                max_flops=max_flops,
                max_params=max_params,
                constraint_input_size=flops_input_size,
                constraint_in_channels=input_channels,
                early_stopping=early_stopping,
                policy=policy,
            )
            passed = {
                name
                for name, value, default in (
                    ("init_temperature", init_temperature, None),
                    ("reduce_rate", reduce_rate, DEFAULT_REDUCE_RATE),
                    ("init_tokens", init_tokens, None),
                    ("search_steps", search_steps, DEFAULT_SEARCH_STEPS),
                    ("seed", seed, None),
                    ("lease_duration", lease_seconds, None),
                    ("constraints", max_flops or max_params, None),
                    ("policy", policy, None),
                )
                if value is not default
            }
            if is_server:
                study = open_as_server(
                    self._client, self._study_id, config, load_checkpoint, save_checkpoint
                )
            else:
                study = join(self._client, self._study_id, config, passed)
        except BaseException:
            self.close(wait_for_trainers=False)  # the embedded controller releases its folder
            raise
        # Heartbeats while the user trains: three per lease, so one lost beat is harmless.
        self._heartbeat_interval = study.config.lease_duration.ToNanoseconds() / 3e9
        self._info = info_of(study)
        # Trials the study had when this script started, and the ones it took since:
        # any more were another trainer's, which the server script's end waits for.
        self._trials_at_open = trials_of(study.trial_counts)
        self._trials_taken = 0
        if self._embedded is not None and study.trial_counts.active:
            self._adopt_own_trials()
        _watch_unhandled_exceptions()
        atexit.register(self._skip_at_exit)

    def _adopt_own_trials(self) -> None:
        """Running trials held under this trainer's id are an earlier run's, which died:
        next_archs() hands them out first (same trial, same tokens) instead of letting
        them wait out a lease."""
        assert self._client is not None
        mine = [
            t
            for t in self._client.list_trials(self._study_id, state=pb.TRIAL_STATE_ACTIVE)
            if t.client_id == self._client.client_id
        ]
        if mine:
            log.warning(
                "study %r: continuing %d trial(s) this script's earlier run held when it "
                "stopped (trial %s)",
                self._study_id,
                len(mine),
                ", ".join(str(t.trial_id) for t in mine),
            )
        self._adopted.extend(mine)

    @property
    def address(self) -> str:
        """host:port of the controller this instance talks to (the real port)."""
        return self._client.address

    @property
    def metrics_url(self) -> str | None:
        """Prometheus endpoint of the embedded controller (metrics_port given), if any."""
        return None if self._embedded is None else self._embedded.metrics_url

    @property
    def study_id(self) -> str:
        return self._study_id

    @property
    def trainer_group(self) -> TrainerGroup | None:
        """The data-parallel group whose ranks act as one trainer, if any."""
        return self._group

    def next_archs(self) -> list[Any]:
        """Fetch the next trial and return one network per config: a paddle.nn.Layer
        in dynamic mode; in static mode a `sanas.nets.lazy.StaticArch`, which creates
        its parameters when called, in the program current then (so it may be fetched
        before `program_guard`, as PaddleSlim's tutorials do). See docs/porting-static.md.

        Raises sanas.errors.SearchFinished when the study is complete. Once the budget
        is issued it waits while other trainers still hold trials, since one of them
        may lose its lease and be handed to this trainer.
        """
        self._end_lease()
        if self._trial_open:
            self._skip_current(
                "next_archs() was called again before reward(): skipped, as PaddleSlim "
                "scripts skip a candidate (for example over their FLOPs budget)"
            )
        try:
            if self._adopted:
                self._trial = self._adopted.popleft()
            else:
                # A controller gone once the budget is issued is a server script that
                # ended with its search: over after a short retry, not the usual 600 s.
                self._trial = self._client.next_trial(
                    self._study_id,
                    gone_after_budget=RETRY_AFTER_BUDGET,
                    budget_issued=self._budget_issued,
                )
                self._trials_taken += 1
        except SearchFinished as exc:
            self._finished = True
            # Found gone (not answering "complete"): current_info() answers from its cache
            # at once instead of waiting for the controller again.
            self._controller_gone = isinstance(exc.__cause__, ControllerUnavailableError)
            raise
        self._trial_open = True
        self._current_tokens = list(self._trial.tokens)
        # Bound to this Trial (its study_uid and fingerprint), as every call about it is.
        self._lease = self._client.keep_alive(self._study_id, self._trial, self._heartbeat_interval)
        if self._group is not None:
            # Every rank initialises the same weights (data-parallel training also
            # broadcasts rank 0's, but a rank that reads its own before that agrees too).
            import paddle

            paddle.seed(zlib.crc32(f"{self._study_id}/{self._trial.trial_id}".encode()))
        self._archs = self.tokens2arch(list(self._trial.tokens))
        return self._archs

    def _check_evaluation_programs(self) -> None:
        """Refuse a score from an evaluation program that never saw the trained weights:
        the trial stays open, so a fixed script can still report it."""
        problems = []
        for i, arch in enumerate(self._archs):
            untrained = getattr(arch, "untrained_parameters", None)
            for index, names in untrained() if untrained else []:
                problems.append(
                    f"config {i}: program #{index + 1} it was built in has trainable "
                    f"parameters no training program updates ({', '.join(names[:6])}"
                    f"{', ...' if len(names) > 6 else ''})"
                )
        if problems:
            raise EvaluationProgramError(
                "reward() refused: the evaluation program scores weights that were never "
                f"trained: {'; '.join(problems)}. Under Paddle 3's PIR mode "
                "paddle.static.nn.fc does not restart its names under "
                "paddle.utils.unique_name.guard(), so a head built again in the evaluation "
                "program gets new parameters that the shared startup program initialises "
                "silently. Give the head explicit names (weight_attr=paddle.ParamAttr("
                "name=...)), build it with paddle.nn layers inside unique_name.guard(), "
                "evaluate a clone of the training program, or run in legacy static mode "
                "(FLAGS_enable_pir_api=0); see docs/porting.md"
            )

    def _skip_current(self, reason: str) -> None:
        """Give the open trial up unevaluated (SkipTrial): never issued again, its
        search_steps step given back."""
        assert self._trial is not None and self._client is not None
        trial_id = self._trial.trial_id
        self._end_lease()
        self._trial_open = False
        try:
            answer = self._client.skip_trial(self._study_id, self._trial, reason[:256])
            self._budget_issued = answer.budget_remaining <= 0
        except (TrialAlreadyCompletedError, TrialNotHeldError):
            return  # finished meanwhile (a stop), or another trainer's after a lease ran out
        except StaleTrialError as exc:  # gone with its study: there is nothing to skip
            log.warning("study %r: trial %d not skipped: %s", self._study_id, trial_id, exc)
            return
        log.info("study %r: trial %d skipped: %s", self._study_id, trial_id, reason)

    def _skip_at_exit(self) -> None:
        """A script that ends holding a trial it never rewarded skipped it (PaddleSlim's
        demos end a loop on `continue`); after an unhandled exception the trial is left
        to its lease instead, so another trainer evaluates it."""
        if not self._trial_open or self._client is None or self._closed:
            return
        if _UNHANDLED.is_set():
            return
        if self._group is not None:  # no collective calls while the ranks exit apart
            return
        try:
            self._skip_current("the script ended without reward(): skipped")
        except SanasError as exc:
            log.warning("could not skip trial at exit: %s", exc)

    def _end_lease(self) -> None:
        if self._lease is not None:
            self._lease.stop()
            self._lease = None

    def reward(self, score: float, infeasible: bool = False) -> bool:
        """Report the score of the architecture from the last next_archs(); True when
        the controller has durably recorded it. `infeasible=True` reports a candidate
        that could not be evaluated (training diverged, ran out of memory): it is
        recorded, never becomes the base or the best, and `score` is ignored. In a
        trainer group every rank calls it and rank 0's score is recorded."""
        if self._trial is None:
            raise RuntimeError("reward() needs a trial: call next_archs() first")
        self._check_evaluation_programs()
        if not infeasible and not math.isfinite(float(score)):
            raise InvalidArgumentError(
                f"reward({score!r}) is not a finite number; if the candidate failed "
                "(diverged, out of memory), report it with reward(score, infeasible=True)",
                code="INVALID_ARGUMENT",
            )
        try:
            done = self._client.complete_trial(
                self._study_id, self._trial, float(score), infeasible=infeasible
            )
        except StaleTrialError as exc:
            raise self._stale("reward", exc) from None
        self._budget_issued = done.budget_remaining <= 0
        self._end_lease()
        self._trial = None
        self._trial_open = False
        try:  # current_info() answers from this when the controller is gone later
            study = self._client.get_study(self._study_id)
        except SanasError as exc:
            log.warning("could not read study %r after a reward: %s", self._study_id, exc)
            return True
        self._info = info_of(study, self._current_tokens)
        if self._progress:
            self._print_progress(float(score), study)
        return True

    def report(
        self,
        step: int,
        value: float,
        max_step: int = 0,
        *,
        early_stopping: pb.EarlyStopping | None = None,
    ) -> bool:
        """Report the current trial's value at `step` (an epoch's accuracy, say); True when
        the study's stopping rule says to stop training it. Call reward() afterwards as
        usual (optional for a stopped trial: its last value is already recorded).
        `max_step` (the planned epochs) lets the controller count the epochs a stop
        saves; `early_stopping` judges this report by another rule than the study's."""
        if self._trial is None:
            raise RuntimeError("report() needs a trial: call next_archs() first")
        try:
            answer = self._client.report_progress(
                self._study_id,
                self._trial,
                int(step),
                float(value),
                max_step=int(max_step),
                early_stopping=early_stopping,
            )
        except StaleTrialError as exc:
            raise self._stale("report", exc) from None
        if answer.should_stop:
            self._end_lease()  # the controller finished the trial: nothing to keep alive
            self._trial_open = False
        return answer.should_stop

    def _stale(self, call: str, exc: StaleTrialError) -> StaleTrialError:
        """The trial is gone (its study was created again, or restored from a backup):
        close it here, so next_archs() simply fetches a new one, and say so in SANAS's
        terms."""
        assert self._trial is not None
        trial, tokens = self._trial.trial_id, list(self._trial.tokens)
        self._end_lease()
        self._trial = None
        self._trial_open = False
        return StaleTrialError(
            f"{call}() for trial {trial} (tokens {tokens}) of study {self._study_id!r} was "
            f"refused and nothing was recorded: the controller no longer has that trial "
            f"({exc}). Discard this network's result and call next_archs() for a new "
            "trial (catch sanas.StaleTrialError to do so in the loop)",
            code=exc.code,
            reason=exc.reason,
        )

    def _print_progress(self, score: float, study: pb.Study) -> None:
        """One line per step ('log'), or a bar redrawn in place ('bar'), on stderr."""
        done = results_of(study.trial_counts)
        total = study.config.search_steps
        best = f"{study.best_reward:.4f}" if study.HasField("best_reward") else "-"
        tail = f"best {best}  T={study.temperature:.3g}"
        if self._progress == "log":
            print(f"sanas step {done}/{total}  reward {score:.4f}  {tail}", file=sys.stderr)
        else:
            width = 30
            filled = width * done // max(1, total)
            end = "\n" if done >= total else ""
            bar = "#" * filled + "." * (width - filled)
            print(f"\r[{bar}] {done}/{total}  {tail}", end=end, file=sys.stderr, flush=True)

    def decode(self, tokens: Sequence[int]) -> list[Architecture]:
        """The framework-neutral architectures of a token vector, one per config."""
        try:
            return self._space.decode(list(tokens), self._input_channels)
        except SpaceConfigError as exc:
            raise InvalidArgumentError(str(exc), code="INVALID_ARGUMENT") from exc

    def tokens2arch(self, tokens: Sequence[int]) -> list[Any]:
        """Build the networks of a token vector, one per config, as `next_archs()`
        does: paddle.nn.Layer objects in dynamic mode, builders in static mode; for a
        custom token space (a range_table, no network) its tokens, as a list."""
        try:
            parts = self._space.split(list(tokens))
        except SpaceConfigError as exc:
            raise InvalidArgumentError(str(exc), code="INVALID_ARGUMENT") from exc
        if all(isinstance(s, CustomTokenSpace) for s in self._space.spaces):
            return parts  # no Paddle needed
        from .nets import build_archs

        return build_archs(self._space, list(tokens), self._input_channels)

    def current_trial_id(self) -> int | None:
        """Id of the trial from the last next_archs(), until its reward()."""
        return None if self._trial is None else self._trial.trial_id

    def current_tokens(self) -> list[int] | None:
        """Tokens of the trial from the last next_archs(), if not yet rewarded."""
        return None if self._trial is None else list(self._trial.tokens)

    def current_info(self) -> dict[str, Any]:
        """{'best_tokens', 'best_reward', 'current_tokens'}, as PaddleSlim: before any
        reward best_tokens is None and best_reward -1; current_tokens are the tokens of
        the last next_archs() (the initial tokens before it). Once the search is over and
        the controller gone, the last answer the controller gave, with a warning."""
        assert self._client is not None
        if self._controller_gone and self._info is not None:
            log.warning(
                "the controller at %s ended with the search: current_info() is its last answer",
                self._client.address,
            )
            return dict(self._info)
        over = self._finished or self._budget_issued
        saved = self._client.retry_timeout
        if over:  # a server script that ended takes its controller with it
            self._client.retry_timeout = min(saved, RETRY_AFTER_BUDGET)
        try:
            study = self._client.get_study(self._study_id)
        except ControllerUnavailableError as exc:
            if not over or self._info is None:
                raise
            log.warning(
                "the controller at %s is gone after the search: current_info() is its "
                "last answer (%s)",
                self._client.address,
                exc,
            )
            return dict(self._info)
        finally:
            self._client.retry_timeout = saved
        self._info = info_of(study, self._current_tokens)
        return dict(self._info)

    def close(self, wait_for_trainers: bool = True) -> None:
        """Close the connection and stop the embedded controller, if any.

        A server script usually ends before its clients: its own loop stops once the
        budget is issued while other trainers still train the last trials. Stopping the
        controller then would leave them retrying a controller that is gone. So an
        embedded controller stays up while other trainers hold live leases (they
        heartbeat), with one warning saying so, and then until the study has been quiet
        for TRAINERS_QUIET_SECONDS; Ctrl-C stops it at once. A trial whose
        trainer died stops being waited for when its lease runs out."""
        self._skip_at_exit()
        self._closed = True
        if wait_for_trainers and self._embedded is not None and self._client is not None:
            try:
                with self._client.solo():
                    self._wait_for_other_trainers()
            except KeyboardInterrupt:
                log.warning("not waiting for the other trainers: stopping the controller")
            except SanasError as exc:  # e.g. the study was deleted: nothing to wait for
                log.warning("not waiting for the other trainers: %s", exc)
        self._end_lease()
        if self._client is not None:
            self._client.close()
        if self._embedded is not None:
            embedded, self._embedded = self._embedded, None
            embedded.stop()

    def _wait_at_exit(self) -> None:
        """The script's end, while gRPC's thread pools still run: skip an unrewarded
        trial, wait for the other trainers, then stop the controller, so no caller meets
        a server that accepts calls it can no longer serve."""
        if self._embedded is not None and self._client is not None:
            self.close(wait_for_trainers=True)

    def _wait_for_other_trainers(self, poll: float = 0.5) -> None:
        """Return once no other trainer holds a live lease and, if other trainers took
        part in this run, the study has not changed for TRAINERS_QUIET_SECONDS: a trainer
        between two calls holds no trial but is about to call again, and a controller
        gone then would leave it retrying for the client's whole retry timeout."""
        assert self._client is not None
        quiet = TRAINERS_QUIET_SECONDS
        warned = False
        last: bytes | None = None
        quiet_since = time.monotonic()
        while True:
            running = [
                t
                for t in self._client.list_trials(self._study_id, state=pb.TRIAL_STATE_ACTIVE)
                if t.client_id != self._client.client_id
                and t.lease_expire_time.ToNanoseconds() / 1e9 > time.time()
            ]
            counts = self._client.get_study(self._study_id).trial_counts
            now = counts.SerializeToString(deterministic=True)
            if now != last:
                last, quiet_since = now, time.monotonic()
            others_took_part = trials_of(counts) > self._trials_at_open + self._trials_taken
            if not running and (not others_took_part or time.monotonic() - quiet_since >= quiet):
                return
            if running and not warned:
                log.warning(
                    "waiting for %d trial(s) other trainers are still training before the "
                    "embedded controller stops (Ctrl-C to stop now)",
                    len(running),
                )
                warned = True
            time.sleep(poll)

    def __enter__(self) -> SANAS:
        return self

    def __exit__(self, kind: object, *rest: object) -> None:
        if kind is not None:  # an exception ends the block: leave the trial to its lease
            self._end_lease()
            self._trial_open = False
        self.close()
