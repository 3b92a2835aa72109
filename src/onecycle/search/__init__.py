"""The searches that follow from the range test: weight decay, any hyper-parameter
(dropout, ...), momentum, batch size, and the whole recipe.

* :func:`weight_decay_search` -- one LR range test per weight decay, overlaid; the
  largest weight decay that still trains at a high LR (Smith, section 4.4);
  :func:`choose_weight_decay` -- those range tests as an upper bound, confirmed by
  short runs (what the recipe and ``onecycle run`` use).
* :func:`weight_decay_snapshot_search` -- the cheaper alternative: snapshot one run at a
  middle weight decay, restart short runs with the others.
* :func:`grid_search` -- the same machinery for any parameter given by a setter
  (:func:`set_dropout`, :func:`set_weight_decay`, ...), by range tests or short 1cycles.
* :func:`momentum_search` -- short 1cycle runs per (high, low) momentum pair.
* :func:`batch_size_search` -- the largest batch that fits in memory, with throughput,
  and :func:`rescale_lr` for the learning rate at another batch size.
* :func:`recipe` -- all of it chained into a :class:`Recipe` that ``train()`` runs; its
  steps (:mod:`onecycle.search.steps`: :func:`range_test`, :func:`weight_decay_step`,
  :func:`momentum_step`, :func:`train_cycle`, :func:`train_constant`) can be called
  alone.

Every search starts each trial from a copy of the same initial weights with the same
seed, leaves the caller's model (and the global RNGs) as they were, returns a
JSON-serialisable result with the choice, the runner-up and the reason in words, and
plots itself (``result.plot()``). Settings shared by the searches are grouped in
:class:`SearchOptions` (every field is also accepted as a keyword).

Example:
    >>> from onecycle.search import rescale_lr
    >>> rescale_lr(0.1, 64, 256)
    0.4
"""

from __future__ import annotations

from .batch_size import (
    BatchSizeOptions,
    BatchSizeResult,
    available_memory,
    batch_size_search,
    parse_bytes,
    rescale_lr,
)
from .grid import GridSearchResult, grid_search
from .momentum import DEFAULT_MOMENTUM_PAIRS, MomentumResult, momentum_search
from .options import SearchOptions
from .recipe import Recipe, RecipeOptions, recipe
from .results import SearchResult
from .rules import select_by_curves
from .setters import (
    SETTERS,
    SetterError,
    attr_setter,
    hyper_setter,
    set_dropout,
    set_momentum,
    set_weight_decay,
)
from .snapshot import SnapshotPlan, WeightDecaySnapshotResult, weight_decay_snapshot_search
from .steps import (
    CyclePlan,
    Problem,
    RangeTest,
    TrainedRun,
    momentum_step,
    range_test,
    train_constant,
    train_cycle,
    weight_decay_step,
)
from .weight_decay import (
    DEFAULT_WEIGHT_DECAYS,
    WeightDecayChoice,
    WeightDecayResult,
    choose_weight_decay,
    weight_decay_search,
)

__all__ = [
    # the searches and their results
    "weight_decay_search", "choose_weight_decay", "weight_decay_snapshot_search",
    "grid_search", "momentum_search", "batch_size_search", "rescale_lr", "recipe",
    "SearchResult", "WeightDecayResult", "WeightDecayChoice", "WeightDecaySnapshotResult",
    "GridSearchResult", "MomentumResult", "BatchSizeResult", "Recipe",
    # their settings
    "SearchOptions", "SnapshotPlan", "BatchSizeOptions", "RecipeOptions",
    "DEFAULT_WEIGHT_DECAYS", "DEFAULT_MOMENTUM_PAIRS",
    # setters and rules
    "SetterError", "set_dropout", "set_weight_decay", "set_momentum", "hyper_setter",
    "attr_setter", "SETTERS", "select_by_curves", "parse_bytes", "available_memory",
    # the recipe's steps
    "Problem", "RangeTest", "CyclePlan", "TrainedRun", "range_test", "weight_decay_step",
    "momentum_step", "train_cycle", "train_constant",
]
