"""The request ids a study remembers (AIP-155): a retried call gets its first answer."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from .errors import InvalidArgument
from .trials import TrialRecord, TrialState

MAX_REQUEST_ID = 128
# AIP-155 request ids a study remembers, newest first out last: a retry of one of its
# last MAX_REMEMBERED_REQUESTS calls gets the first answer; an older id counts as new.
MAX_REMEMBERED_REQUESTS = 10_000

# What a request id answered: the call ("suggest" or "complete"), its trial, and the
# trial a CompleteTrial's suggest_next issued (None: none yet).
Answer = tuple[str, int, int | None]


class RequestLog:
    """request id -> Answer, oldest first. Changed live and on replay alike, so the
    remembered ids (and which are forgotten) are the same after a restart."""

    def __init__(self, answers: Iterable[tuple[str, Answer]] = ()) -> None:
        self._answers: dict[str, Answer] = dict(answers)

    def __len__(self) -> int:
        return len(self._answers)

    def __iter__(self) -> Iterator[str]:
        return iter(self._answers)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, RequestLog):
            return list(self._answers.items()) == list(other._answers.items())
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def items(self) -> Iterable[tuple[str, Answer]]:
        return self._answers.items()

    def get(self, request_id: str) -> Answer | None:
        return self._answers.get(request_id)

    def remember(self, request_id: str, call: str, trial_id: int) -> None:
        """A call that issued or completed `trial_id`; "" (no request id): nothing."""
        if request_id:
            self._answers[request_id] = (call, trial_id, None)
            self._trim()

    def remember_next(self, request_id: str, completed: int, next_id: int) -> None:
        """The trial a CompleteTrial request's suggest_next issued after `completed`."""
        self._answers[request_id] = ("complete", completed, next_id)
        self._trim()

    def _trim(self) -> None:
        while len(self._answers) > MAX_REMEMBERED_REQUESTS:
            del self._answers[next(iter(self._answers))]

    def answer_for(
        self,
        trials: Sequence[TrialRecord],
        request_id: str,
        call: str,
        trial_id: int | None = None,
        result: tuple[float, bool] | None = None,
    ) -> tuple[TrialRecord, TrialRecord | None] | None:
        """The first answer to a retried request, or None for a new request. A request id
        reused for a different request (another call, trial or result) is an error, not
        a silent replay of the first answer."""
        if not request_id:
            return None
        if len(request_id) > MAX_REQUEST_ID:
            raise InvalidArgument(f"request_id has {len(request_id)} characters; at most 128")
        known = self._answers.get(request_id)
        if known is None:
            return None
        kind, first_id, next_id = known
        first = trials[first_id]
        if kind != call or (trial_id is not None and trial_id != first_id):
            raise InvalidArgument(
                f"request_id {request_id!r} was already used for another request; "
                "use a new id for every distinct call"
            )
        # A stopped trial takes any later result and keeps its own (see Study.complete):
        # a retry gets the first answer whatever result it repeats.
        stopped = first.state is TrialState.STOPPED
        if result is not None and not stopped and not first.same_result(*result):
            raise InvalidArgument(
                f"request_id {request_id!r} was already used to report "
                f"{first.result_text} for trial {first_id}; a retry must repeat the same "
                "result, and a different result needs a new request_id"
            )
        return first, None if next_id is None else trials[next_id]
