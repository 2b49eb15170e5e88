"""`SANAS`: PaddleSlim's documented API, backed by a sanas controller over gRPC.

Differences from PaddleSlim that scripts may notice (all deliberate):
- `search_steps` is a budget for the whole study, shared by every client; when it is
  spent, `next_archs()` raises `sanas.errors.SearchFinished` (never exits the process);
- several SANAS instances (trainers) join one study by `study_id` (default "sanas");
- `save_checkpoint` is the embedded controller's checkpoint folder; `load_checkpoint`
  resumes a sanas checkpoint folder in place, or imports a PaddleSlim one.
"""

from __future__ import annotations

import atexit
import logging
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .client import Client, LeaseKeeper, study_config
from .errors import InvalidArgumentError, StudyNotFoundError
from .spaces import Architecture, CombinedSpace, SpaceConfig, SpaceConfigError
from .v1 import sanas_pb2 as pb

log = logging.getLogger(__name__)
PADDLESLIM_CHECKPOINT = "sanas.checkpoints"


def this_host_address() -> str:
    """PaddleSlim's meaning of an empty ip: this host's address."""
    try:
        return socket.gethostbyname(socket.gethostname())
    except OSError:
        return "127.0.0.1"


class SANAS:
    """Simulated-annealing NAS with PaddleSlim's signature and defaults."""

    def __init__(
        self,
        configs: Sequence[Any],
        server_addr: tuple[str | None, int] = ("", 8881),
        init_temperature: float | None = None,
        reduce_rate: float = 0.85,
        init_tokens: Sequence[int] | None = None,
        search_steps: int = 300,
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
        self._lease: LeaseKeeper | None = None
        self._embedded: Any = None
        ip, port = server_addr
        if is_server:
            host = ip or this_host_address()
            folder = load_checkpoint or save_checkpoint
            from sanas_server.server import start_server  # the one lazy server import

            self._embedded = start_server(host, port, folder, metrics_port=metrics_port)
            atexit.register(self.close)
            address = self._embedded.address
        else:
            address = f"{ip or this_host_address()}:{port}"
        self._client = Client(
            address,
            client_id=client_id,
            tls_ca_file=tls_ca_file,
            tls_cert_file=tls_cert_file,
            tls_key_file=tls_key_file,
            auth_token_file=auth_token_file,
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
        )
        imported = self._maybe_import(load_checkpoint, config)
        study = self._client.get_study(study_id) if imported else None
        if study is None:
            study = self._client.create_study(study_id, config)
        # Heartbeats while the user trains: three per lease, so one lost beat is harmless.
        self._heartbeat_interval = study.config.lease_duration.ToNanoseconds() / 3e9

    def _maybe_import(self, load_checkpoint: str | None, config: pb.StudyConfig) -> bool:
        if load_checkpoint is None:
            return False
        legacy = Path(load_checkpoint) / PADDLESLIM_CHECKPOINT
        if not legacy.is_file():
            return False
        try:
            self._client.get_study(self._study_id)
            return False  # imported by an earlier run: resume it
        except StudyNotFoundError:
            pass
        response = self._client.import_paddleslim_checkpoint(
            self._study_id, legacy.read_text(), config
        )
        log.info("imported %d PaddleSlim results from %s", response.imported_trials, legacy)
        return True

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
        self._trial = self._client.next_trial(self._study_id)
        self._lease = self._client.keep_alive(
            self._study_id, self._trial.trial_id, self._heartbeat_interval
        )
        return self.tokens2arch(list(self._trial.tokens))

    def _end_lease(self) -> None:
        if self._lease is not None:
            self._lease.stop()
            self._lease = None

    def reward(self, score: float) -> bool:
        """Report the score of the architecture from the last next_archs(); True when
        the controller has durably recorded it."""
        if self._trial is None:
            raise RuntimeError("reward() needs a trial: call next_archs() first")
        self._client.complete_trial(self._study_id, self._trial.trial_id, float(score))
        self._end_lease()
        self._trial = None
        if self._progress:
            self._report(float(score))
        return True

    def _report(self, score: float) -> None:
        """One line per step ('log'), or a bar redrawn in place ('bar'), on stderr."""
        study = self._client.get_study(self._study_id)
        done = study.trial_counts.succeeded + study.trial_counts.infeasible
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
        does: paddle.nn.Layer objects in dynamic mode, builders in static mode."""
        from .nets import build_archs

        return build_archs(self.decode(tokens))

    def current_tokens(self) -> list[int] | None:
        """Tokens of the trial from the last next_archs(), if not yet rewarded."""
        return None if self._trial is None else list(self._trial.tokens)

    def current_info(self) -> dict[str, Any]:
        """{'best_tokens', 'best_reward', 'current_tokens'}; before any reward
        best_tokens is None and best_reward is -1, as in PaddleSlim."""
        study = self._client.get_study(self._study_id)
        return {
            "best_tokens": list(study.best_tokens) if study.HasField("best_reward") else None,
            "best_reward": study.best_reward if study.HasField("best_reward") else -1,
            "current_tokens": list(study.current_tokens),
        }

    def close(self) -> None:
        """Close the connection and stop the embedded controller, if any."""
        self._end_lease()
        self._client.close()
        if self._embedded is not None:
            embedded, self._embedded = self._embedded, None
            embedded.stop()

    def __enter__(self) -> SANAS:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
