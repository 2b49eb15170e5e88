"""Trainer groups: the ranks of one `paddle.distributed` data-parallel job that train one
candidate together. Rank 0 alone talks to the controller; every call's answer (or error)
is broadcast to the other ranks, so all of them build the same network, stop at the same
epoch and see the same SearchFinished.

Paddle is imported only when a group is made, so `import sanas` stays paddle-free.
"""

from __future__ import annotations

import concurrent.futures
import sys
import threading
from collections.abc import Callable
from typing import Any, TypeVar

R = TypeVar("R")

# While rank 0 waits on the controller (a retry through a restart can take minutes),
# it tells the other ranks "still waiting" this often, so none of them sits in one
# collective call long enough for a transport timeout.
WAIT_TICK = 10.0
_WAITING = "sanas-waiting"
SAME_CALLS = (
    "Every rank must make the same SANAS/Client calls in the same order; to print on rank "
    "0 only, call current_info() on every rank and print its result on rank 0"
)


class TrainerGroup:
    """The ranks of an initialised `paddle.distributed` group (`init_parallel_env()`)."""

    def __init__(self, rank: int, world_size: int, group: Any = None) -> None:
        if world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} of a group of {world_size}: not a rank of it")
        self.rank = rank
        self.world_size = world_size
        self._group = group  # a paddle.distributed group; None: the default (world) group
        self._calls = 0  # calls made through run_on_leader, to check the ranks agree

    @classmethod
    def current(cls) -> TrainerGroup | None:
        """The running paddle.distributed group of more than one rank, or None (paddle not
        imported, not initialised, or a single process)."""
        if "paddle" not in sys.modules:  # a script that never imported paddle has no group
            return None
        import paddle.distributed as dist

        if not dist.is_initialized() or dist.get_world_size() < 2:
            return None
        return cls(dist.get_rank(), dist.get_world_size())

    @property
    def leader(self) -> bool:
        """True on rank 0, the rank that talks to the controller."""
        return self.rank == 0

    def broadcast(self, value: Any = None) -> Any:
        """Rank 0's `value` on every rank (the others' arguments are ignored)."""
        import paddle.distributed as dist

        box = [value if self.leader else None]
        dist.broadcast_object_list(box, src=0, group=self._group)
        return box[0]

    def gather(self, value: Any) -> list[Any]:
        """Every rank's `value`, in rank order, on every rank."""
        import paddle.distributed as dist

        out: list[Any] = []
        dist.all_gather_object(out, value, group=self._group)
        return out

    def run_on_leader(self, call: Callable[[], R], what: str = "a call") -> R:
        """`call()` on rank 0; its result, or the exception it raised, on every rank.
        Every rank must make the same run_on_leader calls in the same order: first the
        ranks compare what they are calling (`what`), so a rank that skipped or added a
        call gets a clear error instead of another call's answer."""
        self._calls += 1
        mine = (self._calls, what)
        try:
            everyone = self.gather(mine)
        except RuntimeError as exc:  # a rank that exited, or sits elsewhere, timed us out
            raise RuntimeError(
                f"{what} (call {self._calls} of this rank): the other ranks of the trainer "
                f"group did not make it ({exc}). {SAME_CALLS}"
            ) from exc
        if any(other != mine for other in everyone):
            listed = ", ".join(f"rank {r}: {w} (call {n})" for r, (n, w) in enumerate(everyone))
            raise RuntimeError(
                f"the ranks of the trainer group are making different calls ({listed}). "
                f"{SAME_CALLS}"
            )
        if not self.leader:
            while True:
                outcome = self.broadcast()
                if outcome != _WAITING:
                    break
        else:
            with concurrent.futures.ThreadPoolExecutor(1, "sanas-leader") as pool:
                future = pool.submit(call)
                while True:
                    try:
                        outcome = ("ok", future.result(timeout=WAIT_TICK))
                    except concurrent.futures.TimeoutError:
                        self.broadcast(_WAITING)
                        continue
                    except BaseException as exc:  # goes to every rank, then is raised
                        outcome = ("error", exc)
                    break
            self.broadcast(outcome)
        kind, payload = outcome
        if kind == "error":
            raise payload
        return payload

    def mean(self, value: float) -> float:
        """The mean of `value` over the ranks (an all-reduce): what a group reports as its
        metric when each rank evaluated a shard of the data."""
        import paddle
        import paddle.distributed as dist

        tensor = paddle.to_tensor([float(value)], dtype="float64")
        dist.all_reduce(tensor, group=self._group)
        return float(tensor.numpy()[0]) / self.world_size


def group_mean(value: float) -> float:
    """`value` averaged over the current trainer group (`value` itself outside one): call
    it on every rank before `SANAS.reward()` or `SANAS.report()`, whose rank-0 value is
    the group's."""
    group = TrainerGroup.current()
    return float(value) if group is None else group.mean(value)


class SoloFlag(threading.local):
    """Per thread: whether this thread's calls go to the controller alone, without the
    group (rank 0's own bookkeeping, such as waiting for other trainers at exit)."""

    active: bool = False
