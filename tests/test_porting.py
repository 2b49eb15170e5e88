"""PaddleSlim scripts with only the import changed: a server script and client scripts
that pass only configs and an address, the resume rule, and the small traps a newcomer
met (search_steps=0, "host:port" strings, failed candidates)."""

from __future__ import annotations

import logging
import math
import subprocess
import sys
import threading
import time
import warnings

import pytest

from sanas import SANAS, Client, StudyExistsError, errors, nas
from sanas.v1 import sanas_pb2 as pb

BLOCKS = [("MobileNetV2BlockSpace", {"input_size": 8, "output_size": 2, "block_num": 2})]
OTHER_BLOCKS = [("MobileNetV2BlockSpace", {"input_size": 8, "output_size": 2, "block_num": 3})]
LOOPBACK = ("127.0.0.1", 0)


def test_joining_clients_with_only_configs_and_an_address_join_the_study():
    with SANAS(
        BLOCKS,
        server_addr=LOOPBACK,
        save_checkpoint=None,
        search_steps=4,
        init_temperature=2.0,
        reduce_rate=0.5,
    ) as server:
        host, port = server.address.rsplit(":", 1)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # joining with PaddleSlim's defaults: no warning
            worker = SANAS(BLOCKS, server_addr=(host, int(port)), is_server=False)
        worker.next_archs()
        worker.reward(0.5)
        with Client(server.address) as c:
            study = c.get_study("sanas")
        assert study.config.search_steps == 4 and study.config.reduce_rate == 0.5
        assert study.trial_counts.succeeded == 1
        worker.close()


def test_a_joining_client_is_warned_about_annealing_parameters_it_passes():
    with SANAS(BLOCKS, server_addr=LOOPBACK, save_checkpoint=None, search_steps=4) as server:
        with pytest.warns(UserWarning, match=r"reduce_rate: study 0\.85, this client 0\.5") as seen:
            worker = SANAS(
                BLOCKS,
                server_addr=server.address,
                is_server=False,
                reduce_rate=0.5,
                search_steps=300,
            )
        text = str(seen[0].message)
        assert "search_steps: study 4, this client 300" in text
        assert "the study's values are used" in text
        with Client(server.address) as c:
            assert c.get_study("sanas").config.reduce_rate == 0.85
        worker.close()


def test_a_joining_client_with_other_spaces_is_told_which_field_differs():
    with SANAS(BLOCKS, server_addr=LOOPBACK, save_checkpoint=None, search_steps=4) as server:
        with pytest.raises(StudyExistsError, match=r"block_num: study 2, this client 3"):
            SANAS(OTHER_BLOCKS, server_addr=server.address, is_server=False)


SERVER_SCRIPT = """
import sys, time
from sanas import SANAS, Client
configs = [("MobileNetV2BlockSpace", {"input_size": 8, "output_size": 2, "block_num": 2})]
sa = SANAS(configs, server_addr=("127.0.0.1", 0), search_steps=4, init_temperature=1.0,
           save_checkpoint=sys.argv[1])
print(sa.address, flush=True)
with Client(sa.address) as c:
    for _ in range(1200):  # bounded: at most 120 s
        if c.get_study("sanas").state == 2:  # STUDY_STATE_COMPLETED
            break
        time.sleep(0.1)
print("best", sa.current_info()["best_reward"], flush=True)
sys.stdin.readline()  # stays up until the test has seen every client finish
sa.close()
"""

CLIENT_SCRIPT = """
import sys
from sanas import SANAS, SearchFinished
configs = [("MobileNetV2BlockSpace", {"input_size": 8, "output_size": 2, "block_num": 2})]
host, port = sys.argv[1].rsplit(":", 1)
sa = SANAS(configs, server_addr=(host, int(port)), is_server=False)
n = 0
while True:
    try:
        archs = sa.next_archs()
    except SearchFinished:
        break
    sa.reward(0.1 * (n + 1) + 0.01 * len(archs))
    n += 1
print("rewarded", n, flush=True)
"""


def python_script(source: str, *args: str) -> subprocess.Popen:
    """A script in its own process, as a user runs it: pipes for its input and output."""
    return subprocess.Popen(
        [sys.executable, "-c", source, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_server_script_and_client_scripts_as_in_paddleslim(tmp_path):
    server = python_script(SERVER_SCRIPT, str(tmp_path / "ckpt"))
    try:
        address = server.stdout.readline().strip()
        assert ":" in address, server.stderr.read()
        clients = [python_script(CLIENT_SCRIPT, address) for _ in range(2)]
        rewarded = 0
        for client in clients:
            out, err = client.communicate(timeout=120)
            assert client.returncode == 0, err
            rewarded += int(out.split()[-1])
        assert rewarded == 4  # the server script's budget, shared by both clients
        out, err = server.communicate("bye\n", timeout=60)
        assert server.returncode == 0, err
        assert out.startswith("best ")
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(10)


def a_run_with_one_result(tmp_path) -> str:
    """An earlier run's checkpoint folder: study 'sanas', search_steps 5, reward 0.7."""
    folder = str(tmp_path / "ckpt")
    with SANAS(BLOCKS, server_addr=LOOPBACK, save_checkpoint=folder, search_steps=5) as first:
        first.next_archs()
        first.reward(0.7)
    return folder


def test_a_rerun_over_its_folder_continues_the_search_and_says_so(tmp_path, caplog):
    """PaddleSlim starts over (and overwrites the checkpoint at the first reward); sanas
    continues the search in the folder, warning, so a rerun after a crash and the
    final-training pattern (a new server SANAS + tokens2arch(best)) both work."""
    folder = a_run_with_one_result(tmp_path)
    caplog.set_level(logging.WARNING, logger="sanas")
    with SANAS(BLOCKS, server_addr=LOOPBACK, save_checkpoint=folder, search_steps=5) as again:
        info = again.current_info()
        assert info["best_reward"] == 0.7
        assert again.tokens2arch(info["best_tokens"])  # the final-training pattern
        again.next_archs()
        again.reward(0.2)
        with Client(again.address) as c:
            assert c.get_study("sanas").budget_remaining == 3  # one budget, continued
    assert f"the checkpoint folder {folder} already holds study 'sanas' with 1 trial(s)" in (
        caplog.text
    )
    assert "PaddleSlim would start over" in caplog.text
    # Other search spaces in the same folder are another search: refused, saying why.
    with pytest.raises(StudyExistsError) as refused:
        SANAS(OTHER_BLOCKS, server_addr=LOOPBACK, save_checkpoint=folder, search_steps=5)
    assert "other search spaces" in str(refused.value) and folder in str(refused.value)
    caplog.set_level(logging.INFO, logger="sanas")
    with SANAS(BLOCKS, server_addr=LOOPBACK, load_checkpoint=folder, search_steps=5) as resumed:
        assert resumed.current_info()["best_reward"] == 0.7
    assert f"resumed study 'sanas' with 2 results from {folder}" in caplog.text


def test_resuming_with_another_config_names_the_fields_and_the_folder(tmp_path):
    folder = a_run_with_one_result(tmp_path)
    with pytest.raises(StudyExistsError) as info:
        SANAS(BLOCKS, server_addr=LOOPBACK, load_checkpoint=folder, search_steps=9)
    message = str(info.value)
    assert "search_steps: 5 (existing) vs 9 (requested)" in message
    assert f"checkpoint folder {folder}" in message


def test_a_checkpoint_folder_with_nothing_searched_starts_afresh(tmp_path):
    folder = str(tmp_path / "ckpt")
    SANAS(BLOCKS, server_addr=LOOPBACK, save_checkpoint=folder, search_steps=5).close()
    with SANAS(BLOCKS, server_addr=LOOPBACK, save_checkpoint=folder, search_steps=7) as again:
        with Client(again.address) as c:
            assert c.get_study("sanas").config.search_steps == 7


@pytest.mark.parametrize("steps", [0, -1, 2.5, True])
def test_search_steps_must_be_a_positive_whole_number(steps):
    with pytest.raises(errors.InvalidArgumentError, match="search_steps="):
        SANAS(BLOCKS, server_addr=LOOPBACK, save_checkpoint=None, search_steps=steps)


def test_server_addr_as_a_host_port_string():
    with SANAS(BLOCKS, server_addr="127.0.0.1:0", save_checkpoint=None) as server:
        assert server.address.startswith("127.0.0.1:") and not server.address.endswith(":0")
        worker = SANAS(BLOCKS, server_addr=server.address, is_server=False)
        worker.next_archs()
        worker.reward(0.2)
        worker.close()
    with pytest.raises(errors.InvalidArgumentError, match="not a number"):
        SANAS(BLOCKS, server_addr="127.0.0.1:eighty", save_checkpoint=None)


def test_a_failed_candidate_is_reported_as_infeasible():
    with SANAS(BLOCKS, server_addr=LOOPBACK, save_checkpoint=None, search_steps=4) as nas:
        nas.next_archs()
        with pytest.raises(errors.InvalidArgumentError, match=r"infeasible=True"):
            nas.reward(math.nan)
        assert nas.reward(math.nan, infeasible=True) is True
        with Client(nas.address) as c:
            (trial,) = c.list_trials("sanas")
        assert trial.state == pb.TRIAL_STATE_INFEASIBLE
        assert nas.current_info()["best_reward"] == -1  # never the best


def test_every_error_of_the_readme_table_is_importable_from_sanas():
    import sanas

    for name in (
        "InvalidArgumentError",
        "StudyNotFoundError",
        "TrialNotFoundError",
        "StudyExistsError",
        "TrialAlreadyCompletedError",
        "BudgetExhaustedError",
        "SpaceExhaustedError",
        "TooManyPendingTrialsError",
        "UnauthenticatedError",
        "ControllerUnavailableError",
        "StudyBrokenError",
        "TooManyWatchersError",
    ):
        assert issubclass(getattr(sanas, name), sanas.SanasError), name


EARLY_SERVER_SCRIPT = """
import sys
from sanas import SANAS, SearchFinished
configs = [("MobileNetV2BlockSpace", {"input_size": 8, "output_size": 2, "block_num": 2})]
sa = SANAS(configs, server_addr=("127.0.0.1", 0), search_steps=2, save_checkpoint=None)
print(sa.address, flush=True)
sys.stdin.readline()  # a client has taken its trial
for step in range(1):  # the server script trains too, and ends when its own loop does
    sa.next_archs()
    sa.reward(0.5)
print("server rewarded", step + 1, flush=True)
"""

SLOW_CLIENT_SCRIPT = """
import sys, time
from sanas import SANAS, SearchFinished
configs = [("MobileNetV2BlockSpace", {"input_size": 8, "output_size": 2, "block_num": 2})]
host, port = sys.argv[1].rsplit(":", 1)
sa = SANAS(configs, server_addr=(host, int(port)), is_server=False, lease_seconds=1.5)
n = 0
while True:
    try:
        sa.next_archs()
    except SearchFinished as exc:
        print("finished:", exc, flush=True)
        break
    print("took a trial", flush=True)
    time.sleep(3.0)  # trains longer than the server script's whole loop
    sa.reward(0.9)
    n += 1
print("client rewarded", n, flush=True)
"""


def test_a_server_script_that_ends_first_waits_for_its_clients():
    # PaddleSlim-style server scripts end when their own loop does; a client still
    # training must get its result recorded and then end with SearchFinished.
    server = python_script(EARLY_SERVER_SCRIPT)
    try:
        address = server.stdout.readline().strip()
        assert ":" in address, server.stderr.read()
        client = python_script(SLOW_CLIENT_SCRIPT, address)
        assert client.stdout.readline().strip() == "took a trial"
        started = time.monotonic()
        server.stdin.write("go\n")
        server.stdin.flush()
        out, err = client.communicate(timeout=60)
        assert client.returncode == 0, err
        assert "client rewarded 1" in out and "finished:" in out
        # Its last next_archs finds the controller gone: the budget was issued, so that is
        # the end of the search (after a short retry), not a 600 s wait for a restart.
        assert time.monotonic() - started < 30
        server_out, server_err = server.communicate(timeout=30)
        assert server.returncode == 0, server_err
        assert "server rewarded 1" in server_out
        assert "waiting for 1 trial(s) other trainers are still training" in server_err
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(10)


def test_a_server_script_ending_while_a_trainer_is_between_calls_stays_for_its_next_one(
    monkeypatch,
):
    # A trainer between a reward (or a skip) and its next next_archs() holds no trial; a
    # controller that stopped then would leave it retrying for its whole retry timeout.
    monkeypatch.setattr(nas, "TRAINERS_QUIET_SECONDS", 10.0)
    custom = [("custom", {"range_table": [5, 5, 5]})]
    server = SANAS(custom, server_addr=LOOPBACK, search_steps=6, save_checkpoint=None)
    with Client(server.address, client_id="other-host") as other:
        first = other.suggest_trial("sanas")
        other.complete_trial("sanas", first.trial_id, 0.5)  # now between two calls
        ending = threading.Thread(target=server.close)  # the server script's loop ended
        ending.start()
        time.sleep(0.5)
        assert ending.is_alive()
        second = other.suggest_trial("sanas")  # its next call is still served
        other.complete_trial("sanas", second.trial_id, 0.7)
        assert other.get_study("sanas").trial_counts.succeeded == 2
        ending.join(60)  # and then it stops, once the study has been quiet a while
        assert not ending.is_alive()
    # With no other trainer in the run there is nobody to wait for: it stops at once.
    alone = SANAS(custom, server_addr=LOOPBACK, search_steps=2, save_checkpoint=None)
    alone.next_archs()
    alone.reward(0.1)
    started = time.monotonic()
    alone.close()
    assert time.monotonic() - started < 8.0  # not the 10 s quiet period
