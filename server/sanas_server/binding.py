"""Which trial a trial-scoped call is for: the study incarnation (its uid) and the
trial's tokens (their fingerprint), checked against what the study holds now."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import InvalidArgument, StaleTrial
from .trials import TrialRecord

if TYPE_CHECKING:
    from .study import Study

# What a trainer must do with a call refused as stale, in every such message.
STALE_ADVICE = (
    "Nothing was written: drop this trial (stop training it, discard its result) and ask "
    "for a new trial"
)


def new_study_uid() -> str:
    """A study incarnation's uid (AIP-148: a UUID4), minted when the study is created."""
    return str(uuid.uuid4())


@dataclass(frozen=True)
class Binding:
    """What a trial-scoped request says about the trial it is for: the study incarnation
    (`study_uid`) and the trial's tokens (`fingerprint`), both copied from the Trial the
    trainer was handed. `required`: a request without them is refused (False only when
    the server runs with --allow-unbound-trial-calls). `call` names the RPC in messages."""

    study_uid: str = ""
    fingerprint: str = ""
    required: bool = True
    call: str = "the call"


def bound_trial(study: Study, trial_id: int, binding: Binding | None) -> TrialRecord:
    """The trial a trial-scoped request is about, once its binding says the request is
    for this very trial: issued by this incarnation of the study (the uid), with the
    tokens the trainer trained (the fingerprint). A restore from a backup keeps the
    uid (nothing on disk tells it from a restart), so the fingerprint is what refuses
    a result for a trial that has other tokens since. None: a caller inside the
    server, not checked."""
    if binding is None:
        return study.trial(trial_id)
    if binding.study_uid and binding.study_uid != study.uid:
        raise StaleTrial(
            f"study {study.study_id!r} was created again since trial {trial_id} was "
            f"issued to you (it is another study now, uid {study.uid}). {STALE_ADVICE}"
        )
    if not 0 <= trial_id < len(study.trials):
        if binding.study_uid and binding.fingerprint and trial_id >= 0:
            # Issued by this incarnation (the uid matches), so it existed: the study
            # went back in time.
            held = f"trials 0 to {len(study.trials) - 1}" if study.trials else "no trials"
            raise StaleTrial(
                f"trial {trial_id} of study {study.study_id!r} no longer exists: the "
                f"study has {held} (was the checkpoint folder restored from a "
                f"backup?). {STALE_ADVICE}"
            )
        return study.trial(trial_id)  # TrialNotFound
    trial = study.trials[trial_id]
    missing = [
        name
        for name, value in (
            ("study_uid", binding.study_uid),
            ("trial_fingerprint", binding.fingerprint),
        )
        if not value
    ]
    if missing and binding.required:
        raise InvalidArgument(
            f"{binding.call} for trial {trial_id} of study {study.study_id!r} names no "
            f"{' and no '.join(missing)}, so the controller cannot tell that it is for "
            "the trial it issued (the study may have been created again, or restored "
            "from a backup, since). Send the study_uid and fingerprint of the Trial "
            "that SuggestTrial (or CompleteTrial's next_trial) returned, as "
            "study_uid and trial_fingerprint; the sanas clients do it for you "
            "(upgrade an older one)"
        )
    if binding.fingerprint and binding.fingerprint != trial.fingerprint:
        raise StaleTrial(
            f"trial {trial_id} of study {study.study_id!r} now has other tokens than "
            "the ones you trained (was the checkpoint folder restored from a backup?). "
            f"{STALE_ADVICE}"
        )
    return trial
