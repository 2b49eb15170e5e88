"""How fast the dashboard serves a 100,000-trial study (prints medians; asserts nothing).

The study is built with the server's own code (sanas_server.study.Study and its
FileStorage) in a temporary checkpoint directory, since 200,000 gRPC calls would take
minutes here; then a real `sanas-server` loads that checkpoint and a real `sanas dashboard`
process serves it over gRPC. Measured over HTTP from this process:

- open: what the study page fetches before it can draw (the page, app.js, the study
  summary, the chart series), cold (first open: ListTrials of every trial into the
  index) and warm (the index held; what every later tab or reload costs);
- table: one page of 50 trials, per sort order and with filters.

    python bench/dashboard_scale.py [--trials 100000]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "python_client"), str(ROOT / "server"), str(ROOT / "tests")]

from helpers import ServerProcess  # noqa: E402

from sanas.client import study_config  # noqa: E402
from sanas_server.service import request_from_pb  # noqa: E402
from sanas_server.storage import FileStorage  # noqa: E402
from sanas_server.study import Study, StudySpec  # noqa: E402

ENV = {**os.environ, "PYTHONPATH": f"{ROOT / 'python_client'}{os.pathsep}{ROOT / 'server'}"}


def build(checkpoint: Path, study_id: str, trials: int) -> float:
    start = time.perf_counter()
    config = study_config([("MobileNetV2Space", {})], search_steps=trials, seed=7)
    request = request_from_pb(config)
    study = Study(study_id, request, StudySpec.resolve(request), time.time() - trials)
    events = []
    rng = random.Random(1)
    clients = [f"trainer-{i}" for i in range(8)]
    for i in range(trials):
        now = time.time() - trials + i
        trial, event = study.suggest(clients[i % len(clients)], now)
        events.append(event)
        if i < trials - 4:  # a few still running
            _, event = study.complete(trial.trial_id, rng.random(), rng.random() < 0.02, now)
            events.append(event)
    storage = FileStorage(checkpoint)
    storage.create(study_id, study.header(), events)
    storage.close()
    return time.perf_counter() - start


def get(url: str) -> float:
    start = time.perf_counter()
    with urllib.request.urlopen(url, timeout=120) as r:
        r.read()
        assert r.status == 200, url
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = Path(tmp) / "ckpt"
        print(f"building a {args.trials:,}-trial study with the server's own Study code ...")
        print(f"  built in {build(ckpt, 'big', args.trials):.1f} s")
        start = time.perf_counter()
        server = ServerProcess(ckpt)
        print(f"  sanas-server loaded it in {time.perf_counter() - start:.1f} s")
        dash = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "sanas.cli",
                "--address",
                server.address,
                "dashboard",
                "--port=0",
            ],
            stdout=subprocess.PIPE,
            text=True,
            env=ENV,
        )
        try:
            assert dash.stdout is not None
            url = dash.stdout.readline().split()[3].rstrip("/")
            base = f"{url}/api/studies/big"
            opening = [f"{url}/study/big", f"{url}/static/app.js", base, f"{base}/series"]
            cold = sum(get(u) for u in opening)
            print(f"open, cold (ListTrials of {args.trials:,} into the index): {cold:.2f} s")
            warm = []
            for _ in range(args.repeat):
                get(f"{url}/api/health")  # not timed; GetStudy's 0.5 s cache expires
                time.sleep(0.55)
                warm.append(sum(get(u) for u in opening))
            print(f"open, warm (page + app.js + summary + series), median: "
                  f"{statistics.median(warm) * 1000:.0f} ms")  # fmt: skip
            queries = {
                "by trial id, first page": "limit=50",
                "by trial id, desc, page 1000": "limit=50&desc=1&offset=50000",
                "by reward, desc": "sort=reward&desc=1&limit=50",
                "by time": "sort=time&limit=50&offset=20000",
                "by trainer": "sort=trainer&limit=50",
                "state=stopped,infeasible": "state=infeasible,stopped&limit=50",
                "trainer~'trainer-3' reward>=0.9": "trainer=trainer-3&reward_min=0.9&limit=50",
            }
            for name, q in queries.items():
                first = get(f"{base}/trials?{q}")
                times = [get(f"{base}/trials?{q}") for _ in range(args.repeat)]
                print(f"table page {name:<34} first {first * 1000:6.0f} ms, "
                      f"median {statistics.median(times) * 1000:5.1f} ms")  # fmt: skip
            # After a change the sort caches are rebuilt: what a page costs then.
            csv_time = get(f"{base}/trials.csv?state=succeeded")
            print(f"CSV export of every succeeded trial: {csv_time:.2f} s")
        finally:
            dash.kill()
            server.close()


if __name__ == "__main__":
    main()
