"""Snapshots bound replay: a restart loads the last snapshot and replays only the journal
written after it, and resumes exactly (random generator, move radius, pending kicks,
recombination hints and the reward spread included)."""

from __future__ import annotations

import json
import os
import tracemalloc

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_controller import drive, request, reward_of

from sanas.spaces import SpaceConfig
from sanas_server.controller import Controller
from sanas_server.errors import BudgetExhausted, CorruptCheckpoint, SearchSpaceExhausted
from sanas_server.journal import measurements_from_json, snapshot_event
from sanas_server.spec import StudyRequest, StudySpec
from sanas_server.stopping import EarlyStopping, MedianRule
from sanas_server.storage import JOURNAL, SNAPSHOT, FileStorage, MemoryStorage
from sanas_server.study import Study
from sanas_server.trials import TrialState


def study_folder(root):
    (folder,) = (root / "studies").glob("s@*")  # one folder per study instance
    return folder


def test_restart_after_snapshots_is_exact(tmp_path):
    reference = Controller(MemoryStorage())
    reference.create_study("s", request(table=(5, 5, 5), seed=8, search_steps=110))
    expected = drive(reference, "s", 110)

    c = Controller(FileStorage(tmp_path), snapshot_every=7)
    c.create_study("s", request(table=(5, 5, 5), seed=8, search_steps=110))
    got = drive(c, "s", 61)
    assert c._entry("s").study.policy.best_reward == 0.0  # converged: kicks from now on
    c.close()
    folder = study_folder(tmp_path)
    journals = sorted(p.name for p in folder.glob("journal*.log"))
    assert (folder / SNAPSHOT).exists() and len(journals) == 1 and journals != [JOURNAL]
    resumed = Controller(FileStorage(tmp_path), snapshot_every=7)
    # 122 events were written; a restart replays only those after the last snapshot,
    # at most max(snapshot_every, trials) of them.
    assert resumed._entry("s").since_snapshot <= 61
    got += drive(resumed, "s", 49)
    assert got == expected
    a, b = reference.get_study("s"), resumed.get_study("s")
    assert (a.best_tokens, a.best_reward, a.current_tokens, a.temperature, a.counts) == (
        b.best_tokens,
        b.best_reward,
        b.current_tokens,
        b.temperature,
        b.counts,
    )


def test_request_ids_and_running_trials_survive_a_snapshot(tmp_path):
    c = Controller(FileStorage(tmp_path), snapshot_every=3)
    c.create_study("s", request(search_steps=20))
    held = c.suggest_trial("s", "a", request_id="held")
    drive(c, "s", 5)
    c.close()
    resumed = Controller(FileStorage(tmp_path), snapshot_every=3)
    again = resumed.suggest_trial("s", "a", request_id="held")
    assert again.trial_id == held.trial_id and again.tokens == held.tokens
    assert resumed.get_study("s").counts[TrialState.ACTIVE] == 1


@pytest.mark.parametrize("kind", ["memory", "file"])
def test_contract_a_snapshot_replaces_the_history(kind, tmp_path):
    storage = MemoryStorage() if kind == "memory" else FileStorage(tmp_path)
    a = storage.create("a", {"study_id": "a"}, [])
    storage.append(a, [{"e": "x", "n": 1}, {"e": "x", "n": 2}])()
    storage.write_snapshot(a, storage.rotate(a), {"e": "snapshot", "n": 2})
    storage.append(a, [{"e": "x", "n": 3}])()
    _, events = storage.load(a)
    assert events == [{"e": "snapshot", "n": 2}, {"e": "x", "n": 3}]
    storage.close()


def test_a_snapshot_interrupted_by_a_crash_leaves_the_old_state(tmp_path):
    c = Controller(FileStorage(tmp_path), snapshot_every=10**9)
    c.create_study("s", request(seed=1))
    drive(c, "s", 4)
    c.close()
    # An earlier version's snapshot was interrupted by a crash after its new journal was
    # created, before the snapshot's rename: that journal holds nothing and goes.
    stray = study_folder(tmp_path) / "journal-0123456789ab.log"
    stray.write_bytes(b"")
    resumed = Controller(FileStorage(tmp_path))
    assert resumed.get_study("s").counts[TrialState.SUCCEEDED] == 4
    assert not stray.exists()


def test_a_failed_snapshot_loses_nothing(tmp_path, monkeypatch, caplog):
    c = Controller(FileStorage(tmp_path), snapshot_every=5)
    c.create_study("s", request(seed=1, search_steps=30))
    real_replace = os.replace

    def refuse(src, dst):
        if str(dst).endswith(SNAPSHOT):
            raise OSError(28, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", refuse)
    first = drive(c, "s", 6)
    assert "writing snapshot" in caplog.text
    monkeypatch.undo()
    c.close()
    resumed = Controller(FileStorage(tmp_path), snapshot_every=5)
    assert [t.tokens for t in resumed.list_trials("s", 100, "", None)[0]] == first


def drive_parallel(
    c: Controller, study_id: str, steps: int, held: list, seen: dict | None = None
) -> list[tuple[int, ...]]:
    """Eight trainers: results come back in an order that depends on the tokens, so
    results are late and the annealer records kicks, origins and hints."""
    out = []
    for _ in range(steps):
        while len(held) < 8:
            held.append(c.suggest_trial(study_id, "w"))
        held.sort(key=lambda t: (sum(t.tokens) * 7919 + t.trial_id) % 13)
        t = held.pop(0)
        c.complete_trial(study_id, t.trial_id, reward_of(t.tokens), False)
        out.append(t.tokens)
        if seen is not None:
            annealer = c._entry(study_id).study.policy
            seen["kicks"] = seen.get("kicks", 0) + bool(annealer.kicks)
            seen["hints"] = seen.get("hints", 0) + bool(annealer.hints)
    return out


@pytest.mark.parametrize("policy", ["annealer", "model-guided"])
@pytest.mark.parametrize("snapshot_every", [5, 10**9])
def test_restart_with_eight_pending_trials_is_exact(tmp_path, snapshot_every, policy):
    reference = Controller(MemoryStorage())
    reference.create_study("s", request(table=(6,) * 6, seed=6, search_steps=200, policy=policy))
    held: list = []
    exercised: dict = {}
    expected = drive_parallel(reference, "s", 150, held, exercised)
    # The run exercises what is being restored (the annealer's kicks and hints; the
    # model-guided policy's model, fitted outside the lock and never on replay).
    if policy == "annealer":
        assert exercised["kicks"] > 0 and exercised["hints"] > 0
    else:
        assert reference._entry("s").study.policy.fits > 0

    c = Controller(FileStorage(tmp_path), snapshot_every=snapshot_every)
    c.create_study("s", request(table=(6,) * 6, seed=6, search_steps=200, policy=policy))
    held = []
    got = drive_parallel(c, "s", 70, held)
    a = c._entry("s").study.policy
    seen = (set(a.kicks), dict(a.origins), dict(a.hints), a.reward_stats, a.radius)
    assert len(a.origins) == len(held) == 7 and a.reward_stats[0] == 70
    c.close()
    resumed = Controller(FileStorage(tmp_path), snapshot_every=snapshot_every)
    b = resumed._entry("s").study.policy
    assert (set(b.kicks), dict(b.origins), dict(b.hints), b.reward_stats, b.radius) == seen
    got += drive_parallel(resumed, "s", 80, held)
    assert got == expected


# -- a restart from a snapshot and one from the journal continue alike -------------------
LEASE = 60.0


def fresh_study() -> Study:
    spec_request = StudyRequest(
        search_spaces=(SpaceConfig("custom", range_table=(4, 4, 4)),),
        search_steps=40,
        seed=11,
        lease_seconds=LEASE,
        early_stopping=EarlyStopping(MedianRule(start_step=1, min_trials=1)),
    )
    # One uid for every copy: the journal and the snapshot replay the same incarnation.
    return Study("s", spec_request, StudySpec.resolve(spec_request), 0.0, uid="snapshots-test")


def replay(events: list[dict]) -> Study:
    study = Study.from_header(json.loads(json.dumps(fresh_study().header())))
    for event in json.loads(json.dumps(events)):
        study.apply(event)
    return study


ops_st = st.lists(
    st.tuples(
        st.sampled_from(["suggest", "suggest", "complete", "report", "beat", "skip", "wait"]),
        st.integers(0, 9),
        st.sampled_from([0.1, 0.4, 0.8, 5.0, 30.0, 70.0]),
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=ops_st, snapshot_at=st.integers(0, 60))
def test_a_restart_from_a_snapshot_continues_as_one_from_the_journal(ops, snapshot_at):
    live = fresh_study()
    events: list[dict] = []
    snapshot: tuple[int, dict] | None = None
    now = 0.0
    for n, (op, pick, x) in enumerate(ops):
        if n == snapshot_at:  # what the controller writes: the live state, heartbeats too
            snapshot = (len(events), json.loads(json.dumps(live.snapshot_event())))
        held = list(live.running)
        trial_id = held[pick % len(held)] if held else None
        event = None
        try:
            if op == "suggest" or trial_id is None:
                _, event = live.suggest(f"c{pick % 3}", now)
            elif op == "complete":
                _, event = live.complete(trial_id, x, False, now)
            elif op == "report":
                step = len(live.trials[trial_id].measurements) + 1
                _, _, event = live.report_progress(trial_id, step, x, now, max_step=9)
            elif op == "beat":
                live.heartbeat(trial_id, now)
            elif op == "skip":
                _, event = live.skip(trial_id, now)
            else:
                now += x
        except (BudgetExhausted, SearchSpaceExhausted):
            pass
        if event is not None:
            events.append(event)
    if snapshot is None:
        snapshot = (len(events), json.loads(json.dumps(live.snapshot_event())))
    from_journal = replay(events)
    from_snapshot = replay([])
    from_snapshot.apply(snapshot[1])
    for event in json.loads(json.dumps(events[snapshot[0] :])):
        from_snapshot.apply(event)
    restart = now + 1.0
    for study in (from_journal, from_snapshot):
        study.renew_leases(restart)
    assert from_snapshot.trials == from_journal.trials
    assert from_snapshot.policy.state() == from_journal.policy.state()
    assert from_snapshot.summary() == from_journal.summary()
    assert from_snapshot.requests == from_journal.requests
    assert from_snapshot.running.by_client == from_journal.running.by_client
    # Every lease runs out: which expired trial each trainer gets must not depend on
    # how the controller restarted.
    later = restart + 2 * LEASE
    for _ in range(len(from_journal.running) + 1):
        try:
            a, _ = from_journal.suggest("late", later)
        except (BudgetExhausted, SearchSpaceExhausted):
            with pytest.raises((BudgetExhausted, SearchSpaceExhausted)):
                from_snapshot.suggest("late", later)
            break
        b, _ = from_snapshot.suggest("late", later)
        assert (b.trial_id, b.tokens, b.issues) == (a.trial_id, a.tokens, a.issues)


def curves_study(trials: int, points: int) -> Study:
    config = StudyRequest(
        search_spaces=(SpaceConfig("custom", range_table=(9, 9, 9)),),
        search_steps=trials,
        seed=3,
        lease_seconds=1e6,
    )
    study = Study("s", config, StudySpec.resolve(config), 0.0)
    held = [study.suggest("w", 0.0)[0].trial_id for _ in range(trials)]
    for step in range(1, points + 1):
        for trial_id in held:
            study.report_progress(trial_id, step, trial_id + step / 7, step + 0.5)
    for trial_id in held[: trials // 2]:
        study.complete(trial_id, 0.5, False, points + 1.0)
    return study


def test_a_snapshot_is_written_a_row_at_a_time_and_reads_back_exactly(tmp_path):
    study = curves_study(40, 2_500)
    storage = FileStorage(tmp_path)
    key = storage.create("s", study.header(), [])
    rotation = storage.rotate(key)
    tracemalloc.start()
    storage.write_snapshot(key, rotation, snapshot_event(study.snapshot_state()))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    path = study_folder(tmp_path) / SNAPSHOT
    size = path.stat().st_size
    # 24 bytes a point in base64 columns (JSON numbers took about 45), and never the
    # whole text in memory (json.dumps of a whole study held it, and the GIL, at once).
    assert size < 100_000 * 34
    assert peak < size / 5, (peak, size)  # a few rows' worth
    data = path.read_bytes()
    assert len(data.splitlines()) == 40 + 2  # a row a line
    document = json.loads(data)  # ... and still one JSON document
    assert len(document["event"]["trials"]) == 40
    assert set(document["event"]["trials"][0][10]) == {"steps", "values", "times"}
    storage.close()
    storage = FileStorage(tmp_path)
    header, events = storage.load(key)
    storage.close()
    again = Study.from_header(header)
    for event in events:
        again.apply(event)
    assert again.trials == study.trials and again.measured == study.measured == 100_000
    assert again.policy.state() == study.policy.state()


def test_a_one_line_snapshot_of_an_earlier_release_is_read_a_row_at_a_time(tmp_path):
    """Before rows had a line each, a snapshot was one JSON document with its points as
    [step, value, time] lists: read whole, 300 trials of 10,000 points took 800 MB."""
    study = curves_study(10, 5_000)
    event = study.snapshot_event()
    for row in event["trials"]:
        row[10] = [list(m) for m in measurements_from_json(row[10])]
    storage = FileStorage(tmp_path)
    key = storage.create("s", study.header(), [])
    storage.close()
    path = study_folder(tmp_path) / SNAPSHOT
    path.write_text(json.dumps({"journal": JOURNAL, "event": event}))
    storage = FileStorage(tmp_path)
    tracemalloc.start()
    header, events = storage.load(key)
    again = Study.from_header(header)
    for e in events:
        again.apply(e)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert again.trials == study.trials and again.policy.state() == study.policy.state()
    # The text and the columns: about 2x the file, where json.loads took about 5x.
    assert peak < 3 * path.stat().st_size, (peak, path.stat().st_size)
    damaged = path.read_text().replace("]], ", "]] ", 1)
    path.write_text(damaged)
    with pytest.raises(CorruptCheckpoint, match="snapshot"):
        storage.load(key)
    storage.close()


class CountingStorage(MemoryStorage):
    def __init__(self) -> None:
        super().__init__()
        self.points_written = 0

    def write_snapshot(self, key, rotation, event) -> None:
        for row in event["trials"]:
            self.points_written += len(measurements_from_json(row[10]))
        super().write_snapshot(key, rotation, event)


def test_snapshot_writing_stays_linear_in_the_points():
    """A snapshot's size grows with the points, so snapshots come after a number of
    events that grows with them: every 100 events, 3 curves of 3,000 points would write
    about 45 points per event reported (the square of the data); now at most ~16."""
    storage = CountingStorage()
    c = Controller(storage, snapshot_every=100)
    config = StudyRequest(
        search_spaces=(SpaceConfig("custom", range_table=(9, 9, 9)),), search_steps=3, seed=1
    )
    c.create_study("s", config)
    held = [c.suggest_trial("s", f"w{i}").trial_id for i in range(3)]
    for step in range(1, 3_001):
        for trial_id in held:
            c.report_progress("s", trial_id, step, 0.5)
    assert storage.points_written > 0  # snapshots were written
    assert storage.points_written < 20 * 9_000, storage.points_written
    assert c._entry("s").since_snapshot <= 9_000 // 16 + 100
