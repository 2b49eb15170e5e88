"""`make demo`: a real multi-trainer architecture search (`python -m sanas.demo --help`).

- `options`: the flags, and what every process derives from them (space, SANAS options);
- `training`: the trainer processes (data, model, training with per-epoch reports);
- `rerun`: the rule for an --out folder that already holds the search (--resume, --fresh);
- `progress`: trials finished, epochs saved, the ETA;
- `run`: the main process (controller, trainers, progress, the report) and `main`.

Nothing here imports Paddle, grpc or the stubs until a function needs them.
"""

from .options import (
    BATCH,
    SPACE,
    STEM_CHANNELS,
    STUDY_FLAGS,
    image_shape,
    parse_args,
    quiet_paddle,
    sanas_kwargs,
    space_configs,
)
from .run import main, main_process, trainer_argv
from .training import TimeBudgetSpent, build_model, evaluate, load_data, train_and_score, trainer

__all__ = [
    "BATCH",
    "SPACE",
    "STEM_CHANNELS",
    "STUDY_FLAGS",
    "TimeBudgetSpent",
    "build_model",
    "evaluate",
    "image_shape",
    "load_data",
    "main",
    "main_process",
    "parse_args",
    "quiet_paddle",
    "sanas_kwargs",
    "space_configs",
    "train_and_score",
    "trainer",
    "trainer_argv",
]
