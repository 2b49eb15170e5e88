"""Checkpoint folders written by earlier releases replay to the state those releases
acknowledged (tests/data/format*/, each with the script that made it), and the journal
codec reads what they hold and refuses what no release wrote."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
from pathlib import Path

import pytest
from helpers import ROOT

from sanas.spaces import CombinedSpace, SpaceConfig
from sanas_server.controller import BrokenStudy, Controller
from sanas_server.journal import (
    ANNEALER_FORMAT,
    FORMAT_VERSION,
    EventKind,
    JournalError,
    decode_event,
    encode_event,
)
from sanas_server.snapshot_file import read_snapshot
from sanas_server.spec import StudyRequest, StudySpec
from sanas_server.storage import FileStorage, decode_records, encode_record
from sanas_server.study import Study

FORMAT1 = ROOT / "tests" / "data" / "format1"
FORMAT2 = ROOT / "tests" / "data" / "format2"


def state(c: Controller, study_id: str) -> dict:
    s = c.get_study(study_id)
    trials, _, _ = c.list_trials(study_id, 1000, "", None)
    return {
        "request_keys": [sc.key for sc in s.spec.search_spaces],
        "range_table": list(s.spec.range_table),
        "best_tokens": None if s.best_tokens is None else list(s.best_tokens),
        "best_reward": s.best_reward,
        "current_tokens": list(s.current_tokens),
        "temperature": s.temperature,
        "counts": {k.value: v for k, v in s.counts.items()},
        "budget_remaining": s.budget_remaining,
        "steps_saved": s.steps_saved,
        "trials": [
            [list(t.tokens), t.state.value, t.reward, t.accepted, t.issues, len(t.measurements)]
            for t in trials
        ],
    }


def test_format1_folder_replays_to_the_acknowledged_state_with_sanas_spaces(tmp_path):
    folder = tmp_path / "ckpt"
    shutil.copytree(FORMAT1 / "checkpoints", folder)
    expected = json.loads((FORMAT1 / "expected.json").read_text())
    c = Controller(FileStorage(folder))
    try:
        for study_id, want in expected.items():
            got = state(c, study_id)
            # Format 1 said "MobileNetV2BlockSpace" for the network sanas built then,
            # which is "sanas.MobileNetV2BlockSpace" now; custom keys are unchanged.
            want["request_keys"] = [
                "sanas." + k if k != "custom" else k for k in want["request_keys"]
            ]
            want["counts"].setdefault("SKIPPED", 0)  # a state format 1 did not have
            assert got == want, study_id
        # The remapped space decodes as sanas 0.1 did: every token group is read.
        spec = c.get_study("blocks").spec
        space = CombinedSpace.from_configs(spec.search_spaces)
        a = space.decode([0] * len(spec.range_table), 8)[0].blocks
        b = space.decode([0] * 8 + [5, 9, 2, 1], 8)[0].blocks
        assert a[:2] == b[:2] and a[2] != b[2]
        # It keeps working: another trial is issued and recorded.
        t = c.suggest_trial("blocks", "w")
        c.complete_trial("blocks", t.trial_id, 0.5, False)
    finally:
        c.close()


def _load_fixture_writer():
    """tests/data/format2/make_fixture.py as a module: its `state()` is what expected.json
    recorded, so the replayed state is measured the same way."""
    path = ROOT / "tests" / "data" / "format2" / "make_fixture.py"
    spec = importlib.util.spec_from_file_location("format2_make_fixture", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


format2_state = _load_fixture_writer().state


def test_format2_folder_replays_to_the_acknowledged_state(tmp_path):
    folder = tmp_path / "ckpt"
    shutil.copytree(FORMAT2 / "checkpoints", folder)
    expected = json.loads((FORMAT2 / "expected.json").read_text())
    c = Controller(FileStorage(folder), clock=lambda: 1_750_003_800.0)
    try:
        for study_id, want in expected.items():
            assert format2_state(c, study_id) == want, study_id
        # The request ids were restored: retries get their first answers.
        late = c.suggest_trial("halving", "late", request_id="halving-late")
        assert late.trial_id == expected["halving"]["trials"].index(
            next(t for t in expected["halving"]["trials"] if t["client"] == "late")
        )
        again = c.suggest_trial("blocks", "w9", request_id="b-again")
        assert again.trial_id == 5 and again.issues == 2
        # Stopped trials stay stopped: a late result changes nothing.
        stopped = next(
            i for i, t in enumerate(expected["halving"]["trials"]) if t["state"] == "STOPPED"
        )
        done = c.complete_trial("halving", stopped, 0.99, False)
        assert done.trial.state.value == "STOPPED"
        # It keeps working: another trial is issued and recorded.
        t = c.suggest_trial("imported", "w")
        c.complete_trial("imported", t.trial_id, 0.5, False)
    finally:
        c.close()


def test_new_studies_write_the_current_format_and_keep_paddleslim_keys(tmp_path):
    c = Controller(FileStorage(tmp_path))
    request = StudyRequest((SpaceConfig("MobileNetV2BlockSpace", block_mask=(1, 0)),), seed=1)
    c.create_study("s", request)
    c.close()
    (header,) = [json.loads(p.read_text()) for p in tmp_path.glob("studies/*/study.json")]
    # The default policy is model-guided: a header only format 3 describes.
    assert header["format"] == FORMAT_VERSION and header["spec"]["policy"] == "model-guided"
    c = Controller(FileStorage(tmp_path))
    try:
        assert [s.key for s in c.get_study("s").spec.search_spaces] == ["MobileNetV2BlockSpace"]
    finally:
        c.close()


def test_a_header_from_a_newer_release_is_refused_naming_both_formats(tmp_path):
    c = Controller(FileStorage(tmp_path))
    c.create_study("s", StudyRequest((SpaceConfig("custom", range_table=(3, 3)),), seed=1))
    c.close()
    (path,) = tmp_path.glob("studies/*/study.json")
    header = json.loads(path.read_text())
    header["format"] = FORMAT_VERSION + 1
    path.write_text(json.dumps(header))
    c = Controller(FileStorage(tmp_path))
    try:
        broken = c.get_study("s")
        assert f"format {FORMAT_VERSION + 1}" in broken.reason
        assert f"formats 1 to {FORMAT_VERSION}" in broken.reason
    finally:
        c.close()


def fixture_records(folder: Path) -> list[dict]:
    """Every journal record and snapshot event of a committed fixture folder."""
    records: list[dict] = []
    for study in sorted((folder / "checkpoints" / "studies").iterdir()):
        snapshot = study / "snapshot.json"
        if snapshot.exists():
            event = read_snapshot(snapshot)["event"]
            records.append({**event, "trials": list(event["trials"])})
        for journal in sorted(study.glob("journal*.log")):
            records += decode_records(journal.read_bytes(), journal)[0]
    return records


@pytest.mark.parametrize("folder", [FORMAT1, FORMAT2], ids=["format1", "format2"])
def test_every_record_of_the_fixtures_decodes_and_encodes_back_unchanged(folder):
    records = fixture_records(folder)
    assert {r["e"] for r in records} >= {"snapshot", "suggest", "complete"}
    for record in records:
        event = decode_event(record)
        assert event.kind.value == record["e"]
        assert encode_event(event) == record
        if record["e"] != "snapshot":  # (its file puts the rows last)
            assert list(encode_event(event)) == list(record)  # the same keys, in order


def test_format2_fixture_holds_every_event_kind_written_today():
    kinds = {r["e"] for r in fixture_records(FORMAT2)}
    assert kinds == {k.value for k in EventKind} - {EventKind.ACK.value}


@pytest.mark.parametrize(
    ("record", "words"),
    [
        (
            {"e": "complete", "id": 0, "rewrd": 0.5, "infeasible": False, "accepted": True},
            ["'complete'", "unknown key 'rewrd'"],
        ),
        (
            {"e": "suggest", "id": 0, "tokens": [1], "client": "w", "time": 1.0},
            ["'suggest'", "'T'"],
        ),
        ({"e": "progress", "id": 0, "step": 1, "value": 0.5, "time": 1.0, "stp": "x"}, ["'stp'"]),
        ({"e": "skip", "id": 0, "time": 1.0, "trial_id": 0}, ["'skip'", "'trial_id'"]),
        ({"e": "complet", "id": 0}, ["unknown journal event 'complet'"]),
        ({"id": 0}, ["unknown journal event None"]),
    ],
)
def test_a_mistyped_record_fails_at_decode_naming_the_event_and_the_key(record, words):
    with pytest.raises(JournalError) as caught:
        decode_event(record)
    for word in words:
        assert word in str(caught.value)


def test_a_journal_with_a_mistyped_key_makes_the_study_broken_naming_it(tmp_path):
    c = Controller(FileStorage(tmp_path))
    c.create_study("s", StudyRequest((SpaceConfig("custom", range_table=(3, 3)),), seed=1))
    t = c.suggest_trial("s", "w")
    c.complete_trial("s", t.trial_id, 0.5, False)
    c.close()
    (path,) = tmp_path.glob("studies/*/journal.log")
    records = decode_records(path.read_bytes(), path)[0]
    records[-1]["rewrd"] = records[-1].pop("reward")
    path.write_bytes(b"".join(encode_record(r) for r in records))
    c = Controller(FileStorage(tmp_path))
    try:
        broken = c.get_study("s")
        assert isinstance(broken, BrokenStudy)
        assert "'complete'" in broken.reason and "'rewrd'" in broken.reason
    finally:
        c.close()


@pytest.mark.parametrize(
    ("policy", "written"), [(None, FORMAT_VERSION), ("annealer", ANNEALER_FORMAT)]
)
def test_the_header_keeps_its_format_key_and_value(policy, written):
    request = StudyRequest((SpaceConfig("custom", range_table=(3,)),), seed=1, policy=policy)
    header = Study("s", request, StudySpec.resolve(request), 5.0).header()
    assert header["format"] == written and (FORMAT_VERSION, ANNEALER_FORMAT) == (3, 2)
    again = Study.from_header(json.loads(json.dumps(header)))
    assert again.header() == header


def _edited(header: dict, edit: str) -> dict:
    header = json.loads(json.dumps(header))
    if edit == "format 2 naming a policy":
        header["format"] = 2
    elif edit == "format 3 naming none":
        del header["spec"]["policy"]
    elif edit == "request and spec disagree":
        header["request"]["policy"] = "annealer"
    return header


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ("format 2 naming a policy", "format 2, which names no policy, but its spec names"),
        ("format 3 naming none", "format 3 but its spec names no policy"),
        ("request and spec disagree", "asks for policy 'annealer' and resolved 'model-guided'"),
    ],
)
def test_a_header_whose_policy_contradicts_its_format_is_refused(edit, message):
    """A rollback must never serve a model-guided journal as the annealer, nor the
    reverse: a header edited into a contradiction is refused, naming it."""
    request = StudyRequest((SpaceConfig("custom", range_table=(3, 3)),), policy="model-guided")
    header = Study("s", request, StudySpec.resolve(request), 5.0).header()
    assert Study.from_header(json.loads(json.dumps(header))).spec.policy == "model-guided"
    with pytest.raises(ValueError, match=re.escape(message)):
        Study.from_header(_edited(header, edit))
