"""Load test: many concurrent trainers against one `sanas-server` process on loopback,
with durable checkpoints. Reports steps/s, p50/p99 step latency, and the server's
resident memory after warm-up and at the end. Bounded in steps and time.

usage: python bench/load.py [--trainers 64] [--steps 20000] [--processes 4]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

SERVER = Path(sys.executable).parent / "sanas-server"

WORKER = r"""
import json, sys, threading, time
from sanas import Client, SearchFinished
address, study, threads, limit = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
lat, errors, lock = [], [], threading.Lock()
def trainer(n):
    mine = []
    try:
        with Client(address, client_id=f"{sys.argv[5]}-{n}", timeout=30) as c:
            trial = c.suggest_trial(study)
            end = time.monotonic() + limit
            while time.monotonic() < end:
                t0 = time.perf_counter()
                reward = float(sum(trial.tokens))
                r = c.complete_trial(study, trial.trial_id, reward, suggest_next=True)
                mine.append(time.perf_counter() - t0)
                if not r.HasField("next_trial"):
                    break
                trial = r.next_trial
    except SearchFinished:
        pass
    except Exception as exc:
        with lock:
            errors.append(repr(exc))
    with lock:
        lat.extend(mine)
ts = [threading.Thread(target=trainer, args=(i,)) for i in range(threads)]
for t in ts: t.start()
for t in ts: t.join()
print(json.dumps({"lat": lat, "errors": errors}))
"""


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def run(
    trainers: int,
    steps: int,
    processes: int,
    time_limit: float = 300.0,
    policy: str | None = None,
) -> dict:
    """`policy`: the study's proposal policy (None: the controller's default)."""
    from sanas import Client
    from sanas.study_config import study_config

    with tempfile.TemporaryDirectory() as folder:
        server = subprocess.Popen(
            [
                str(SERVER),
                "--port",
                "0",
                "--checkpoint-dir",
                folder,
                "--log-level",
                "WARNING",
                "--max-workers",
                str(max(64, trainers + 8)),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            address = server.stdout.readline().rsplit(" ", 1)[1].strip()
            with Client(address) as c:
                c.wait_ready()
                c.create_study(
                    "load",
                    study_config(
                        [("custom", {"range_table": [20] * 12})],
                        search_steps=steps,
                        seed=1,
                        policy=policy,
                    ),
                )
                samples: list[tuple[int, int]] = []  # (trials issued, server RSS)
                stop = threading.Event()

                def sample() -> None:
                    with Client(address) as probe:
                        while not stop.wait(0.25):
                            issued = steps - probe.get_study("load").budget_remaining
                            samples.append((issued, rss_bytes(server.pid)))

                sampler = threading.Thread(target=sample)
                sampler.start()
                per = [trainers // processes + (i < trainers % processes) for i in range(processes)]
                t0 = time.monotonic()
                workers = [
                    subprocess.Popen(
                        [
                            sys.executable,
                            "-c",
                            WORKER,
                            address,
                            "load",
                            str(n),
                            str(time_limit),
                            f"p{i}",
                        ],
                        stdout=subprocess.PIPE,
                        text=True,
                    )
                    for i, n in enumerate(per)
                ]
                lat, errors = [], []
                for w in workers:
                    out, _ = w.communicate(timeout=time_limit + 120)
                    report = json.loads(out)
                    lat += report["lat"]
                    errors += report["errors"]
                elapsed = time.monotonic() - t0
                stop.set()
                sampler.join()
                study = c.get_study("load")
        finally:
            server.terminate()
            server.wait(30)
    lat.sort()
    warm = next((rss for issued, rss in samples if issued >= steps // 10), samples[0][1])
    end = samples[-1][1]
    return {
        "trainers": trainers,
        "policy": study.config.policy,
        "steps": len(lat),
        "succeeded": study.trial_counts.succeeded,
        "errors": errors,
        "steps_per_s": len(lat) / elapsed,
        "p50_ms": 1e3 * lat[len(lat) // 2],
        "p99_ms": 1e3 * lat[int(len(lat) * 0.99)],
        "rss_warm_mb": warm / 2**20,
        "rss_end_mb": end / 2**20,
        "rss_bytes_per_trial_after_warmup": (end - warm) / max(1, steps - steps // 10),
    }


def main() -> None:
    from sanas.v1 import sanas_pb2 as pb

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trainers", type=int, default=64)
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument(
        "--policy",
        choices=("annealer", "model-guided"),
        help="the study's proposal policy (default: the controller's default)",
    )
    args = parser.parse_args()
    r = run(args.trainers, args.steps, args.processes, policy=args.policy)
    print(
        f"{r['trainers']} trainers, policy {pb.ProposalPolicy.Name(r['policy'])}, "
        f"{r['steps']} steps "
        f"({r['succeeded']} results), "
        f"{len(r['errors'])} errors"
    )
    print(f"{r['steps_per_s']:.0f} steps/s, p50 {r['p50_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms")
    print(
        f"server RSS {r['rss_warm_mb']:.1f} MB after warm-up (10% of steps), "
        f"{r['rss_end_mb']:.1f} MB at the end: "
        f"{r['rss_bytes_per_trial_after_warmup']:.0f} bytes per trial"
    )


if __name__ == "__main__":
    main()
