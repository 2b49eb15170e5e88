"""Read a PaddleSlim `nas_checkpoint/sanas.checkpoints` file (JSON of the controller's
__dict__) into plain data. Parsed with json only: its `_searched` keys are JSON lists.

Everything is validated here, before a study is created from it, so a poisoned
checkpoint is InvalidArgument and never a persisted study that later fails:
- `_range_table`: the rule of every range table (check_range_table: entries in
  [1, MAX_RANGE = 2**31 - 1]);
- `_tokens`, `_best_tokens` and the `_searched` keys: token vectors of that table,
  each `_searched` vector once;
- rewards: finite, |reward| <= MAX_ABS_REWARD (1e100), as for live results;
- `_iter`: an integer in [0, MAX_REWARDED = 2**31 - 1];
- JSON nested too deeply to parse (RecursionError) is "not JSON".
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from sanas.spaces import SpaceConfigError, check_range_table, check_tokens

from .errors import InvalidArgument
from .policy import MAX_ABS_REWARD, MAX_REWARDED

# PaddleSlim marks "issued, never rewarded" with this reward (and starts rewards at it).
UNREWARDED = -1
# Characters of an offending `_searched` key quoted in an error message.
QUOTED_KEY = 60


@dataclass(frozen=True)
class ImportedHistory:
    range_table: list[int]
    results: list[tuple[list[int], float]]
    base: tuple[list[int], float | None]
    best: tuple[list[int] | None, float | None]
    rewarded: int


def _loads(text: str) -> Any:
    """json.loads; deep nesting raises RecursionError, not ValueError."""
    try:
        return json.loads(text)
    except RecursionError as exc:
        raise ValueError("nested too deeply") from exc


def _tokens(value: Any, table: list[int], what: str) -> list[int]:
    if not isinstance(value, list) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        raise InvalidArgument(f"checkpoint field {what} must be a list of integers")
    try:
        return check_tokens(value, table, f"checkpoint field {what}")
    except SpaceConfigError as exc:
        raise InvalidArgument(str(exc)) from exc


def _reward(value: Any, what: str) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidArgument(f"checkpoint field {what} must be a finite number")
    if value == UNREWARDED:
        return None
    if abs(value) > MAX_ABS_REWARD:
        raise InvalidArgument(
            f"checkpoint field {what} = {value!r}: |reward| may be at most {MAX_ABS_REWARD:g}"
        )
    return float(value)


def _quoted(key: str) -> str:
    return repr(key) if len(key) <= QUOTED_KEY else repr(key[:QUOTED_KEY]) + "..."


def parse_checkpoint(text: str) -> ImportedHistory:
    try:
        data = _loads(text)
    except ValueError as exc:
        raise InvalidArgument(f"checkpoint_json is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise InvalidArgument("checkpoint_json must be a JSON object (PaddleSlim's __dict__)")
    missing = [k for k in ("_range_table", "_tokens", "_searched") if k not in data]
    if missing:
        raise InvalidArgument(f"checkpoint_json lacks PaddleSlim field(s) {missing}")
    raw_table = data["_range_table"]
    if not isinstance(raw_table, list):
        raise InvalidArgument("checkpoint field _range_table must be a list of integers")
    try:
        table = check_range_table(raw_table, "checkpoint field _range_table")
    except SpaceConfigError as exc:
        raise InvalidArgument(str(exc)) from exc
    searched = data["_searched"]
    if not isinstance(searched, dict):
        raise InvalidArgument("checkpoint field _searched must be an object")
    results = []
    seen: set[tuple[int, ...]] = set()
    for key, value in searched.items():
        what = f"_searched key {_quoted(key)}"
        try:
            parsed = _loads(key)
        except ValueError as exc:
            raise InvalidArgument(f"{what} is not a token list") from exc
        tokens = _tokens(parsed, table, what)
        if tuple(tokens) in seen:  # "[1, 2]" and "[1,2]": one vector, issued once
            raise InvalidArgument(f"checkpoint field _searched lists {tokens} twice")
        seen.add(tuple(tokens))
        reward = _reward(value, f"_searched[{_quoted(key)}]")
        if reward is not None:
            results.append((tokens, reward))
    base_reward = _reward(data.get("_reward", UNREWARDED), "_reward")
    best_reward = _reward(data.get("_max_reward", UNREWARDED), "_max_reward")
    best_tokens = data.get("_best_tokens")
    best = (
        (_tokens(best_tokens, table, "_best_tokens"), best_reward)
        if best_tokens is not None and best_reward is not None
        else (None, None)
    )
    rewarded = data.get("_iter", len(results))
    if isinstance(rewarded, bool) or not isinstance(rewarded, int) or rewarded < 0:
        raise InvalidArgument("checkpoint field _iter must be a non-negative integer")
    if rewarded > MAX_REWARDED:
        # Never a float conversion (10**400 has none); long numbers are only measured.
        shown = str(rewarded) if rewarded < 10**20 else f"a {len(str(rewarded))}-digit number"
        raise InvalidArgument(
            f"checkpoint field _iter = {shown}: at most {MAX_REWARDED} rewards are supported"
        )
    return ImportedHistory(
        range_table=table,
        results=results,
        base=(_tokens(data["_tokens"], table, "_tokens"), base_reward),
        best=best,
        rewarded=rewarded,
    )
