"""A study's proposal policy is chosen in its config (StudyConfig.policy), kept by its
header across a kill -9, refused precisely when unknown, and shown to the operator with
how well its model ranks results (Study.model_fit, `sanas status`), over real gRPC."""

from __future__ import annotations

import re

import grpc
import pytest
from helpers import custom_config, run_sanas

from sanas import SANAS, Client
from sanas.errors import InvalidArgumentError, StudyExistsError
from sanas.study_config import study_config
from sanas.v1 import sanas_pb2 as pb

TABLE = [5, 5, 5, 5]


def reward(tokens: list[int]) -> float:
    return -float(sum((t - 3) ** 2 for t in tokens))


def drive(client: Client, study: str, steps: int) -> None:
    for _ in range(steps):
        trial = client.suggest_trial(study)
        client.complete_trial(study, trial.trial_id, reward(list(trial.tokens)))


def test_the_config_names_the_policy_and_a_restart_keeps_it(server_process, tmp_path) -> None:
    server = server_process()
    with Client(server.address, client_id="t", timeout=10) as c:
        c.wait_ready()
        guided = c.create_study(
            "guided", custom_config(TABLE, search_steps=40, seed=1, policy="model-guided")
        )
        assert guided.config.policy == pb.PROPOSAL_POLICY_MODEL_GUIDED
        plain = c.create_study(
            "plain", custom_config(TABLE, search_steps=40, seed=1, policy="annealer")
        )
        assert plain.config.policy == pb.PROPOSAL_POLICY_ANNEALER
        assert not plain.HasField("model_fit")
        # Unset: the server's default for new studies, returned resolved like the seed.
        unset = c.create_study("unset", custom_config(TABLE, search_steps=40, seed=1))
        assert unset.config.policy == pb.PROPOSAL_POLICY_MODEL_GUIDED
        drive(c, "guided", 25)
        drive(c, "plain", 25)
        before = c.get_study("guided")
        assert before.HasField("model_fit") and before.model_fit.trials >= 10
        assert -1.0 <= before.model_fit.rank_correlation <= 1.0
        assert not c.get_study("plain").HasField("model_fit")
        status = run_sanas(server.address, "status", "guided").stdout
        fit = before.model_fit
        line = (
            f"model-guided, rank correlation {fit.rank_correlation:+.2f} over its last {fit.trials}"
        )
        assert re.search(rf"^policy +{re.escape(line)}$", status, re.M), status
        plain_status = run_sanas(server.address, "status", "plain").stdout
        assert re.search(r"^policy +annealer$", plain_status, re.M), plain_status
    server.kill9()
    again = server_process(tmp_path / "ckpt")
    with Client(again.address, client_id="t", timeout=10) as c:
        c.wait_ready()
        after = c.get_study("guided")
        assert after.config.policy == pb.PROPOSAL_POLICY_MODEL_GUIDED
        assert after.model_fit == before.model_fit  # replayed, not refitted or lost
        assert c.get_study("plain").config.policy == pb.PROPOSAL_POLICY_ANNEALER
        drive(c, "guided", 5)  # and it goes on proposing


def test_an_unknown_policy_is_invalid_argument_and_creates_nothing(client: Client) -> None:
    config = custom_config(TABLE)
    config.policy = 7  # type: ignore[assignment]  # what a newer client may send
    with pytest.raises(InvalidArgumentError) as refused:
        client.create_study("s", config)
    assert refused.value.code == grpc.StatusCode.INVALID_ARGUMENT.name
    assert "policy = 7 is not a ProposalPolicy value" in str(refused.value)
    assert "PROPOSAL_POLICY_MODEL_GUIDED (2)" in str(refused.value)
    assert [s.study_id for s in client.list_studies()] == []
    with pytest.raises(ValueError, match="'bayes' is not a proposal policy: use one of"):
        study_config([("custom", {"range_table": TABLE})], policy="bayes")


def test_sanas_passes_its_policy_and_a_joining_trainer_keeps_the_study_s(server, tmp_path) -> None:
    host, port = server.address.rsplit(":", 1)
    configs = [("custom", {"range_table": TABLE})]
    common = {"server_addr": (host, int(port)), "search_steps": 20, "is_server": False}
    first = SANAS(configs, study_id="s", seed=3, policy="model-guided", **common)
    try:
        with Client(server.address, client_id="look", timeout=10) as c:
            assert c.get_study("s").config.policy == pb.PROPOSAL_POLICY_MODEL_GUIDED
        with pytest.warns(UserWarning, match="policy: study 'PROPOSAL_POLICY_MODEL_GUIDED'"):
            second = SANAS(configs, study_id="s", policy="annealer", **common)
        second.close()
        # Not passing one is not a difference: the trainer just joins.
        third = SANAS(configs, study_id="s", **common)
        third.close()
    finally:
        first.close()


def test_a_create_naming_another_policy_than_the_study_resolved_is_refused(
    client: Client, tmp_path
) -> None:
    """A study created without a policy got the default; asking for it again with another
    policy is a different config (ALREADY_EXISTS, naming it), not a silent join."""
    client.create_study("s", custom_config(TABLE, seed=1))
    again = client.create_study("s", custom_config(TABLE, seed=1))  # the same: joins
    assert again.config.policy == pb.PROPOSAL_POLICY_MODEL_GUIDED
    same = client.create_study("s", custom_config(TABLE, seed=1, policy="model-guided"))
    assert same.uid == again.uid
    with pytest.raises(
        StudyExistsError, match="policy: 'model-guided' \\(existing\\) vs 'annealer'"
    ):
        client.create_study("s", custom_config(TABLE, seed=1, policy="annealer"))


def test_a_rerun_asking_for_another_policy_is_told_the_study_keeps_its_own(tmp_path) -> None:
    configs = [("custom", {"range_table": TABLE})]
    folder = str(tmp_path / "run")
    common = {"server_addr": ("127.0.0.1", 0), "search_steps": 20, "save_checkpoint": folder}
    with SANAS(configs, seed=3, **common) as first:
        first.next_archs()
        first.reward(1.0)
    with (
        pytest.warns(UserWarning, match="keeps its policy PROPOSAL_POLICY_MODEL_GUIDED"),
        SANAS(configs, seed=3, policy="annealer", **common) as again,
    ):
        with Client(again.address, timeout=10) as c:
            assert c.get_study("sanas").config.policy == pb.PROPOSAL_POLICY_MODEL_GUIDED
