"""sanas: simulated-annealing neural architecture search over gRPC.

`from sanas import SANAS` keeps PaddleSlim's API; `sanas.Client` is the lower-level API.
Both are loaded on first use so `import sanas` (and `sanas.spaces`) stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import (
    BudgetExhaustedError,
    CheckpointInUseError,
    ControllerUnavailableError,
    EvaluationProgramError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    SanasError,
    SearchFinished,
    SpaceExhaustedError,
    StaleTrialError,
    StudyBrokenError,
    StudyExistsError,
    StudyNotFoundError,
    TooManyPendingTrialsError,
    TooManyWatchersError,
    TrialAlreadyCompletedError,
    TrialNotFoundError,
    TrialNotHeldError,
    UnauthenticatedError,
)
from .group import TrainerGroup, group_mean

if TYPE_CHECKING:
    from .client import Client
    from .nas import SANAS

__all__ = [
    "SANAS",
    "BudgetExhaustedError",
    "CheckpointInUseError",
    "Client",
    "ControllerUnavailableError",
    "EvaluationProgramError",
    "InvalidArgumentError",
    "NotFoundError",
    "PermissionDeniedError",
    "SanasError",
    "SearchFinished",
    "SpaceExhaustedError",
    "StaleTrialError",
    "StudyBrokenError",
    "StudyExistsError",
    "StudyNotFoundError",
    "TooManyPendingTrialsError",
    "TooManyWatchersError",
    "TrainerGroup",
    "TrialAlreadyCompletedError",
    "TrialNotFoundError",
    "TrialNotHeldError",
    "UnauthenticatedError",
    "group_mean",
]
__version__ = "0.1.0"


# Submodules a PaddleSlim script reaches as attributes (`import paddleslim as slim` ported
# to `import sanas as slim`: slim.nas.SANAS, slim.analysis.flops), loaded on first use.
_SUBMODULES = ("analysis", "common", "early_stop", "nas", "spaces")


def __getattr__(name: str) -> Any:
    if name == "SANAS":
        from .nas import SANAS

        return SANAS
    if name == "Client":
        from .client import Client

        return Client
    if name in _SUBMODULES:
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'sanas' has no attribute {name!r}")
