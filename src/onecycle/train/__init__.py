"""Training with the 1cycle policy: :class:`Trainer`, :class:`History`, callbacks,
checkpoints and distributed helpers.

Example:
    >>> from onecycle.train import Trainer, History, Callback, EarlyStopping
    >>> issubclass(EarlyStopping, Callback)
    True
"""

from __future__ import annotations

from .callbacks import (
    Callback,
    Checkpoint,
    DivergenceGuard,
    DivergenceWarning,
    EarlyStopping,
    ProgressBar,
    StopTraining,
    TrainingDiverged,
)
from .checkpoint import (
    CheckpointError,
    CheckpointNotFoundError,
    load_checkpoint,
    save_checkpoint,
)
from .history import History
from .trainer import METRICS, Trainer, accuracy, seed_everything

__all__ = [
    "Trainer",
    "History",
    "Callback",
    "StopTraining",
    "ProgressBar",
    "DivergenceGuard",
    "DivergenceWarning",
    "TrainingDiverged",
    "EarlyStopping",
    "Checkpoint",
    "CheckpointError",
    "CheckpointNotFoundError",
    "save_checkpoint",
    "load_checkpoint",
    "accuracy",
    "METRICS",
    "seed_everything",
]
