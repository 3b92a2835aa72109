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

``engine`` runs the test (:func:`lr_find`), ``suggest`` holds the pure suggestion
methods, ``result`` the :class:`LRFinderResult`, ``state`` the snapshot/restore
machinery (:func:`preserved_state`) that the Trainer and the searches reuse.
"""

from __future__ import annotations

from .engine import DivergenceRule, lr_find, lr_grid
from .result import Band, LRFinderResult
from .state import StateSnapshot, preserved_state
from .suggest import SUGGESTERS, Suggestion, smooth_curve, suggest

__all__ = [
    "lr_find",
    "lr_grid",
    "DivergenceRule",
    "LRFinderResult",
    "Band",
    "Suggestion",
    "SUGGESTERS",
    "suggest",
    "smooth_curve",
    "preserved_state",
    "StateSnapshot",
]
