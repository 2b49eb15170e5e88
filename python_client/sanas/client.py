"""`Client`: the low-level API of studies and trials over gRPC."""

from __future__ import annotations

import functools
import os
import socket
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import grpc

from .errors import from_rpc_error
from .spaces import SpaceConfig
from .v1 import sanas_pb2 as pb
from .v1 import sanas_pb2_grpc

R = TypeVar("R")
DEFAULT_TIMEOUT = 30.0
MAX_MESSAGE_BYTES = 64 * 1024 * 1024


def default_client_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:128]


def space_config_to_pb(config: SpaceConfig) -> pb.SearchSpaceConfig:
    return pb.SearchSpaceConfig(
        key=config.key,
        input_size=config.input_size,
        output_size=config.output_size,
        block_num=config.block_num,
        block_mask=config.block_mask,
        range_table=config.range_table,
    )


def study_config(
    configs: Sequence[Any],
    *,
    init_temperature: float | None = None,
    reduce_rate: float | None = None,
    init_tokens: Sequence[int] | None = None,
    search_steps: int | None = None,
    seed: int | None = None,
) -> pb.StudyConfig:
    """Build a StudyConfig from PaddleSlim-style configs (keys, tuples or SpaceConfig)."""
    config = pb.StudyConfig(
        search_spaces=[space_config_to_pb(SpaceConfig.from_user(c)) for c in configs],
        init_tokens=list(init_tokens or ()),
        search_steps=search_steps or 0,
    )
    if init_temperature is not None:
        config.init_temperature = init_temperature
    if reduce_rate is not None:
        config.reduce_rate = reduce_rate
    if seed is not None:
        config.seed = seed
    return config


def _rpc(method: Callable[..., R]) -> Callable[..., R]:
    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> R:
        try:
            return method(*args, **kwargs)
        except grpc.RpcError as exc:
            raise from_rpc_error(exc) from None

    return wrapper


class Client:
    """A connection to a sanas controller. Errors raise sanas.errors.SanasError subclasses."""

    def __init__(
        self,
        address: str,
        *,
        client_id: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.address = address
        self.client_id = client_id or default_client_id()
        self.timeout = timeout
        self._channel = grpc.insecure_channel(
            address,
            options=[
                ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
                # Reconnect within about a second of a controller restart (gRPC's
                # default backoff grows to two minutes).
                ("grpc.initial_reconnect_backoff_ms", 100),
                ("grpc.min_reconnect_backoff_ms", 100),
                ("grpc.max_reconnect_backoff_ms", 1000),
            ],
        )
        self._stub = sanas_pb2_grpc.ControllerServiceStub(self._channel)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def wait_ready(self, timeout: float = 10.0) -> None:
        """Block until the channel connects (raises ControllerUnavailableError)."""
        from .errors import ControllerUnavailableError

        try:
            grpc.channel_ready_future(self._channel).result(timeout=timeout)
        except grpc.FutureTimeoutError as exc:
            raise ControllerUnavailableError(
                f"no sanas controller answered at {self.address} within {timeout:.0f} s"
            ) from exc

    # -- studies -------------------------------------------------------------------------
    @_rpc
    def create_study(self, study_id: str, config: pb.StudyConfig) -> pb.Study:
        request = pb.CreateStudyRequest(study_id=study_id, config=config)
        return self._stub.CreateStudy(request, timeout=self.timeout).study

    @_rpc
    def get_study(self, study_id: str) -> pb.Study:
        request = pb.GetStudyRequest(study_id=study_id)
        return self._stub.GetStudy(request, timeout=self.timeout).study

    def list_studies(self, page_size: int = 0) -> Iterator[pb.Study]:
        token = ""
        while True:
            response = self._call(
                self._stub.ListStudies, pb.ListStudiesRequest(page_size=page_size, page_token=token)
            )
            yield from response.studies
            token = response.next_page_token
            if not token:
                return

    @_rpc
    def delete_study(self, study_id: str) -> None:
        self._stub.DeleteStudy(pb.DeleteStudyRequest(study_id=study_id), timeout=self.timeout)

    @_rpc
    def import_paddleslim_checkpoint(
        self, study_id: str, checkpoint_json: str, config: pb.StudyConfig | None = None
    ) -> pb.ImportPaddleSlimCheckpointResponse:
        request = pb.ImportPaddleSlimCheckpointRequest(
            study_id=study_id, config=config, checkpoint_json=checkpoint_json
        )
        return self._stub.ImportPaddleSlimCheckpoint(request, timeout=self.timeout)

    # -- trials --------------------------------------------------------------------------
    @_rpc
    def suggest_trial(self, study_id: str) -> pb.Trial:
        request = pb.SuggestTrialRequest(study_id=study_id, client_id=self.client_id)
        return self._stub.SuggestTrial(request, timeout=self.timeout).trial

    @_rpc
    def complete_trial(
        self,
        study_id: str,
        trial_id: int,
        reward: float = 0.0,
        *,
        infeasible: bool = False,
        suggest_next: bool = False,
    ) -> pb.CompleteTrialResponse:
        request = pb.CompleteTrialRequest(
            study_id=study_id,
            trial_id=trial_id,
            reward=reward,
            infeasible=infeasible,
            suggest_next=suggest_next,
            client_id=self.client_id,
        )
        return self._stub.CompleteTrial(request, timeout=self.timeout)

    def list_trials(
        self, study_id: str, state: int = pb.TRIAL_STATE_UNSPECIFIED, page_size: int = 0
    ) -> Iterator[pb.Trial]:
        token = ""
        while True:
            request = pb.ListTrialsRequest(
                study_id=study_id, page_size=page_size, page_token=token, state=state
            )
            response = self._call(self._stub.ListTrials, request)
            yield from response.trials
            token = response.next_page_token
            if not token:
                return

    def _call(self, method: Callable[..., R], request: Any) -> R:
        try:
            return method(request, timeout=self.timeout)
        except grpc.RpcError as exc:
            raise from_rpc_error(exc) from None
