"""Controller speed with durable checkpoints on (fsync per group commit).

1. Search steps per second and step latency (one CompleteTrial with suggest_next = one
   search step) for 1, 4 and 16 concurrent trainer processes against a `sanas-server`
   process on loopback.
2. Time and journal bytes per result when a study holds 1,000 and 100,000 trials
   (controller + file storage in-process, no gRPC): must stay flat.

Bounded: every loop has a step count and a time limit. Loopback only.
usage: python bench/controller_speed.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVER = Path(sys.executable).parent / "sanas-server"

WORKER = r"""
import json, sys, time
from sanas import Client, SearchFinished
address, study, seconds, max_steps = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
lat = []
with Client(address, timeout=30) as c:
    c.wait_ready()
    trial = c.suggest_trial(study)
    end = time.monotonic() + seconds
    while time.monotonic() < end and len(lat) < max_steps:
        t0 = time.perf_counter()
        r = c.complete_trial(study, trial.trial_id, float(sum(trial.tokens)), suggest_next=True)
        lat.append(time.perf_counter() - t0)
        if not r.HasField("next_trial"):
            break
        trial = r.next_trial
print(json.dumps(lat))
"""


def start_server(folder: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [str(SERVER), "--port", "0", "--checkpoint-dir", folder, "--log-level", "WARNING"],
        stdout=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline()
    return proc, line.rsplit(" ", 1)[1].strip()


def throughput(clients: list[int], seconds: float) -> list[dict]:
    from sanas import Client
    from sanas.study_config import study_config

    rows = []
    with tempfile.TemporaryDirectory() as folder:
        proc, address = start_server(folder)
        try:
            with Client(address) as c:
                c.wait_ready()
                for n in clients:
                    study = f"speed-{n}"
                    config = study_config(
                        [("custom", {"range_table": [20] * 12})],
                        search_steps=10**7,
                        seed=n,
                        policy="annealer",  # the service's own cost, not a model's
                    )
                    c.create_study(study, config)
                    workers = [
                        subprocess.Popen(
                            [sys.executable, "-c", WORKER, address, study, str(seconds), "200000"],
                            stdout=subprocess.PIPE,
                            text=True,
                        )
                        for _ in range(n)
                    ]
                    lat = []
                    for w in workers:
                        out, _ = w.communicate(timeout=seconds + 60)
                        lat += json.loads(out)
                    # Workers start at slightly different times: rate = steps / window.
                    rate = len(lat) / seconds
                    lat.sort()
                    rows.append(
                        {
                            "clients": n,
                            "steps": len(lat),
                            "steps_per_s": rate,
                            "p50_ms": 1e3 * lat[len(lat) // 2],
                            "p99_ms": 1e3 * lat[int(len(lat) * 0.99)],
                        }
                    )
        finally:
            proc.terminate()
            proc.wait(30)
    return rows


def scale(sizes: list[int]) -> list[dict]:
    """Time and checkpoint bytes per result over the second half of each size, so the
    periodic snapshots are amortized in the byte count (the median time ignores them;
    the mean includes them)."""
    from sanas.spaces import SpaceConfig
    from sanas_server.controller import Controller
    from sanas_server.spec import StudyRequest
    from sanas_server.storage import FileStorage

    rows = []
    with tempfile.TemporaryDirectory() as folder:
        storage = FileStorage(folder)
        controller = Controller(storage)
        request = StudyRequest(
            (SpaceConfig("custom", range_table=(20,) * 12),),
            search_steps=max(sizes),
            seed=1,
            policy="annealer",
        )
        controller.create_study("scale", request)
        done = 0
        for size in sizes:
            times = []
            bytes_before = 0
            while done < size:
                if done == size // 2:
                    bytes_before = storage.bytes_written
                t0 = time.perf_counter()
                t = controller.suggest_trial("scale", "bench")
                controller.complete_trial("scale", t.trial_id, float(sum(t.tokens)), False)
                dt = time.perf_counter() - t0
                done += 1
                if done > size // 2:
                    times.append(dt)
            rows.append(
                {
                    "trials": size,
                    "median_ms_per_result": 1e3 * statistics.median(times),
                    "mean_ms_per_result": 1e3 * statistics.fmean(times),
                    "bytes_per_result": (storage.bytes_written - bytes_before) / len(times),
                }
            )
        controller.close()
        t0 = time.perf_counter()
        Controller(FileStorage(folder)).close()
        restart = time.perf_counter() - t0
    return [*rows, {"restart_s_at_trials": max(sizes), "restart_s": restart}]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a small smoke run")
    args = parser.parse_args()
    clients, seconds = ([1, 2], 1.0) if args.quick else ([1, 4, 16], 8.0)
    sizes = [200, 2000] if args.quick else [1000, 10_000, 100_000]
    print("== search steps/s, durable checkpoints on (CompleteTrial with suggest_next)")
    print(f"{'clients':>8} {'steps':>8} {'steps/s':>9} {'p50 ms':>8} {'p99 ms':>8}")
    for r in throughput(clients, seconds):
        print(
            f"{r['clients']:>8} {r['steps']:>8} {r['steps_per_s']:>9.0f} "
            f"{r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f}"
        )
    print("== cost per result as the study grows (suggest + complete, fsync each; over the")
    print("   second half of each size, snapshots included in bytes and mean)")
    rows = scale(sizes)
    for r in rows[:-1]:
        print(
            f"trials={r['trials']:>7}  median {r['median_ms_per_result']:.3f} ms/result  "
            f"mean {r['mean_ms_per_result']:.3f} ms  "
            f"{r['bytes_per_result']:.0f} checkpoint bytes/result"
        )
    print(
        f"restart (replay) of a {rows[-1]['restart_s_at_trials']}-trial study: "
        f"{rows[-1]['restart_s']:.2f} s"
    )


if __name__ == "__main__":
    main()
