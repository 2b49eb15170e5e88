"""A study's config: what a client asks for (StudyRequest) and what it resolves to, every
default filled and every value checked (StudySpec). No state, no I/O."""

from __future__ import annotations

import dataclasses
import math
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sanas.convert import PB_OF_POLICY_NAME
from sanas.spaces import CombinedSpace, SpaceConfig, SpaceConfigError, check_tokens
from sanas.spaces.cost import network_cost
from sanas.wire import STUDY_ID_RULE, is_study_id

from .errors import InvalidArgument
from .stopping import MAX_INT32 as MAX_INT32  # the int32 fields: issue counts, trial counts
from .stopping import NEVER_STOP, EarlyStopping

DEFAULT_SEARCH_STEPS = 300
DEFAULT_REDUCE_RATE = 0.85
# PaddleSlim's documented rule: 10.0 for a random start, 1.0 from given init_tokens.
DEFAULT_TEMPERATURE_RANDOM_START = 10.0
DEFAULT_TEMPERATURE_GIVEN_START = 1.0
DEFAULT_LEASE_SECONDS = 60.0
MAX_LEASE_SECONDS = 30 * 24 * 3600.0
MAX_TOKENS = 10_000
# What the int64 fields of the answers can carry: sums over a study (steps saved by
# 2^53-step stops, counts) saturate here instead of failing to render.
MAX_INT64 = 2**63 - 1
# The proposal policies a study may name (study.POLICIES maps each to its class), and the
# one a study gets when its config names none.
POLICY_NAMES = tuple(PB_OF_POLICY_NAME)
DEFAULT_POLICY = "model-guided"
# The longest token vector a model-guided study takes: its model's distances grow with
# the length (a suggestion costs ~0.2 s at 1,000 tokens, ~2 s at 10,000, much of it under
# the study's lock). Longer spaces default to the annealer; naming model-guided for one
# is refused.
MAX_GUIDED_TOKENS = 1_000


def check_study_id(study_id: str) -> str:
    if not is_study_id(study_id):
        raise InvalidArgument(f"study_id {study_id!r} is invalid: use {STUDY_ID_RULE}")
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
    policy: str | None = None  # a POLICY_NAMES entry; None: the default

    def differences(self, other: StudyRequest) -> list[str]:
        """Fields that differ, as `name: <self> (existing) vs <other> (requested)`; an
        unset seed or policy matches any (a trainer joining a study need not know them)."""
        out = []
        for f in dataclasses.fields(self):
            mine, theirs = getattr(self, f.name), getattr(other, f.name)
            if f.name in ("seed", "policy") and (mine is None or theirs is None):
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
    policy: str = "annealer"  # what a study without the key (older releases) searched with

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
        policy = request.policy
        if policy is None:
            policy = DEFAULT_POLICY if len(table) <= MAX_GUIDED_TOKENS else "annealer"
        if policy not in POLICY_NAMES:
            raise InvalidArgument(
                f"policy {policy!r} is not a proposal policy: use one of {', '.join(POLICY_NAMES)}"
            )
        if policy == "model-guided" and len(table) > MAX_GUIDED_TOKENS:
            raise InvalidArgument(
                f"policy 'model-guided' takes at most {MAX_GUIDED_TOKENS} tokens; this search "
                f"space has {len(table)}: use policy 'annealer' (or leave it unset: spaces "
                "this long default to it)"
            )
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
            policy=policy,
        )


def resolve_early_stopping(config: EarlyStopping) -> EarlyStopping:
    """Fill the rules' defaults (0 means "the default") and check their ranges, and refuse
    what makes no sense: the annealer maximizes rewards and `minimize` is the direction of
    progress values only, so with a loss goal a stopped trial's last value (a loss) cannot
    be judged as its reward."""
    if config.minimize and config.stopped_values_as_rewards:
        raise InvalidArgument(
            "early_stopping: stopped_values_as_rewards with goal OBJECTIVE_GOAL_MINIMIZE "
            "would judge a stopped trial's loss as a reward, and rewards are maximized (a "
            "diverging trial would become the best). Report the negated loss with goal "
            "MAXIMIZE (and the same negated value as the reward), or leave "
            "stopped_values_as_rewards off so a stop is a rejected move"
        )
    # Each rule fills its own defaults and checks its own ranges (stopping.py).
    rule = None if config.rule is None else config.rule.resolved()
    return dataclasses.replace(config, rule=rule)


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
