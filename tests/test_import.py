"""PaddleSlim checkpoint imports: every field is validated before anything is persisted,
so a poisoned checkpoint is INVALID_ARGUMENT and never a study that breaks ListStudies."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sanas.spaces import SpaceConfig
from sanas_server.controller import Controller
from sanas_server.errors import InvalidArgument
from sanas_server.paddleslim_import import parse_checkpoint
from sanas_server.spec import StudyRequest
from sanas_server.storage import MemoryStorage


def checkpoint(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "_range_table": [9, 9, 9],
        "_tokens": [4, 4, 3],
        "_reward": 0.5,
        "_max_reward": 0.9,
        "_best_tokens": [4, 4, 4],
        "_iter": 3,
        "_searched": {"[4, 4, 4]": 0.9, "[4, 4, 3]": 0.5, "[0, 0, 0]": -1},
    }
    base.update(changes)
    return base


def parse(**changes: Any) -> Any:
    return parse_checkpoint(json.dumps(checkpoint(**changes)))


def test_a_valid_checkpoint_parses() -> None:
    history = parse(_iter=2**31 - 1, _range_table=[9, 9, 2**31 - 1])
    assert history.rewarded == 2**31 - 1 and history.range_table == [9, 9, 2**31 - 1]
    assert sorted(history.results) == [([4, 4, 3], 0.5), ([4, 4, 4], 0.9)]
    assert history.best == ([4, 4, 4], 0.9) and history.base == ([4, 4, 3], 0.5)


@pytest.mark.parametrize(
    "changes,message",
    [
        ({"_iter": 10**400}, r"_iter .* at most 2147483647"),
        ({"_iter": 2**31}, r"_iter .* at most 2147483647"),
        ({"_iter": -1}, r"_iter must be a non-negative integer"),
        ({"_range_table": [9, 9, 2**31]}, r"_range_table\[2\] = 2147483648.*2147483647"),
        ({"_range_table": [9, 0, 9]}, r"_range_table\[1\] = 0"),
        ({"_range_table": []}, r"_range_table is empty"),
        ({"_tokens": [4, 4, 9]}, r"_tokens\[2\] = 9 is outside \[0, 9\)"),
        ({"_tokens": [4, 4]}, r"_tokens has 2 tokens but the search space has 3"),
        ({"_best_tokens": [4, -1, 4]}, r"_best_tokens\[1\] = -1"),
        ({"_searched": {"[4, 4, 12]": 0.1}}, r"_searched key '\[4, 4, 12\]'\[2\] = 12"),
        ({"_searched": {"[4, 4, 4]": 1e308}}, r"_searched\[.*at most 1e\+100"),
        ({"_searched": {"[4, 4, 4]": 0.1, "[4,4,4]": 0.2}}, r"lists \[4, 4, 4\] twice"),
        ({"_reward": -1e101}, r"_reward .*at most 1e\+100"),
        ({"_max_reward": 1e200}, r"_max_reward .*at most 1e\+100"),
    ],
)
def test_a_poisoned_field_is_invalid_argument(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        parse(**changes)


def test_deep_nesting_is_invalid_argument_not_recursion_error() -> None:
    deep = "[" * 200_000 + "]" * 200_000
    with pytest.raises(InvalidArgument, match="checkpoint_json is not JSON"):
        parse_checkpoint(deep)
    with pytest.raises(InvalidArgument, match=r"_searched key .* is not a token list"):
        parse(_searched={deep: 0.5})


def test_a_non_finite_number_in_the_json_is_invalid_argument() -> None:
    text = json.dumps(checkpoint()).replace('"_reward": 0.5', '"_reward": NaN')
    with pytest.raises(InvalidArgument, match="_reward must be a finite number"):
        parse_checkpoint(text)


def request(**kw: Any) -> StudyRequest:
    return StudyRequest(search_spaces=(SpaceConfig("c", range_table=(9, 9, 9)),), **kw)


@pytest.mark.parametrize(
    "results,rewarded,message",
    [
        ([([4, 4, 4], 1e308)], 1, r"imported result 0.*at most 1e\+100"),
        ([([4, 4, 4], 0.5)], 10**400, r"rewarded count .*at most 2147483647"),
    ],
    ids=["reward-1e308", "rewarded-10**400"],
)
def test_a_rejected_import_persists_nothing(results: Any, rewarded: int, message: str) -> None:
    storage = MemoryStorage()
    c = Controller(storage)
    with pytest.raises(InvalidArgument, match=message):
        c.import_study(
            "old", request(search_steps=10), results, ([4, 4, 3], 0.5), (None, None), rewarded
        )
    assert storage.keys() == [] and c.list_studies(0, "")[0] == []
    assert c.summaries() == []


def test_a_bad_imported_base_or_best_reward_persists_nothing() -> None:
    storage = MemoryStorage()
    c = Controller(storage)
    with pytest.raises(InvalidArgument, match=r"imported base reward.*at most 1e\+100"):
        c.import_study("a", request(), [], ([4, 4, 3], -1e300), (None, None), 0)
    with pytest.raises(InvalidArgument, match=r"imported best reward.*at most 1e\+100"):
        c.import_study("b", request(), [], ([4, 4, 3], 0.5), ([4, 4, 4], 1e300), 0)
    assert storage.keys() == []


def test_the_largest_allowed_import_is_listed_and_resumes() -> None:
    history = parse(_iter=2**31 - 1, _reward=1e100, _max_reward=1e100)
    c = Controller(MemoryStorage())
    c.import_study(
        "old",
        request(search_steps=10),
        history.results,
        history.base,
        history.best,
        history.rewarded,
    )
    (summary,) = c.list_studies(0, "")[0]
    assert summary.temperature > 0 and summary.best_reward == 1e100
    t = c.suggest_trial("old", "w")
    c.complete_trial("old", t.trial_id, -1e100, False)
