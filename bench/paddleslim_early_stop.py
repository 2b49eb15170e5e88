"""PaddleSlim 2.6.0's MedianStop as a peer in bench/early_stopping.py. Runs inside
PaddleSlim's own environment (created by early_stopping.py --with-paddleslim; paddleslim is
never a dependency of sanas) and prints the rows as JSON.

As in PaddleSlim's design, each of the 8 trainers has its own MedianStop: trainer 0's
starts the history manager (on 127.0.0.1, port + 1 of a free port) and the others connect
to it; each names its experiments `client_name + step` with its own trial counter. The
annealer is sanas's, so only the stopping rule differs; a trial judged BAD is completed
with its last value, as a PaddleSlim script's reward() after `break` does. Its defects are
measured as they are: an exception from get_status is counted and ends that run.
"""

from __future__ import annotations

import json
import signal
import socket
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "server"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "python_client"))
import early_stopping as es
from paddleslim.nas.early_stop import MedianStop

from sanas_server.stopping import EarlyStopping

NAME = "PaddleSlim 2.6.0 MedianStop (from epoch 2)"


class Strategy:
    """The attributes of a SANAS that MedianStop reads."""

    def __init__(self, port: int, is_server: bool, name: str) -> None:
        self._server_ip = "127.0.0.1"
        self._server_port = port
        self._is_server = is_server
        self._client_name = name


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Hung(Exception):
    """A run that did not finish within RUN_SECONDS (a search here takes about a second)."""


RUN_SECONDS = 60


def one_run(budget: int, seed: int) -> tuple[dict | None, str | None]:
    port = free_port() - 1  # MedianStop listens on the strategy's port + 1
    stops = [MedianStop(Strategy(port, True, "t0"), start_epoch=2)]
    stops += [MedianStop(Strategy(port, False, f"t{i}"), start_epoch=2) for i in range(1, 8)]
    steps: dict[int, int] = {}  # trial id -> its trainer's trial counter
    counters = [0] * es.TRAINERS
    errors: list[str] = []
    calls = [0]

    def judge(trainer: int, trial_id: int, epoch: int, value: float, epochs: int) -> bool:
        if trial_id not in steps:
            steps[trial_id] = counters[trainer]
            counters[trainer] += 1
        calls[0] += 1
        try:
            return stops[trainer].get_status(steps[trial_id], value, epochs) == "BAD"
        except Hung:
            raise
        except Exception as exc:  # PaddleSlim's own failure, measured: see module doc
            errors.append(f"{type(exc).__name__}: {exc}")
            return False

    def expire(signum: int, frame: object) -> None:
        raise Hung(
            f"hung: get_status call {calls[0]} (of about {budget * 8}) did not return in "
            f"{RUN_SECONDS} s, blocked on MedianStop's manager"
        )

    # The alarm goes to the main thread itself: a process signal may land on one of
    # Paddle's threads and leave the main thread blocked in its read.
    previous = signal.signal(signal.SIGALRM, expire)
    done = threading.Event()
    main_thread = threading.main_thread().ident
    assert main_thread is not None

    def watchdog() -> None:
        while not done.wait(RUN_SECONDS):
            signal.pthread_kill(main_thread, signal.SIGALRM)

    threading.Thread(target=watchdog, daemon=True).start()
    try:
        result = es.simulate(EarlyStopping(), budget, seed, judge=judge)
    except Hung as exc:
        return None, str(exc)
    finally:
        done.set()
        signal.signal(signal.SIGALRM, previous)
        stops[0]._manager._process.terminate()  # shutdown() can block on a hung manager
    return result, (errors[0] if errors else None)


def main() -> None:
    seeds, budgets = int(sys.argv[1]), [int(b) for b in sys.argv[2].split(",")]
    rows, notes = [], []
    for budget in budgets:
        runs, failures, hangs = [], [], []
        for seed in range(seeds):
            result, error = one_run(budget, seed)
            if result is None:
                hangs.append(error)
                continue
            runs.append(result)
            if error:
                failures.append(error)
        if runs:
            rows.append(es.row(NAME, budget, runs))
        if hangs:
            notes.append(
                f"\n{NAME}, {budget} trials: {len(hangs)} of {seeds} runs hung and are not "
                f"in the table ({hangs[0]})"
            )
        if failures:
            notes.append(
                f"\n{NAME}, {budget} trials: get_status raised in {len(failures)} "
                f"of {seeds} runs ({failures[0]})"
            )
    print(json.dumps({"rows": rows, "notes": notes}))


if __name__ == "__main__":
    main()
