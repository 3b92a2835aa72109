"""The searches that follow from the range test: weight decay, any hyper-parameter
(dropout, ...), momentum, batch size, and the whole recipe.

* :func:`weight_decay_search` -- one LR range test per weight decay, overlaid; the
  largest weight decay that still trains at a high LR (Smith, section 4.4).
* :func:`weight_decay_snapshot_search` -- the cheaper alternative: snapshot one run at a
  middle weight decay, restart short runs with the others.
* :func:`grid_search` -- the same machinery for any parameter given by a setter
  (:func:`set_dropout`, :func:`set_weight_decay`, ...), by range tests or short 1cycles.
* :func:`momentum_search` -- short 1cycle runs per (high, low) momentum pair.
* :func:`batch_size_search` -- the largest batch that fits in memory, with throughput,
  and :func:`rescale_lr` for the learning rate at another batch size.
* :func:`recipe` -- all of it chained into a :class:`Recipe` that ``train()`` runs.

Every search starts each trial from a copy of the same initial weights with the same
seed, leaves the caller's model (and the global RNGs) as they were, returns a
JSON-serialisable result with the choice, the runner-up and the reason in words, and
plots itself (``result.plot()``).

Example:
    >>> from onecycle.search import rescale_lr
    >>> rescale_lr(0.1, 64, 256)
    0.4
"""

from __future__ import annotations

from ._common import SearchResult, SetterError, select_by_curves
from .batch_size import (
    BatchSizeResult,
    available_memory,
    batch_size_search,
    parse_bytes,
    rescale_lr,
)
from .grid import (
    SETTERS,
    GridSearchResult,
    attr_setter,
    grid_search,
    hyper_setter,
    set_dropout,
    set_momentum,
    set_weight_decay,
)
from .momentum import DEFAULT_MOMENTUM_PAIRS, MomentumResult, momentum_search
from .recipe import Recipe, recipe
from .weight_decay import (
    DEFAULT_WEIGHT_DECAYS,
    WeightDecayResult,
    WeightDecaySnapshotResult,
    weight_decay_search,
    weight_decay_snapshot_search,
)

__all__ = [
    "weight_decay_search",
    "weight_decay_snapshot_search",
    "grid_search",
    "momentum_search",
    "batch_size_search",
    "rescale_lr",
    "recipe",
    "Recipe",
    "SearchResult",
    "WeightDecayResult",
    "WeightDecaySnapshotResult",
    "GridSearchResult",
    "MomentumResult",
    "BatchSizeResult",
    "SetterError",
    "set_dropout",
    "set_weight_decay",
    "set_momentum",
    "hyper_setter",
    "attr_setter",
    "SETTERS",
    "select_by_curves",
    "parse_bytes",
    "available_memory",
    "DEFAULT_WEIGHT_DECAYS",
    "DEFAULT_MOMENTUM_PAIRS",
]
