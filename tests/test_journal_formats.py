"""Checkpoint folders written by earlier releases replay to the state those releases
acknowledged (tests/data/format*/, each with the script that made it)."""

from __future__ import annotations

import json
import shutil

from helpers import ROOT

from sanas.spaces import CombinedSpace
from sanas_server.controller import Controller
from sanas_server.storage import FileStorage
from sanas_server.study import HEADER_FORMAT, StudyRequest

FORMAT1 = ROOT / "tests" / "data" / "format1"


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


def test_new_studies_write_the_current_format_and_keep_paddleslim_keys(tmp_path):
    from sanas.spaces import SpaceConfig

    c = Controller(FileStorage(tmp_path))
    request = StudyRequest((SpaceConfig("MobileNetV2BlockSpace", block_mask=(1, 0)),), seed=1)
    c.create_study("s", request)
    c.close()
    (header,) = [json.loads(p.read_text()) for p in tmp_path.glob("studies/*/study.json")]
    assert header["format"] == HEADER_FORMAT
    c = Controller(FileStorage(tmp_path))
    try:
        assert [s.key for s in c.get_study("s").spec.search_spaces] == ["MobileNetV2BlockSpace"]
    finally:
        c.close()


def test_a_header_from_a_newer_release_is_refused_naming_both_formats(tmp_path):
    from sanas.spaces import SpaceConfig

    c = Controller(FileStorage(tmp_path))
    c.create_study("s", StudyRequest((SpaceConfig("custom", range_table=(3, 3)),), seed=1))
    c.close()
    (path,) = tmp_path.glob("studies/*/study.json")
    header = json.loads(path.read_text())
    header["format"] = HEADER_FORMAT + 1
    path.write_text(json.dumps(header))
    c = Controller(FileStorage(tmp_path))
    try:
        broken = c.get_study("s")
        assert f"format {HEADER_FORMAT + 1}" in broken.reason
        assert f"formats 1 to {HEADER_FORMAT}" in broken.reason
    finally:
        c.close()
