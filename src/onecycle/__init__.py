"""onecycle: Leslie Smith's disciplined approach to hyper-parameters, for PyTorch.

The LR range test, the 1cycle policy with cyclical momentum, the searches that follow
from them (weight decay, dropout, momentum, batch size), training with all of it, and
plots and reports of what happened.

Example:
    >>> import onecycle as oc
    >>> s = oc.OneCycleSchedule(total_steps=1000, max_lr=0.8)
    >>> round(s.lr(450), 6), round(s.momentum(450), 6)
    (0.8, 0.85)

Names are imported lazily, so ``import onecycle`` is cheap and the pure schedule maths
works without importing torch.
"""

from __future__ import annotations

from ._imports import lazy_attributes

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    # pure schedules
    "OneCycleSchedule": "onecycle.schedule",
    "Piecewise": "onecycle.schedule",
    "Curve": "onecycle.schedule",
    "join": "onecycle.schedule",
    "linear": "onecycle.schedule",
    "cosine": "onecycle.schedule",
    "exponential": "onecycle.schedule",
    "constant": "onecycle.schedule",
    "style_defaults": "onecycle.schedule", "warmup_cosine": "onecycle.schedule", "linear_decay": "onecycle.schedule", "wsd": "onecycle.schedule", "constant_lr": "onecycle.schedule", "schedule_from_dict": "onecycle.schedule",  # noqa: E501
    # torch schedulers and adapters
    "OneCycle": "onecycle.scheduler",
    "ParamScheduler": "onecycle.scheduler",
    "register_optimizer": "onecycle.hyper",
    # finder
    "lr_find": "onecycle.finder",
    "LRFinderResult": "onecycle.finder",
    "Suggestion": "onecycle.finder",
    "preserved_state": "onecycle.finder",
    "suggest": "onecycle.finder.suggest",
    "SUGGESTERS": "onecycle.finder",
    "choose_max_lr": "onecycle.finder", "NoUsableLR": "onecycle.finder",
    "FinderOptions": "onecycle.finder",
    # training
    "Trainer": "onecycle.train",
    "TrainerOptions": "onecycle.train",
    "History": "onecycle.train",
    "Callback": "onecycle.train",
    "EarlyStopping": "onecycle.train",
    "DivergenceGuard": "onecycle.train",
    "StopTraining": "onecycle.train",
    "TrainingDiverged": "onecycle.train",
    "ProgressBar": "onecycle.train",
    "Checkpoint": "onecycle.train",
    # searches
    "weight_decay_search": "onecycle.search",
    "weight_decay_snapshot_search": "onecycle.search",
    "grid_search": "onecycle.search",
    "momentum_search": "onecycle.search",
    "batch_size_search": "onecycle.search",
    "recipe": "onecycle.search",
    "Recipe": "onecycle.search",
    # plots
    "plot_schedule": "onecycle.plots",
    "plot_finder": "onecycle.plots",
    "plot_history": "onecycle.plots",
    # the main job
    "RunConfig": "onecycle.config",
    "write_report": "onecycle.report",
    "compare": "onecycle.compare",
}

_SUBMODULES = {
    "schedule", "scheduler", "hyper", "finder", "train", "plots", "data", "models",
    "search", "report", "cli", "integrations", "config", "pipeline",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


__getattr__, __dir__ = lazy_attributes(__name__, _EXPORTS, globals(), _SUBMODULES)
