"""sanas: simulated-annealing neural architecture search over gRPC.

`from sanas import SANAS` keeps PaddleSlim's API; `sanas.Client` is the lower-level API.
Every name is loaded on first use, so `import sanas` (and `sanas.spaces`) stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .client import Client
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
        StudyDeletedError,
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
    "StudyDeletedError",
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
_SUBMODULES = ("analysis", "common", "early_stop", "errors", "group", "nas", "spaces")
# Where each name of __all__ lives. Nothing is imported before it is used, so importing
# the shared layer (sanas.v1, sanas.spaces, sanas.convert, sanas.wire), which runs this
# file, loads no other module of sanas (tests/test_layers.py).
_HOME = {name: ".errors" for name in __all__ if name.endswith("Error")} | {
    "SearchFinished": ".errors",
    "TrainerGroup": ".group",
    "group_mean": ".group",
    "SANAS": ".nas",
    "Client": ".client",
}


def __getattr__(name: str) -> Any:
    if name in _HOME:
        value = getattr(importlib.import_module(_HOME[name], __name__), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'sanas' has no attribute {name!r}")
