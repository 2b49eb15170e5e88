"""The dashboard's limits: the controller's watch slots it takes and gives back, live pages
opened at once, heavy responses off the event loop, bounded curve memory and /series
size, and the security headers of every response.

Unit tests drive the Hub and the app with tests/dashboard_fake.py's stand-in client;
the rest run a real sanas-server and the dashboard as subprocesses on loopback. Every
loop is bounded in count and time."""

from __future__ import annotations

import asyncio
import json
import math
import statistics
import subprocess
import sys
import threading
import time
import tracemalloc
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from dashboard_fake import FakeClient, make_trials
from helpers import CHECKOUT_ENV, ROOT, ServerProcess, custom_config, wait_until

from sanas import Client
from sanas.dashboard import hub as hub_module
from sanas.dashboard.app import SECURITY_HEADERS, Settings, create_app
from sanas.dashboard.index import CHART_CURVE_BUCKETS, CURVE_KEEP, Curve, TrialIndex
from sanas.v1 import sanas_pb2 as pb
from sanas.v1 import sanas_pb2_grpc


# -- the Hub: streams are cancelled, capped and dropped when idle ---------------------------
def open_ready(hub: hub_module.Hub, study_id: str) -> hub_module.StudyFeed:
    feed = hub.feed(study_id)
    assert feed.ready.wait(10) and feed.study is not None, feed.error
    return feed


def studies(n: int) -> dict[str, list[pb.Trial]]:
    return {f"s{i}": [] for i in range(n)}


def test_a_dropped_feed_cancels_its_stream_and_at_most_max_watches_are_open() -> None:
    # Before: an evicted feed was only flagged to stop; its stream stayed open (and took
    # a controller slot) until the study's next event.
    fake = FakeClient(studies(10))
    hub = hub_module.Hub(lambda: fake, max_watches=4, idle_seconds=3600)  # type: ignore[arg-type, return-value]
    try:
        for i in range(10):
            open_ready(hub, f"s{i}")
            assert fake.open_streams() <= 4 and hub.watching() <= 4
        assert fake.open_streams() == 4
        assert sorted(hub.feeds()) == ["s6", "s7", "s8", "s9"]  # the least recent went
        hub.drop("s9")
        assert fake.open_streams() == 3
    finally:
        hub.close()
    assert fake.open_streams() == 0


def test_idle_feeds_are_dropped_and_release_their_streams() -> None:
    fake = FakeClient(studies(3))
    hub = hub_module.Hub(lambda: fake, max_watches=8, idle_seconds=30)  # type: ignore[arg-type, return-value]
    try:

        async def viewed() -> None:
            open_ready(hub, "s0").subscribe()  # a page stays open on s0
            open_ready(hub, "s1")
            open_ready(hub, "s2")
            assert hub.reap(time.monotonic() + 10) == []  # not idle long enough
            assert sorted(hub.reap(time.monotonic() + 31)) == ["s1", "s2"]

        asyncio.run(viewed())
        assert list(hub.feeds()) == ["s0"] and fake.open_streams() == 1
    finally:
        hub.close()
    # And the reaper thread does it by itself.
    fake = FakeClient(studies(2))
    hub = hub_module.Hub(lambda: fake, max_watches=8, idle_seconds=0.3)  # type: ignore[arg-type, return-value]
    try:
        open_ready(hub, "s0")
        open_ready(hub, "s1")
        assert fake.open_streams() == 2
        wait_until(lambda: fake.open_streams() == 0 and not hub.feeds(), 5)
    finally:
        hub.close()


def test_viewed_feeds_keep_their_streams_and_a_study_more_is_refused() -> None:
    fake = FakeClient(studies(4))
    hub = hub_module.Hub(lambda: fake, max_watches=2, idle_seconds=3600)  # type: ignore[arg-type, return-value]
    try:

        async def scenario() -> None:
            first = open_ready(hub, "s0")
            inbox = first.subscribe()
            open_ready(hub, "s1").subscribe()
            with pytest.raises(hub_module.WatchCapReached, match="--max-watches"):
                hub.feed("s2")
            assert fake.open_streams() == 2
            first.unsubscribe(inbox)  # its page closed: s0 may go now
            open_ready(hub, "s2")
            assert sorted(hub.feeds()) == ["s1", "s2"] and fake.open_streams() == 2

        asyncio.run(scenario())
    finally:
        hub.close()


def test_the_index_cap_drops_unviewed_studies_even_behind_a_viewed_one() -> None:
    # Completed studies hold no stream, only an index: MAX_FEEDS of those at most.
    names = studies(3 * hub_module.MAX_FEEDS)
    fake = FakeClient(names, completed=frozenset(names))
    hub = hub_module.Hub(lambda: fake, max_watches=4, idle_seconds=3600)  # type: ignore[arg-type, return-value]

    async def scenario() -> None:
        open_ready(hub, "s0").subscribe()  # the oldest study has a viewer
        for i in range(1, 3 * hub_module.MAX_FEEDS):
            open_ready(hub, f"s{i}")

    try:
        asyncio.run(scenario())
        feeds = hub.feeds()
        assert len(feeds) == hub_module.MAX_FEEDS
        assert "s0" in feeds and f"s{3 * hub_module.MAX_FEEDS - 1}" in feeds
        assert fake.open_streams() == 0
    finally:
        hub.close()


def test_the_default_watch_cap_is_below_the_controllers() -> None:
    from sanas_server.server import DEFAULT_MAX_WATCHERS

    assert hub_module.CONTROLLER_MAX_WATCHERS == DEFAULT_MAX_WATCHERS
    assert 0 < hub_module.DEFAULT_MAX_WATCHES < DEFAULT_MAX_WATCHERS
    with pytest.raises(ValueError, match="max_watches"):
        hub_module.Hub(lambda: FakeClient({}), max_watches=0)  # type: ignore[arg-type, return-value]


# -- the app, in process -------------------------------------------------------------------
@pytest.fixture
def app_client() -> Iterator[tuple[object, FakeClient]]:
    from starlette.testclient import TestClient

    fake = FakeClient(studies(6), max_watchers=3)  # a controller with 3 watch slots
    hub = hub_module.Hub(lambda: fake, idle_seconds=3600)  # type: ignore[arg-type, return-value]
    app = create_app(hub, Settings(controller="fake"))
    with TestClient(app, base_url="http://127.0.0.1") as client:  # type: ignore[arg-type]
        yield client, fake
    hub.close()


def test_a_controller_that_refuses_a_watch_gets_one_of_the_dashboards_back(app_client) -> None:
    # The dashboard's own cap (32 by default) is above this controller's 3: when the
    # controller refuses, the dashboard frees its least recently used unviewed stream.
    client, fake = app_client
    for i in range(6):
        r = client.get(f"/api/studies/s{i}")
        assert r.status_code == 200, r.text
        assert fake.open_streams() <= 3


def test_every_response_carries_the_security_headers(app_client) -> None:
    client, _ = app_client
    for path, status in [
        ("/", 200),
        ("/study/s0", 200),
        ("/api/health", 200),
        ("/static/app.js", 200),
        ("/static/vendor/uPlot.iife.min.js", 200),
        ("/api/studies/nope", 404),
        ("/no-such-page", 404),
    ]:
        r = client.get(path)
        assert r.status_code == status, path
        for name, value in SECURITY_HEADERS.items():
            assert r.headers.get(name) == value, (path, name)
    csp = SECURITY_HEADERS["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self';" in csp
    assert "unsafe" not in csp
    # The guards' own answers too: DNS rebinding (421) ...
    r = client.get("/api/health", headers={"host": "attacker.example"})
    assert r.status_code == 421 and r.headers["x-frame-options"] == "DENY"


def test_token_dashboard_headers_and_the_unauthenticated_healthz() -> None:
    from starlette.testclient import TestClient

    fake = FakeClient(studies(1))
    hub = hub_module.Hub(lambda: fake)  # type: ignore[arg-type, return-value]
    app = create_app(hub, Settings(controller="fake", token="t" * 20, host="0.0.0.0"))
    try:
        with TestClient(app, base_url="http://10.0.0.5") as client:  # type: ignore[arg-type]
            r = client.get("/api/health")
            assert r.status_code == 401
            assert (
                r.headers["content-security-policy"] == SECURITY_HEADERS["content-security-policy"]
            )
            # The kubelet's probe carries no token: /healthz says "ok" and nothing else.
            r = client.get("/healthz")
            assert r.status_code == 200 and r.text == "ok\n"
            assert r.headers["x-content-type-options"] == "nosniff"
            assert client.get("/healthz/../api/health").status_code == 401
    finally:
        hub.close()


# -- curves and /series ----------------------------------------------------------------------
def test_a_curve_keeps_bounded_points_with_its_extremes_exact() -> None:
    rng = __import__("random").Random(3)
    values = [rng.gauss(0, 1) for _ in range(10_000)]
    steps = list(range(1, 10_001))
    streamed = Curve()
    for s, v in zip(steps, values, strict=True):
        streamed.add(s, v)
    streamed.add(5, 99.0)  # an old step is ignored
    bulk = Curve.of(steps, values)
    for curve in (streamed, bulk):
        assert len(curve) <= CURVE_KEEP and curve.count == 10_000
        kept = dict(curve.points())
        assert min(kept.values()) == min(values) and max(kept.values()) == max(values)
        assert curve.points()[-1] == [10_000, values[-1]]  # the last point is exact
        assert all(values[s - 1] == v for s, v in kept.items())  # real points only
        # Even resolution: every stretch of 1/20 of the curve keeps some points.
        assert all(any(k <= s < k + 500 for s in kept) for k in range(1, 10_001, 500))
    chart = bulk.points(math.ceil(10_001 / CHART_CURVE_BUCKETS))
    assert len(chart) <= 2 * CHART_CURVE_BUCKETS + 1
    assert {min(v for _, v in chart), max(v for _, v in chart)} == {min(values), max(values)}


def test_series_of_long_curves_is_small_and_the_index_bounded() -> None:
    # 60 trials with the controller's maximum of 10,000 reports each. Before: ~110 bytes
    # a point in the index (66 MB here) and every point in /series (~13 MB here).
    trials = make_trials(60, points=10_000)
    tracemalloc.start()
    try:
        index = TrialIndex()
        index.load(trials)
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert held < 8 * 2**20, held
    body = index.series_json()
    assert len(body) < 2**20, len(body)
    series = json.loads(body)
    assert len(series["curves"]) == 60
    for curve in series["curves"]:
        original = [m.value for m in trials[curve["trial_id"]].measurements]
        shown = [v for _, v in curve["points"]]
        assert len(shown) <= 2 * CHART_CURVE_BUCKETS + 1
        assert min(shown) == min(original) and max(shown) == max(original)
        assert curve["reported"] == 10_000
    assert index.series_json() is body  # cached until the next change


# -- against a real controller -----------------------------------------------------------
class Dashboard:
    def __init__(self, controller: str, *extra: str, script: list[str] | None = None) -> None:
        command = script or [sys.executable, "-m", "sanas.cli", "dashboard"]
        if script is None:
            command += ["--address", controller, "--port", "0", *extra]
        self.proc = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=CHECKOUT_ENV
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if "sanas dashboard on" not in line:
            self.proc.kill()
            raise RuntimeError(f"dashboard did not start: {line!r} {self.proc.stderr.read()}")
        self.url = line.split()[3].rstrip("/")
        self.port = int(self.url.rsplit(":", 1)[1])

    def get(self, path: str, timeout: float = 30) -> tuple[int, dict[str, str], bytes]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=timeout) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read()

    def health(self) -> dict:
        return json.loads(self.get("/api/health")[2])

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=10)


@pytest.fixture
def small_controller(tmp_path: Path) -> Iterator[ServerProcess]:
    srv = ServerProcess(tmp_path / "ckpt", extra=("--max-watchers", "4"))
    with Client(srv.address) as c:
        c.wait_ready()
        for i in range(6):
            c.create_study(f"s{i}", custom_config([5, 5], search_steps=100, seed=i))
    yield srv
    srv.close()


def watch_slots_free(address: str, most: int, within: float = 5.0) -> int:
    """How many WatchStudy streams another client gets now (at most `most`), waiting up
    to `within` s for streams the dashboard cancelled (the controller notices in 0.5 s)."""
    deadline = time.monotonic() + within
    with grpc.insecure_channel(address) as channel:
        stub = sanas_pb2_grpc.ControllerServiceStub(channel)
        calls: list[grpc.Call] = []
        try:
            while len(calls) < most:
                call = stub.WatchStudy(pb.WatchStudyRequest(study_id="s0"), timeout=30)
                try:
                    next(call)
                    calls.append(call)
                except grpc.RpcError as exc:
                    if exc.code() != grpc.StatusCode.RESOURCE_EXHAUSTED:
                        raise
                    if time.monotonic() > deadline:
                        break
                    time.sleep(0.1)
            return len(calls)
        finally:
            for call in calls:
                call.cancel()
            if calls:
                time.sleep(1.0)  # the controller notices the cancels within 0.5 s


class EventStreamClient:
    """An open /events request, read only to its status line."""

    def __init__(self, port: int, study: str) -> None:
        import socket

        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        request = f"GET /api/studies/{study}/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        self.sock.sendall(request.encode())
        self.status = int(self.sock.recv(200).split(b" ", 2)[1])

    def close(self) -> None:
        self.sock.close()


def test_opening_many_studies_once_leaves_the_controller_its_watch_slots(
    small_controller: ServerProcess,
) -> None:
    address = small_controller.address
    # Defaults: the dashboard's cap (32) is above this controller's 4 slots. Before,
    # studies 5 and 6 got 502 (RESOURCE_EXHAUSTED); now it gives back unviewed ones.
    dash = Dashboard(address)
    try:
        for i in range(6):
            status, _, body = dash.get(f"/api/studies/s{i}")
            assert status == 200, body
    finally:
        dash.close()
    # Its cap below the controller's: other clients always keep 2 slots; with no page
    # open it gives every slot back after --idle-seconds.
    dash = Dashboard(address, "--max-watches", "2", "--idle-seconds", "4")
    try:
        for i in range(6):
            assert dash.get(f"/api/studies/s{i}")[0] == 200
            assert dash.health()["watching"] <= 2
        # (More when the controller, still counting the first dashboard's streams for
        # a moment, made this one give a stream back.)
        assert watch_slots_free(address, 4, within=1.5) >= 2
        wait_until(lambda: dash.health()["watching"] == 0, 10)
        assert watch_slots_free(address, 4) == 4
        # Pages open on 2 studies take both slots: a third study is refused with
        # Retry-After until one of them closes (noticed at once, not at a keep-alive).
        pages = [EventStreamClient(dash.port, "s0"), EventStreamClient(dash.port, "s1")]
        assert [p.status for p in pages] == [200, 200]
        status, headers, body = dash.get("/api/studies/s2")
        assert status == 503 and int(headers["retry-after"]) > 0, body
        assert b"--max-watches" in body
        pages[0].close()
        wait_until(lambda: dash.health()["event_streams"] == 1, 5)
        assert dash.get("/api/studies/s2")[0] == 200
        pages[1].close()
    finally:
        dash.close()


def test_the_event_stream_cap_holds_when_pages_open_at_once(
    small_controller: ServerProcess,
) -> None:
    # Before: the cap was checked before an await and counted after it, so all of these
    # got 200.
    from sanas.dashboard.app import MAX_EVENT_STREAMS

    dash = Dashboard(small_controller.address)
    try:
        assert dash.get("/api/studies/s0")[0] == 200  # indexed: the streams wait on nothing
        extra = 40

        async def storm() -> list[int]:
            async def one() -> tuple[int, asyncio.StreamWriter]:
                reader, writer = await asyncio.open_connection("127.0.0.1", dash.port)
                writer.write(b"GET /api/studies/s0/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                await writer.drain()
                line = await asyncio.wait_for(reader.readline(), 30)
                return int(line.split()[1]), writer

            answers = await asyncio.gather(*(one() for _ in range(MAX_EVENT_STREAMS + extra)))
            for _, writer in answers:
                writer.close()
            return [status for status, _ in answers]

        statuses = asyncio.run(storm())
        assert statuses.count(200) == MAX_EVENT_STREAMS, statuses.count(200)
        assert statuses.count(503) == extra
        # Every slot comes back once the pages are gone.
        wait_until(lambda: dash.health()["event_streams"] == 0, 10)
        assert dash.health()["feeds"]["s0"]["subscribers"] == 0
    finally:
        dash.close()


def test_health_answers_while_csv_exports_run() -> None:
    # Before: four 50,000-row exports ran one after another on the event loop, and a
    # health request waited for at least a whole export (measured: 2.6 s).
    dash = Dashboard("", script=[sys.executable, str(ROOT / "tests" / "dashboard_fake.py")])
    try:
        export = "/api/studies/big/trials.csv"
        assert dash.get("/api/studies/big")[0] == 200
        started = time.perf_counter()
        status, _, body = dash.get(export)
        alone = time.perf_counter() - started  # one export with nothing else running
        assert status == 200 and body.count(b"\n") == 50_001
        done: list[float] = []

        def one() -> None:
            t0 = time.perf_counter()
            assert dash.get(export)[0] == 200
            done.append(time.perf_counter() - t0)

        exports = [threading.Thread(target=one) for _ in range(4)]
        for t in exports:
            t.start()
        latencies: list[float] = []
        while any(t.is_alive() for t in exports):
            t0 = time.perf_counter()
            assert dash.get("/api/health")[0] == 200
            latencies.append(time.perf_counter() - t0)
        for t in exports:
            t.join()
        assert len(done) == 4
        ratio = max(latencies) / alone
        print(f"one export alone {alone:.2f} s; health during 4: {len(latencies)} answers, "
              f"median {statistics.median(latencies) * 1000:.0f} ms, "
              f"max {max(latencies) * 1000:.0f} ms ({ratio:.2f} of one export)")  # fmt: skip
        # Health is answered while the exports run, each time in a fraction of what one
        # export takes (on the event loop it would wait for whole exports: ratio >= 1).
        assert len(latencies) >= 4, latencies
        assert ratio < 0.5, (alone, latencies)
    finally:
        dash.close()


def test_the_cli_refuses_nonsense_limits() -> None:
    for flag, value, message in [
        ("--max-watches", "0", "--max-watches 0: must be at least 1"),
        ("--idle-seconds", "-1", "--idle-seconds -1.0: must be above 0"),
    ]:
        done = subprocess.run(
            [sys.executable, "-m", "sanas.cli", "dashboard", "--port", "0", flag, value],
            capture_output=True,
            text=True,
            timeout=30,
            env=CHECKOUT_ENV,
        )
        assert done.returncode == 2 and message in done.stderr, done.stderr


def test_prefetch_fills_only_half_the_slots_once_per_study() -> None:
    fake = FakeClient(studies(6))
    hub = hub_module.Hub(lambda: fake, max_watches=4, idle_seconds=3600)  # type: ignore[arg-type, return-value]
    try:
        for i in range(6):
            hub.prefetch(f"s{i}")
        assert sorted(hub.feeds()) == ["s0", "s1"]  # half of 4: pages keep the rest
        wait_until(lambda: all(f.ready.is_set() for f in hub.feeds().values()), 5)
        assert hub.reap(time.monotonic() + 7200) == ["s0", "s1"]
        hub.prefetch("s0")  # not again: nobody opened it
        assert not hub.feeds() and fake.open_streams() == 0
    finally:
        hub.close()
