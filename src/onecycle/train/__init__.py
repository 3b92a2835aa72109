"""Training with the 1cycle policy: :class:`Trainer`, :class:`History`, callbacks,
checkpoints and distributed helpers.

Modules: ``trainer`` (the class and its fits), ``options`` (:class:`TrainerOptions`),
``loop`` (the epoch loop), ``metrics`` (metrics and validation), ``resume`` (checkpoint
payloads, validation, resume planning), ``checkpoint`` (file I/O), ``callbacks``,
``history``, ``distributed``.

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
from .options import TrainerOptions
from .trainer import METRICS, Trainer, accuracy, seed_everything

__all__ = [
    "Trainer",
    "TrainerOptions",
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
