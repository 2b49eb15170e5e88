"""The running trials of a study and their leases: who holds what, which lease ran out."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

from .trials import TrialRecord


class RunningTrials:
    """The ids of a study's running (ACTIVE) trials, oldest first, and how many each
    client holds. The leases themselves live in the trial records."""

    def __init__(self) -> None:
        self._ids: dict[int, None] = {}  # an ordered set
        self.by_client: dict[str, int] = {}

    def __iter__(self) -> Iterator[int]:
        return iter(self._ids)

    def __len__(self) -> int:
        return len(self._ids)

    def held_by(self, client_id: str) -> int:
        return self.by_client.get(client_id, 0)

    def hold(self, trial: TrialRecord) -> None:
        self._ids[trial.trial_id] = None
        self.by_client[trial.client_id] = self.by_client.get(trial.client_id, 0) + 1

    def release(self, trial: TrialRecord) -> None:
        del self._ids[trial.trial_id]
        left = self.by_client[trial.client_id] - 1
        if left:
            self.by_client[trial.client_id] = left
        else:
            del self.by_client[trial.client_id]

    def first_expired(self, trials: list[TrialRecord], now: float) -> int | None:
        """The expired trial whose lease ran out first (the lowest id among equals): a
        function of the trials alone, so a restart from a snapshot and one from the
        journal, which order the running trials differently, hand out the same one."""
        expired = (
            (trials[i].lease_expire, i)
            for i in self._ids  # a handful: the running trials
            if trials[i].lease_expire <= now
        )
        first = min(expired, default=None)
        return None if first is None else first[1]

    def renew(self, trials: list[TrialRecord], now: float, lease_seconds: float) -> None:
        """Give every running trial a whole lease from `now` (after a restart)."""
        for trial_id in self._ids:
            trial = trials[trial_id]
            expire = max(trial.lease_expire, now + lease_seconds)
            trials[trial_id] = dataclasses.replace(trial, lease_expire=expire)
