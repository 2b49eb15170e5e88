"""Controller errors: plain exceptions, mapped to gRPC status codes only in service.py.

Each names the sanas.v1.ErrorReason it is sent as, taken from the generated enum.
"""

from __future__ import annotations

from sanas.v1 import sanas_pb2 as pb


class ControllerError(Exception):
    """Base of every error the controller reports to a client."""

    reason = pb.ErrorReason.Name(pb.ERROR_REASON_UNSPECIFIED)


class InvalidArgument(ControllerError):
    reason = pb.ErrorReason.Name(pb.ERROR_REASON_INVALID_ARGUMENT)


class StudyNotFound(ControllerError):
    reason = pb.ErrorReason.Name(pb.ERROR_REASON_STUDY_NOT_FOUND)


class TrialNotFound(ControllerError):
    reason = pb.ErrorReason.Name(pb.ERROR_REASON_TRIAL_NOT_FOUND)


class StudyExists(ControllerError):
    reason = pb.ErrorReason.Name(pb.ERROR_REASON_STUDY_EXISTS)


class TrialAlreadyCompleted(ControllerError):
    reason = pb.ErrorReason.Name(pb.ERROR_REASON_TRIAL_ALREADY_COMPLETED)


class TrialNotHeld(ControllerError):
    """The trial's lease ran out and another trainer holds it now."""

    reason = pb.ErrorReason.Name(pb.ERROR_REASON_TRIAL_NOT_HELD)


class StaleTrial(ControllerError):
    """A call is bound to a trial the study no longer has: the study was created again
    since the trial was issued, or the trial now has other tokens (or is gone) because
    the checkpoint folder was restored from a backup. Nothing is written."""

    reason = pb.ErrorReason.Name(pb.ERROR_REASON_STALE_TRIAL)


class BudgetExhausted(ControllerError):
    reason = pb.ErrorReason.Name(pb.ERROR_REASON_BUDGET_EXHAUSTED)


class SearchSpaceExhausted(ControllerError):
    reason = pb.ErrorReason.Name(pb.ERROR_REASON_SPACE_EXHAUSTED)


class TooManyPendingTrials(ControllerError):
    reason = pb.ErrorReason.Name(pb.ERROR_REASON_TOO_MANY_PENDING_TRIALS)


class TooManyWatchers(ControllerError):
    reason = pb.ErrorReason.Name(pb.ERROR_REASON_TOO_MANY_WATCHERS)


class Unauthenticated(ControllerError):
    reason = pb.ErrorReason.Name(pb.ERROR_REASON_UNAUTHENTICATED)


class PermissionDenied(ControllerError):
    """The token is valid but its role may not make this call (see credentials.py)."""

    reason = "ERROR_REASON_PERMISSION_DENIED"


class StorageFailure(ControllerError):
    reason = pb.ErrorReason.Name(pb.ERROR_REASON_STORAGE_FAILURE)


class StudyBroken(ControllerError):
    """The study's checkpoint could not be loaded at start; the other studies are served."""

    reason = pb.ErrorReason.Name(pb.ERROR_REASON_STUDY_BROKEN)


class StudyDeleted(ControllerError):
    """The study is soft-deleted: it takes no trial calls (nor watches) until an admin
    undeletes it; the message says when it was deleted and when it is purged."""

    reason = pb.ErrorReason.Name(pb.ERROR_REASON_STUDY_DELETED)


class CorruptCheckpoint(Exception):
    """A checkpoint file cannot be read back; the study is reported as broken."""


class NewerFormat(CorruptCheckpoint):
    """A study written by a newer release (its header's format is above this release's):
    not served, and kept as it is for that release; never damage to repair or delete."""


class CheckpointInUse(Exception):
    """Another process holds the checkpoint folder's lock; raised at start."""
