"""How the dashboard copes with big studies and many open ones (prints figures; asserts
nothing).

The studies are built with the server's own code (sanas_server.study.Study and its
FileStorage) in a temporary checkpoint directory, since millions of gRPC calls would take
minutes here; then a real `sanas-server` loads that checkpoint and a real `sanas dashboard`
process serves it over gRPC. Measured over HTTP from this process:

- open: what the study page fetches before it can draw (the page, app.js, the study
  summary, the chart series) for a `--trials`-trial study, cold (first open: ListTrials of
  every trial into the index) and warm (the index held; what every later tab costs);
- table: one page of 50 trials, per sort order and with filters; CSV export;
- health under exports: /api/health latency alone, then while 4 CSV exports of about
  half the study run at once;
- curves: a study of `--curve-trials` trials with `--curve-points` progress reports each
  (10,000 is the controller's maximum per trial): /series size and time;
- many studies: `--open-studies` active studies opened once each (no page left open):
  their HTTP status, then how many WatchStudy streams the controller still grants to
  another client, at once and after `--idle-wait` seconds;
- the dashboard's resident memory after each part, and its peak (VmHWM).

    python bench/dashboard_scale.py [--trials 100000] [--curve-trials 300]
        [--curve-points 10000] [--open-studies 66] [--idle-wait 0]
        [--dashboard-arg=--idle-seconds=5 ...]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "python_client"), str(ROOT / "server"), str(ROOT / "tests")]

import grpc  # noqa: E402
from helpers import ServerProcess  # noqa: E402

from sanas.study_config import study_config  # noqa: E402
from sanas.v1 import sanas_pb2 as pb  # noqa: E402
from sanas.v1 import sanas_pb2_grpc  # noqa: E402
from sanas_server.journal import measurements_from_json  # noqa: E402
from sanas_server.service import request_from_pb  # noqa: E402
from sanas_server.spec import StudySpec  # noqa: E402
from sanas_server.storage import FileStorage  # noqa: E402
from sanas_server.study import Study  # noqa: E402

ENV = {**os.environ, "PYTHONPATH": f"{ROOT / 'python_client'}{os.pathsep}{ROOT / 'server'}"}


def new_study(study_id: str, trials: int) -> Study:
    config = study_config([("MobileNetV2Space", {})], search_steps=trials, seed=7)
    request = request_from_pb(config)
    return Study(study_id, request, StudySpec.resolve(request), time.time() - trials)


def build(storage: FileStorage, study_id: str, trials: int, running: int = 4) -> float:
    """`trials` trials by 8 trainers, 2% infeasible, the last `running` still running."""
    start = time.perf_counter()
    study = new_study(study_id, trials)
    events = []
    rng = random.Random(1)
    clients = [f"trainer-{i}" for i in range(8)]
    for i in range(trials):
        now = time.time() - trials + i
        trial, event = study.suggest(clients[i % len(clients)], now)
        events.append(event)
        if i < trials - running:
            _, event = study.complete(trial.trial_id, rng.random(), rng.random() < 0.02, now)
            events.append(event)
    storage.create(study_id, study.header(), events)
    return time.perf_counter() - start


def build_curves(storage: FileStorage, study_id: str, trials: int, points: int) -> float:
    """`trials` finished trials, each with `points` progress reports, stored as the
    server's own snapshot (replaying that many progress events one by one would take
    minutes); the last 4 trials still running, with their curves so far."""
    start = time.perf_counter()
    study = new_study(study_id, trials + 4)
    rng = random.Random(2)
    for i in range(trials + 4):
        now = time.time() - trials + i
        trial, _ = study.suggest(f"trainer-{i % 8}", now)
        if i < trials:
            study.complete(trial.trial_id, rng.random(), False, now)
        level = rng.random()
        curve = measurements_from_json(
            [
                [step, level * (1 - 0.9 ** (step / 50)) + rng.gauss(0, 0.01), now]
                for step in range(1, points + 1)
            ]
        )
        study.trials[trial.trial_id] = dataclasses.replace(
            study.trials[trial.trial_id], measurements=curve, max_step=points
        )
    storage.create(study_id, study.header(), [study.snapshot_event()])
    return time.perf_counter() - start


def get(url: str) -> tuple[float, int, int]:
    """Seconds, HTTP status, body bytes."""
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=300) as r:
            size = len(r.read())
            status = r.status
    except urllib.error.HTTPError as exc:
        size, status = len(exc.read()), exc.code
    return time.perf_counter() - start, status, size


def timed(url: str) -> float:
    seconds, status, _ = get(url)
    assert status == 200, (url, status)
    return seconds


def memory(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak) of a process, in MiB (Linux)."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) // 1024
    return out


def free_watch_slots(address: str, most: int) -> int:
    """How many WatchStudy streams the controller grants another client now (at most
    `most`); every stream opened is cancelled again."""
    calls = []
    with grpc.insecure_channel(address) as channel:
        stub = sanas_pb2_grpc.ControllerServiceStub(channel)
        try:
            for _ in range(most):
                call = stub.WatchStudy(pb.WatchStudyRequest(study_id="open-0"), timeout=30)
                try:
                    next(call)
                except grpc.RpcError as exc:
                    if exc.code() == grpc.StatusCode.RESOURCE_EXHAUSTED:
                        break
                    raise
                calls.append(call)
            return len(calls)
        finally:
            for call in calls:
                call.cancel()


def health_under_exports(url: str, export: str, exports: int, repeat: int) -> None:
    health = f"{url}/api/health"
    idle = [timed(health) for _ in range(max(repeat, 10))]
    alone = timed(export)  # one export with nothing else running
    during: list[float] = []
    workers = [threading.Thread(target=timed, args=(export,)) for _ in range(exports)]
    start = time.perf_counter()
    for w in workers:
        w.start()
    while any(w.is_alive() for w in workers):
        during.append(timed(health))
    wall = time.perf_counter() - start
    for w in workers:
        w.join()
    size = get(export)[2]
    print(f"health alone: median {statistics.median(idle) * 1000:.1f} ms; one CSV export "
          f"({size / 1e6:.1f} MB) alone: {alone:.2f} s")  # fmt: skip
    print(f"health during {exports} concurrent CSV exports ({wall:.2f} s in all): "
          f"{len(during)} answered, median {statistics.median(during) * 1000:.1f} ms, "
          f"max {max(during) * 1000:.0f} ms = {max(during) / alone:.2f} x one export")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=100_000, help="0: skip that part")
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--curve-trials", type=int, default=300, help="0: skip that part")
    parser.add_argument("--curve-points", type=int, default=10_000)
    parser.add_argument("--open-studies", type=int, default=66, help="0: skip that part")
    parser.add_argument("--idle-wait", type=float, default=0.0)
    parser.add_argument("--max-watchers", type=int, default=64, help="the controller's")
    parser.add_argument("--dashboard-arg", action="append", default=[])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = Path(tmp) / "ckpt"
        storage = FileStorage(ckpt)
        if args.trials:
            print(f"building a {args.trials:,}-trial study with the server's own Study code ...")
            print(f"  built in {build(storage, 'big', args.trials):.1f} s")
        if args.curve_trials:
            seconds = build_curves(storage, "curves", args.curve_trials, args.curve_points)
            print(f"built a study of {args.curve_trials} trials x {args.curve_points:,} "
                  f"progress reports in {seconds:.1f} s")  # fmt: skip
        for i in range(args.open_studies):
            build(storage, f"open-{i}", 3, running=1)
        storage.close()
        start = time.perf_counter()
        server = ServerProcess(ckpt, extra=("--max-watchers", str(args.max_watchers)))
        print(f"  sanas-server loaded it in {time.perf_counter() - start:.1f} s")
        try:
            # Each part with a dashboard process of its own, so its memory is its own.
            if args.trials:
                with dashboard(server.address, args.dashboard_arg) as (url, pid):
                    big(url, args.trials, args.repeat)
                    print(f"dashboard memory with the {args.trials:,}-trial study: "
                          f"{memory(pid)} MiB (VmHWM: peak)")  # fmt: skip
            if args.curve_trials or args.open_studies:
                with dashboard(server.address, args.dashboard_arg) as (url, pid):
                    print(f"dashboard memory at start: {memory(pid)} MiB")
                    if args.curve_trials:
                        curves(url, args)
                        print(f"dashboard memory after the curves study: {memory(pid)} MiB")
                    if args.open_studies:
                        many(url, server.address, args)
                    print(f"dashboard memory at the end: {memory(pid)} MiB (VmHWM: peak)")
        finally:
            server.close()


@contextlib.contextmanager
def dashboard(address: str, extra: list[str]) -> Iterator[tuple[str, int]]:
    """A `sanas dashboard` process: (its URL, its pid)."""
    dash = subprocess.Popen(
        [sys.executable, "-m", "sanas.cli", "--address", address, "dashboard", "--port=0", *extra],
        stdout=subprocess.PIPE,
        text=True,
        # As the chart runs it (its worker threads' malloc arenas otherwise add ~35 MB);
        # MALLOC_ARENA_MAX=0 in the environment measures glibc's default instead.
        env={"MALLOC_ARENA_MAX": "2", **ENV},
    )
    try:
        assert dash.stdout is not None
        yield dash.stdout.readline().split()[3].rstrip("/"), dash.pid
    finally:
        dash.kill()
        dash.wait()


def curves(url: str, args: argparse.Namespace) -> None:
    base = f"{url}/api/studies/curves"
    start = time.perf_counter()
    while True:  # 504 while the controller is still listing them (the page retries too)
        _, status, size = get(f"{base}/series")
        if status != 504:
            break
    cold = time.perf_counter() - start
    assert status == 200, status
    warm = [timed(f"{base}/series") for _ in range(max(3, args.repeat // 3))]
    print(f"/series of {args.curve_trials} curves x {args.curve_points:,} points: "
          f"{size / 2**20:.2f} MiB, first {cold:.2f} s (ListTrials included), "
          f"cached median {statistics.median(warm) * 1000:.0f} ms")  # fmt: skip


def big(url: str, trials: int, repeat: int) -> None:
    base = f"{url}/api/studies/big"
    opening = [f"{url}/study/big", f"{url}/static/app.js", base, f"{base}/series"]
    cold = sum(timed(u) for u in opening)
    print(f"open, cold (ListTrials of {trials:,} into the index): {cold:.2f} s")
    warm = []
    for _ in range(repeat):
        timed(f"{url}/api/health")  # not timed; GetStudy's 0.5 s cache expires
        time.sleep(0.55)
        warm.append(sum(timed(u) for u in opening))
    print(f"open, warm (page + app.js + summary + series), median: "
          f"{statistics.median(warm) * 1000:.0f} ms")  # fmt: skip
    queries = {
        "by trial id, first page": "limit=50",
        "by trial id, desc, page 1000": f"limit=50&desc=1&offset={trials // 2}",
        "by reward, desc": "sort=reward&desc=1&limit=50",
        "by time": f"sort=time&limit=50&offset={trials // 5}",
        "by trainer": "sort=trainer&limit=50",
        "state=stopped,infeasible": "state=infeasible,stopped&limit=50",
        "trainer~'trainer-3' reward>=0.9": "trainer=trainer-3&reward_min=0.9&limit=50",
    }
    for name, q in queries.items():
        first = timed(f"{base}/trials?{q}")
        times = [timed(f"{base}/trials?{q}") for _ in range(repeat)]
        print(f"table page {name:<34} first {first * 1000:6.0f} ms, "
              f"median {statistics.median(times) * 1000:5.1f} ms")  # fmt: skip
    csv_time = timed(f"{base}/trials.csv?state=succeeded")
    print(f"CSV export of every succeeded trial: {csv_time:.2f} s")
    # About half the trials: rewards are uniform in [0, 1).
    health_under_exports(url, f"{base}/trials.csv?reward_max=0.5", 4, repeat)


def many(url: str, address: str, args: argparse.Namespace) -> None:
    statuses: dict[int, int] = {}
    for i in range(args.open_studies):
        _, status, _ = get(f"{url}/api/studies/open-{i}")
        statuses[status] = statuses.get(status, 0) + 1
    print(f"opened {args.open_studies} active studies once each: HTTP statuses {statuses}")
    time.sleep(1.0)  # the controller notices cancelled streams within 0.5 s
    print(f"  WatchStudy streams the controller (--max-watchers {args.max_watchers}) still "
          f"grants another client: {free_watch_slots(address, args.max_watchers)}")  # fmt: skip
    if args.idle_wait:
        time.sleep(args.idle_wait)
        print(f"  ... {args.idle_wait:g} s later, with no page open: "
              f"{free_watch_slots(address, args.max_watchers)}")  # fmt: skip


if __name__ == "__main__":
    main()
