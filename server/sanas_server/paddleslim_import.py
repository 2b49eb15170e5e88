"""Read a PaddleSlim `nas_checkpoint/sanas.checkpoints` file (JSON of the controller's
__dict__) into plain data. Parsed with json only: its `_searched` keys are JSON lists."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from .errors import InvalidArgument

# PaddleSlim marks "issued, never rewarded" with this reward (and starts rewards at it).
UNREWARDED = -1


@dataclass(frozen=True)
class ImportedHistory:
    range_table: list[int]
    results: list[tuple[list[int], float]]
    base: tuple[list[int], float | None]
    best: tuple[list[int] | None, float | None]
    rewarded: int


def _tokens(value: Any, what: str) -> list[int]:
    if not isinstance(value, list) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        raise InvalidArgument(f"checkpoint field {what} must be a list of integers")
    return value


def _reward(value: Any, what: str) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidArgument(f"checkpoint field {what} must be a finite number")
    return None if value == UNREWARDED else float(value)


def parse_checkpoint(text: str) -> ImportedHistory:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise InvalidArgument(f"checkpoint_json is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise InvalidArgument("checkpoint_json must be a JSON object (PaddleSlim's __dict__)")
    missing = [k for k in ("_range_table", "_tokens", "_searched") if k not in data]
    if missing:
        raise InvalidArgument(f"checkpoint_json lacks PaddleSlim field(s) {missing}")
    table = _tokens(data["_range_table"], "_range_table")
    searched = data["_searched"]
    if not isinstance(searched, dict):
        raise InvalidArgument("checkpoint field _searched must be an object")
    results = []
    for key, value in searched.items():
        try:
            tokens = _tokens(json.loads(key), f"_searched key {key!r}")
        except ValueError as exc:
            raise InvalidArgument(f"_searched key {key!r} is not a token list") from exc
        reward = _reward(value, f"_searched[{key!r}]")
        if reward is not None:
            results.append((tokens, reward))
    base_reward = _reward(data.get("_reward", UNREWARDED), "_reward")
    best_reward = _reward(data.get("_max_reward", UNREWARDED), "_max_reward")
    best_tokens = data.get("_best_tokens")
    best = (
        (_tokens(best_tokens, "_best_tokens"), best_reward)
        if best_tokens is not None and best_reward is not None
        else (None, None)
    )
    rewarded = data.get("_iter", len(results))
    if isinstance(rewarded, bool) or not isinstance(rewarded, int) or rewarded < 0:
        raise InvalidArgument("checkpoint field _iter must be a non-negative integer")
    return ImportedHistory(
        range_table=table,
        results=results,
        base=(_tokens(data["_tokens"], "_tokens"), base_reward),
        best=best,
        rewarded=rewarded,
    )
