"""Exceptions of the sanas client. Each server error arrives as the subclass named by its
google.rpc.ErrorInfo reason; the message is the server's, saying what to fix."""

from __future__ import annotations

from typing import Any

from .v1 import sanas_pb2 as pb


class SanasError(Exception):
    """Base of every sanas client error. `code` is the gRPC status code name."""

    def __init__(self, message: str, code: str = "", reason: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled whole (code and reason too): a trainer group's rank 0 sends the errors
        # it gets to the other ranks.
        return (type(self), (str(self), self.code, self.reason))


class InvalidArgumentError(SanasError, ValueError):
    """The request was malformed or a value is out of range; nothing was changed."""


class NotFoundError(SanasError, LookupError):
    """No such study or trial."""


class StudyNotFoundError(NotFoundError):
    pass


class TrialNotFoundError(NotFoundError):
    pass


class StudyExistsError(SanasError):
    """A study with this id exists with a different config."""


class TrialAlreadyCompletedError(SanasError):
    """The trial already has a different result."""


class TrialNotHeldError(SanasError):
    """The trial's lease ran out and another trainer holds it now: stop training it."""


class StaleTrialError(SanasError):
    """The trial this call is for is gone: the study was deleted and created again since
    the trial was issued, or its checkpoint folder was restored from a backup and the
    trial now has other tokens (or does not exist). Nothing was recorded: drop the
    trial's result and ask for a new trial (`SANAS.next_archs()`)."""


class SearchFinished(SanasError):
    """No more trials will be issued: `next_archs()` raises this at the end of a search."""


class BudgetExhaustedError(SearchFinished):
    """Every trial of the study's `search_steps` budget has been issued."""


class SpaceExhaustedError(SearchFinished):
    """Every token vector of the search space has been issued."""


class ControllerUnavailableError(SanasError, ConnectionError):
    """The controller cannot be reached, or could not write its checkpoint."""


class TooManyPendingTrialsError(SanasError):
    """This client already holds the controller's maximum of running trials."""


class UnauthenticatedError(SanasError, PermissionError):
    """The controller wants a (different) bearer token or client certificate."""


class PermissionDeniedError(SanasError, PermissionError):
    """The bearer token is valid, but its role may not make this call (a trainer token
    creating, deleting or importing a study). Nothing was changed."""


class StudyDeletedError(SanasError):
    """The study is soft-deleted (state STUDY_STATE_DELETED): it takes no trial calls until
    an admin undeletes it (`Client.undelete_study`, `sanas undelete STUDY`) before its
    expire_time, when the controller purges it. The message says when. Nothing was
    recorded."""


class StudyBrokenError(SanasError):
    """The study's checkpoint could not be loaded when the controller started; the message
    names the file. Repair or move the folder aside, or delete the study."""


class EvaluationProgramError(SanasError, ValueError):
    """reward() refused: the score came from an evaluation program whose own parameters no
    training program trained (a head built anew under other names). Nothing was sent."""


class CheckpointInUseError(SanasError):
    """Another controller (process) holds the checkpoint folder; the message names it."""


class TooManyWatchersError(SanasError):
    """The controller already serves its maximum of WatchStudy streams (--max-watchers)."""


_BY_REASON: dict[str, type[SanasError]] = {
    pb.ErrorReason.Name(pb.ERROR_REASON_INVALID_ARGUMENT): InvalidArgumentError,
    pb.ErrorReason.Name(pb.ERROR_REASON_STUDY_NOT_FOUND): StudyNotFoundError,
    pb.ErrorReason.Name(pb.ERROR_REASON_TRIAL_NOT_FOUND): TrialNotFoundError,
    pb.ErrorReason.Name(pb.ERROR_REASON_STUDY_EXISTS): StudyExistsError,
    pb.ErrorReason.Name(pb.ERROR_REASON_TRIAL_ALREADY_COMPLETED): TrialAlreadyCompletedError,
    pb.ErrorReason.Name(pb.ERROR_REASON_BUDGET_EXHAUSTED): BudgetExhaustedError,
    pb.ErrorReason.Name(pb.ERROR_REASON_SPACE_EXHAUSTED): SpaceExhaustedError,
    pb.ErrorReason.Name(pb.ERROR_REASON_STORAGE_FAILURE): ControllerUnavailableError,
    pb.ErrorReason.Name(pb.ERROR_REASON_TOO_MANY_PENDING_TRIALS): TooManyPendingTrialsError,
    pb.ErrorReason.Name(pb.ERROR_REASON_UNAUTHENTICATED): UnauthenticatedError,
    pb.ErrorReason.Name(pb.ERROR_REASON_PERMISSION_DENIED): PermissionDeniedError,
    pb.ErrorReason.Name(pb.ERROR_REASON_STUDY_BROKEN): StudyBrokenError,
    pb.ErrorReason.Name(pb.ERROR_REASON_TOO_MANY_WATCHERS): TooManyWatchersError,
    pb.ErrorReason.Name(pb.ERROR_REASON_TRIAL_NOT_HELD): TrialNotHeldError,
    pb.ErrorReason.Name(pb.ERROR_REASON_STALE_TRIAL): StaleTrialError,
    pb.ErrorReason.Name(pb.ERROR_REASON_STUDY_DELETED): StudyDeletedError,
}
_BY_CODE: dict[str, type[SanasError]] = {
    "INVALID_ARGUMENT": InvalidArgumentError,
    "NOT_FOUND": NotFoundError,
    "ALREADY_EXISTS": StudyExistsError,
    "UNAVAILABLE": ControllerUnavailableError,
    "DEADLINE_EXCEEDED": ControllerUnavailableError,
    "UNAUTHENTICATED": UnauthenticatedError,
    "PERMISSION_DENIED": PermissionDeniedError,
    "RESOURCE_EXHAUSTED": TooManyPendingTrialsError,
}


def from_rpc_error(error: Any) -> SanasError:
    """Translate a grpc.RpcError into the matching SanasError."""
    from google.rpc import error_details_pb2
    from grpc_status import rpc_status

    code = error.code().name if error.code() is not None else "UNKNOWN"
    reason = ""
    status = rpc_status.from_call(error)
    if status is not None:
        for detail in status.details:
            if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                detail.Unpack(info)
                reason = info.reason
    cls = _BY_REASON.get(reason) or _BY_CODE.get(code, SanasError)
    return cls(f"{code}: {error.details()}", code=code, reason=reason)
