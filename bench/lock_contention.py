"""Does file work on some studies hold up calls on the others?

GetStudy latency on one study of a `sanas-server` process (file checkpoints, fsync), first
alone, then while 8 client threads create and delete studies of their own (mkdir, fsync,
rename, rmtree). Before the controller lock stopped covering file I/O, GetStudy p50 went
from 2 ms to 60 ms here. Prints medians and the ratio measured in the same run.

Bounded: every loop has a call count and a time limit. Loopback only.
usage: python bench/lock_contention.py [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from sanas import Client
from sanas.study_config import study_config

SERVER = Path(sys.executable).parent / "sanas-server"
CONFIG = study_config(
    [("custom", {"range_table": [5, 5, 5, 5]})], search_steps=50, policy="annealer"
)


def get_latencies(address: str, calls: int, seconds: float) -> list[float]:
    out = []
    end = time.monotonic() + seconds
    with Client(address, timeout=30) as c:
        while len(out) < calls and time.monotonic() < end:
            started = time.perf_counter()
            c.get_study("watched")
            out.append(time.perf_counter() - started)
    return out


def churn(address: str, n: int, stop: threading.Event, counts: list[int]) -> None:
    with Client(address, timeout=30) as c:
        for i in range(10_000):  # bounded; stopped by the event long before
            if stop.is_set():
                return
            study_id = f"churn-{n}-{i}"
            c.create_study(study_id, CONFIG)
            # A purge, as before soft deletes (what the figures in the docs measured).
            c.delete_study(study_id, purge=True)
            counts[n] += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a small smoke run")
    args = parser.parse_args()
    calls, seconds = (100, 5.0) if args.quick else (1000, 30.0)
    with tempfile.TemporaryDirectory() as folder:
        proc = subprocess.Popen(
            [str(SERVER), "--port", "0", "--checkpoint-dir", folder, "--log-level", "WARNING"],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert proc.stdout is not None
            address = proc.stdout.readline().rsplit(" ", 1)[1].strip()
            with Client(address, timeout=30) as c:
                c.wait_ready()
                c.create_study("watched", CONFIG)
            alone = get_latencies(address, calls, seconds)
            stop, counts = threading.Event(), [0] * 8
            workers = [
                threading.Thread(target=churn, args=(address, n, stop, counts)) for n in range(8)
            ]
            for w in workers:
                w.start()
            time.sleep(0.5)
            busy = get_latencies(address, calls, seconds)
            stop.set()
            for w in workers:
                w.join(60)
        finally:
            proc.terminate()
            proc.wait(30)
    p50_alone, p50_busy = statistics.median(alone), statistics.median(busy)
    print("| GetStudy | calls | p50 ms | p99 ms |")
    print("|---|---|---|---|")
    for name, lat in (("alone", alone), ("8 clients creating + deleting", busy)):
        p99 = sorted(lat)[int(0.99 * (len(lat) - 1))]
        print(f"| {name} | {len(lat)} | {1e3 * statistics.median(lat):.2f} | {1e3 * p99:.2f} |")
    print(f"\ncreate+delete pairs done meanwhile: {sum(counts)}")
    print(f"p50 ratio busy/alone: {p50_busy / p50_alone:.1f}x")


if __name__ == "__main__":
    main()
