"""The LR range test: run it, read suggestions from the curve, plot it, save it.

Example:
    >>> import torch
    >>> from onecycle.finder import lr_find
    >>> model = torch.nn.Linear(4, 3)
    >>> opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    >>> data = [(torch.randn(16, 4), torch.randint(0, 3, (16,))) for _ in range(5)]
    >>> res = lr_find(model, opt, torch.nn.functional.cross_entropy, data,
    ...               num_iter=30, progress=False)
    >>> len(res.lrs) <= 30 and res.mode == "exp"
    True

Modules, one job each: ``engine`` runs the test (:func:`lr_find`: validate, snapshot,
run, restore), ``options`` groups its settings (:class:`FinderOptions`), ``sweep`` is one
pass of it (the loop and the stop rule), ``grid`` the swept LRs, ``suggest`` the pure
suggestion methods, ``result`` the :class:`LRFinderResult`, ``choose`` turns a result
into the ``max_lr`` of a cycle (:func:`choose_max_lr`, :class:`NoUsableLR`), ``state``
the snapshot/restore machinery (:func:`preserved_state`) that the Trainer and the
searches reuse.
"""

from __future__ import annotations

from .._imports import lazy_attributes
from . import suggest  # the module (methods: suggest.auto, suggest.valley, ...)

# numpy-only parts are imported eagerly (``onecycle.finder.suggest`` stays torch-free);
# the torch-using engine and state snapshot on first use.
from .choose import MaxLRChoice, NoUsableLR, choose_max_lr
from .grid import lr_grid
from .result import Band, LRFinderResult
from .suggest import SUGGESTERS, Suggestion, smooth_curve
from .suggest import suggest as suggest_lr  # the dispatcher, under a name that does not

# shadow the module: ``onecycle.finder.suggest`` stays the module of suggestion methods

_LAZY = {
    "lr_find": "onecycle.finder.engine",
    "DivergenceRule": "onecycle.finder.engine",
    "FinderOptions": "onecycle.finder.options",
    "preserved_state": "onecycle.finder.state",
    "StateSnapshot": "onecycle.finder.state",
}

__all__ = [
    "lr_find",
    "lr_grid",
    "DivergenceRule",
    "FinderOptions",
    "LRFinderResult",
    "Band",
    "choose_max_lr",
    "MaxLRChoice",
    "NoUsableLR",
    "Suggestion",
    "SUGGESTERS",
    "suggest",
    "suggest_lr",
    "smooth_curve",
    "preserved_state",
    "StateSnapshot",
]


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, globals())
