"""The committed Python stubs are exactly what `make proto` generates from the schema."""

from __future__ import annotations

import sys

from helpers import ROOT

sys.path.insert(0, str(ROOT / "tools"))
from gen_stubs import GENERATED, generate


def test_committed_stubs_match_the_schema(tmp_path):
    generate(tmp_path)
    committed = ROOT / "python_client" / "sanas" / "v1"
    drifted = [
        name
        for name in GENERATED
        if (tmp_path / name).read_bytes() != (committed / name).read_bytes()
    ]
    assert not drifted, f"{drifted} differ from the schema: run `make proto` and commit"


def test_generated_module_knows_every_rpc():
    from sanas.v1 import sanas_pb2

    service = sanas_pb2.DESCRIPTOR.services_by_name["ControllerService"]
    assert {m.name for m in service.methods} >= {
        "CreateStudy",
        "GetStudy",
        "ListStudies",
        "DeleteStudy",
        "SuggestTrial",
        "CompleteTrial",
        "ListTrials",
        "ImportPaddleSlimCheckpoint",
    }
