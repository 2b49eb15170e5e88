"""How a SANAS finds its study (the rules of the module doc of sanas.nas): a server
script creates it, resumes it from load_checkpoint, imports a PaddleSlim checkpoint, or
continues it when run again over its own folder; a client joins it, and is told which
field differs when it searches other spaces."""

from __future__ import annotations

import logging
import time
import warnings
from pathlib import Path
from typing import Any

from .client import Client
from .errors import StudyDeletedError, StudyExistsError, StudyNotFoundError
from .v1 import sanas_pb2 as pb

log = logging.getLogger(__name__)
PADDLESLIM_CHECKPOINT = "sanas.checkpoints"


def trials_of(counts: pb.TrialCounts) -> int:
    """Every trial a study issued, in any state."""
    return counts.active + results_of(counts) + counts.skipped


def results_of(counts: pb.TrialCounts) -> int:
    """Trials that ended with a result: rewarded, infeasible or stopped early."""
    return counts.succeeded + counts.infeasible + counts.stopped


def deleted_study_error(study: pb.Study, where_and_what: str) -> StudyDeletedError:
    """What a SANAS that finds its study soft-deleted raises: it neither joins nor
    recreates it (an admin deleted it; undeleting or purging it is theirs to choose)."""
    deleted = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(study.delete_time.seconds))
    expires = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(study.expire_time.seconds))
    return StudyDeletedError(
        f"study {study.study_id!r} was deleted at {deleted} and is purged at {expires}, "
        f"{where_and_what}",
        code="FAILED_PRECONDITION",
        reason=pb.ErrorReason.Name(pb.ERROR_REASON_STUDY_DELETED),
    )


def space_differences(study: pb.StudyConfig, mine: pb.StudyConfig) -> list[str]:
    """What differs between two configs' search spaces, field by field."""
    if len(study.search_spaces) != len(mine.search_spaces):
        return [
            f"the study has {len(study.search_spaces)} search space(s), this client "
            f"{len(mine.search_spaces)}"
        ]
    out = []
    for i, (a, b) in enumerate(zip(study.search_spaces, mine.search_spaces, strict=True)):
        for field in pb.SearchSpaceConfig.DESCRIPTOR.fields:
            x, y = getattr(a, field.name), getattr(b, field.name)
            if not isinstance(x, str | int | float):  # a repeated field
                x, y = list(x), list(y)
            if x != y:
                out.append(
                    f"search space {i} ({a.key}) {field.name}: study {x!r}, this client {y!r}"
                )
    return out


def annealing_differences(
    study: pb.StudyConfig, mine: pb.StudyConfig, passed: set[str]
) -> list[str]:
    """Parameters this client passed (`passed`) whose values differ from the study's."""
    out = []
    x: Any
    y: Any
    for name in sorted(passed):
        if name == "lease_duration":
            x, y = (
                study.lease_duration.ToNanoseconds() / 1e9,
                mine.lease_duration.ToNanoseconds() / 1e9,
            )
        elif name == "constraints":
            x, y = (
                (study.constraints.max_flops, study.constraints.max_params),
                (
                    mine.constraints.max_flops,
                    mine.constraints.max_params,
                ),
            )
        elif name == "policy":
            x, y = pb.ProposalPolicy.Name(study.policy), pb.ProposalPolicy.Name(mine.policy)
        else:
            x, y = getattr(study, name), getattr(mine, name)
            if not isinstance(x, int | float):  # a repeated field
                x, y = list(x), list(y)
        if x != y:
            out.append(f"{name}: study {x!r}, this client {y!r}")
    return out


def open_as_server(
    client: Client,
    study_id: str,
    config: pb.StudyConfig,
    load_checkpoint: str | None,
    save_checkpoint: str | None,
) -> pb.Study:
    """Create the study, or resume it from load_checkpoint (see the module doc)."""
    if import_paddleslim(client, study_id, load_checkpoint, config):
        return client.get_study(study_id)
    try:
        existing = client.get_study(study_id)
    except StudyNotFoundError:
        return client.create_study(study_id, config)
    if existing.state == pb.STUDY_STATE_DELETED:
        folder = save_checkpoint or load_checkpoint
        raise deleted_study_error(
            existing,
            f"in checkpoint folder {folder}; serve the folder (`sanas-server "
            f"--checkpoint-dir {folder}`) and `sanas undelete {study_id}` to "
            f"continue it, or `sanas delete {study_id} --purge --yes` there (or "
            "another study_id or save_checkpoint) to start afresh",
        )
    issued = trials_of(existing.trial_counts)
    if load_checkpoint is None:
        if not issued:
            # Nothing was searched: afresh (a purge, so the id is free at once).
            client.delete_study(study_id, purge=True)
            return client.create_study(study_id, config)
        return rerun(client, study_id, existing, config, save_checkpoint, issued)
    try:
        study = client.create_study(study_id, config)
    except StudyExistsError as exc:
        raise StudyExistsError(
            f"{exc}; the study is in checkpoint folder {load_checkpoint}",
            code=exc.code,
            reason=exc.reason,
        ) from exc
    done = results_of(study.trial_counts)
    # A warning, so it shows without any logging set up: resuming is never silent.
    log.warning("resumed study %r with %d results from %s", study_id, done, load_checkpoint)
    return study


def rerun(
    client: Client,
    study_id: str,
    existing: pb.Study,
    config: pb.StudyConfig,
    folder: str | None,
    issued: int,
) -> pb.Study:
    """A server script run again over its own folder (after a crash, or to train the
    best tokens): PaddleSlim would start over and overwrite the checkpoint at the
    first reward. sanas continues the search in the folder instead, so nothing is
    lost, and says so; a script searching other spaces is refused."""
    differences = space_differences(existing.config, config)
    if differences:
        raise StudyExistsError(
            f"the checkpoint folder {folder} already holds study {study_id!r} "
            f"with {issued} trial(s) of other search spaces ({'; '.join(differences)}). "
            "Use another save_checkpoint (or study_id) for a new search, or delete the "
            "folder to discard the old one",
            code="ALREADY_EXISTS",
        )
    if config.policy and config.policy != existing.config.policy:
        kept = pb.ProposalPolicy.Name(existing.config.policy)
        message = (
            f"study {study_id!r} in {folder} keeps its policy {kept}: a study's policy is "
            f"fixed when it is created (this run asked for "
            f"{pb.ProposalPolicy.Name(config.policy)}; use another save_checkpoint or "
            "study_id for a search with it)"
        )
        warnings.warn(message, UserWarning, stacklevel=3)
        log.warning(message)
    state = "finished" if existing.state == pb.STUDY_STATE_COMPLETED else "continues"
    log.warning(
        "the checkpoint folder %s already holds study %r with %d trial(s) (%d results) "
        "from an earlier run: the search %s there, as load_checkpoint=%r would do "
        "(PaddleSlim would start over and overwrite it). For a new search use another "
        "save_checkpoint or study_id",
        folder,
        study_id,
        issued,
        results_of(existing.trial_counts),
        state,
        folder,
    )
    return existing


def join(client: Client, study_id: str, config: pb.StudyConfig, passed: set[str]) -> pb.Study:
    """Join the study the server created; create it if there is none yet."""
    try:
        study = client.get_study(study_id)
    except StudyNotFoundError:
        try:
            return client.create_study(study_id, config)
        except StudyExistsError:  # another trainer created it just now: join that
            study = client.get_study(study_id)
    if study.state == pb.STUDY_STATE_DELETED:
        raise deleted_study_error(
            study,
            f"at {client.address}; an admin can undelete it (`sanas undelete "
            f"{study_id}`) or purge it (`sanas delete {study_id} --purge "
            "--yes`) to start afresh",
        )
    differences = space_differences(study.config, config)
    if differences:
        raise StudyExistsError(
            f"study {study_id!r} at {client.address} searches other spaces "
            f"than this client: {'; '.join(differences)}. Pass the server's configs, or "
            "another study_id",
            code="ALREADY_EXISTS",
        )
    ignored = annealing_differences(study.config, config, passed)
    if ignored:
        message = (
            f"joining study {study_id!r}: it keeps its own "
            f"{'; '.join(ignored)} (the study's values are used)"
        )
        warnings.warn(message, UserWarning, stacklevel=3)
        log.warning(message)
    return study


def import_paddleslim(
    client: Client, study_id: str, load_checkpoint: str | None, config: pb.StudyConfig
) -> bool:
    """Import a PaddleSlim checkpoint folder's results into a new study; False when there
    is none, or an earlier run imported it already."""
    if load_checkpoint is None:
        return False
    legacy = Path(load_checkpoint) / PADDLESLIM_CHECKPOINT
    if not legacy.is_file():
        return False
    try:
        client.get_study(study_id)
        return False  # imported by an earlier run: resume it
    except StudyNotFoundError:
        pass
    response = client.import_paddleslim_checkpoint(study_id, legacy.read_text(), config)
    log.info("imported %d PaddleSlim results from %s", response.imported_trials, legacy)
    return True
