"""StudyConfig messages from PaddleSlim-style arguments: the search spaces, the annealing
and budget options, constraints, and the early-stopping rules."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .convert import policy_pb_of_name, space_config_to_pb
from .spaces import SpaceConfig
from .v1 import sanas_pb2 as pb


def study_config(
    configs: Sequence[Any],
    *,
    init_temperature: float | None = None,
    reduce_rate: float | None = None,
    init_tokens: Sequence[int] | None = None,
    search_steps: int | None = None,
    seed: int | None = None,
    lease_seconds: float | None = None,
    max_flops: int | None = None,
    max_params: int | None = None,
    constraint_input_size: int | None = None,
    constraint_in_channels: int | None = None,
    early_stopping: pb.EarlyStopping | None = None,
    policy: str | None = None,
) -> pb.StudyConfig:
    """Build a StudyConfig from PaddleSlim-style configs (keys, tuples or SpaceConfig).
    `policy`: "annealer" or "model-guided" (None: the controller's default)."""
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
    if lease_seconds is not None:
        config.lease_duration.FromNanoseconds(int(lease_seconds * 1e9))
    config.constraints.CopyFrom(
        pb.Constraints(
            input_size=constraint_input_size or 0,
            in_channels=constraint_in_channels or 0,
            max_flops=int(max_flops or 0),
            max_params=int(max_params or 0),
        )
    )
    if early_stopping is not None:
        config.early_stopping.CopyFrom(early_stopping)
    if policy is not None:
        config.policy = policy_pb_of_name(policy)  # type: ignore[assignment]
    return config


def _goal(minimize: bool) -> pb.ObjectiveGoal:
    return pb.OBJECTIVE_GOAL_MINIMIZE if minimize else pb.OBJECTIVE_GOAL_MAXIMIZE


def median_stopping(
    start_step: int = 0, min_trials: int = 0, *, minimize: bool = False
) -> pb.EarlyStopping:
    """The median stopping rule (Vizier, Katib): from `start_step` on, stop a trial whose
    best value so far is worse than the median of the finished trials' running averages
    at that step, once `min_trials` (0: 3) finished trials reported that far."""
    return pb.EarlyStopping(
        median=pb.MedianStoppingRule(start_step=start_step, min_trials=min_trials),
        goal=_goal(minimize),
    )


def successive_halving(
    min_step: int = 0, reduction_factor: int = 0, min_trials: int = 0, *, minimize: bool = False
) -> pb.EarlyStopping:
    """Asynchronous successive halving: at steps min_step (0: 1) times powers of
    reduction_factor (0: 3), only the top 1/reduction_factor of the trials that got there
    continue, once `min_trials` (0: 3) did."""
    return pb.EarlyStopping(
        successive_halving=pb.SuccessiveHalvingRule(
            min_step=min_step, reduction_factor=reduction_factor, min_trials=min_trials
        ),
        goal=_goal(minimize),
    )
