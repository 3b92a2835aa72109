"""The settings the searches share, grouped: :class:`SearchOptions`.

Every search takes its essential inputs as arguments (model, optimizer factory, loss,
loaders, the values to try) and the rest as one options object, so the same settings
can be passed to several searches (``options=SearchOptions(num_iter=50, seed=1)``).
The individual keywords still work (``num_iter=50``): :meth:`SearchOptions.take`
gathers them, and a keyword a search does not use is a ``TypeError`` naming it.

Example:
    >>> o = SearchOptions(num_iter=50)
    >>> kw = {"seed": 3}
    >>> o = SearchOptions.take(kw, o, "demo", SearchOptions.field_names())
    >>> (o.num_iter, o.seed, kw)
    (50, 3, {})
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from .._validate import choice, function, integer, nonnegative, positive, seed
from ..step import check_grad_clip

__all__ = ["SearchOptions", "take_options", "refuse_leftovers", "LR_FIND_SET_BY_SEARCH"]

T = TypeVar("T")

#: lr_find keywords a search sets itself (refused in ``lr_find_kw``)
LR_FIND_SET_BY_SEARCH = ("model", "optimizer", "loss_fn", "train_loader", "val_loader", "seed",
                         "restore", "progress")


def take_options(cls: type[T], kwargs: dict[str, Any], given: T | None,
                 fields: Iterable[str]) -> T:
    """``given`` (or the defaults of ``cls``) with the keywords of ``kwargs`` that are
    among ``fields`` popped from ``kwargs`` and put in (keywords win)."""
    if given is not None and not isinstance(given, cls):
        raise TypeError(f"options must be a {cls.__name__}, got {type(given).__name__}")
    picked = {k: kwargs.pop(k) for k in list(kwargs) if k in set(fields)}
    base = given if given is not None else cls()
    return dataclasses.replace(base, **picked) if picked else base  # type: ignore[type-var]


def refuse_leftovers(where: str, kwargs: Mapping[str, Any]) -> None:
    """A ``TypeError`` for keywords no options group took, as Python would give it."""
    if kwargs:
        name = next(iter(kwargs))
        raise TypeError(f"{where}() got an unexpected keyword argument {name!r}")


@dataclass(frozen=True)
class SearchOptions:
    """Settings shared by the searches; each search reads the ones it uses.

    Range tests:
        num_iter, start_lr, end_lr: the sweep (``start_lr < end_lr``, ``num_iter >= 2``).
        lr_find_kw: more :func:`onecycle.finder.lr_find` keywords.
        method: the suggestion method that reads a peak LR from a curve.
        budget, budget_style: the optimizer steps and the style of the cycle a peak LR
            is read for (:func:`onecycle.finder.choose_max_lr`'s ``total_steps`` and
            ``style``); None: the budget-free pick. Short runs read their own length.
    The curve rule (:func:`onecycle.search.rules.select_by_curves`):
        prefer: ``"auto"`` (``"largest"`` for regularisers, else ``"lowest_loss"``),
            ``"largest"``, ``"smallest"`` or ``"lowest_loss"``.
        tolerance, lr_slack: how close to the best curve a value must come.
    Short runs:
        epochs: the length of each run (None: the search's default).
        max_lr: their peak LR (None: one range test finds it).
        schedule: other ``fit_one_cycle`` options (``style``, ``div``, ...).
        select: the record key compared (default ``"val_loss"``, or ``"train_loss"``
            without a validation loader).
        metrics, grad_clip: passed to the :class:`~onecycle.train.Trainer`.
    Every range test and training:
        step_fn: ``step_fn(model, batch) -> loss`` for batches that are not
            ``(inputs, targets)`` pairs (dicts for language models: see
            :func:`onecycle.tasks.model_step`); the searches' ``loss_fn`` may then be
            None. None: the default step over ``loss_fn``.
    Every trial:
        seed: the seed of every trial (same data order, same dropout masks).
        workers: run the trials in this many spawn processes (1: in this process).
        progress: progress of the trials (see :mod:`onecycle.progress`).

    >>> SearchOptions(start_lr=1.0, end_lr=0.1)
    Traceback (most recent call last):
    ...
    ValueError: start_lr must be < end_lr, got start_lr=1.0, end_lr=0.1
    """

    num_iter: int = 100
    start_lr: float = 1e-5
    end_lr: float = 10.0
    lr_find_kw: dict[str, Any] | None = None
    method: str = "auto"
    prefer: str = "auto"
    tolerance: float = 0.05
    lr_slack: float = 0.25
    epochs: int | None = None
    max_lr: float | None = None
    schedule: dict[str, Any] | None = None
    select: str | None = None
    metrics: Any = None
    grad_clip: float | str | None = None
    seed: int = 0
    workers: int = 1
    progress: Any = None
    step_fn: Any = None
    budget: int | None = None
    budget_style: str = "smith"

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "num_iter", integer("num_iter", self.num_iter, least=2))
        set_(self, "start_lr", positive("start_lr", self.start_lr))
        set_(self, "end_lr", positive("end_lr", self.end_lr))
        if not self.start_lr < self.end_lr:
            raise ValueError(f"start_lr must be < end_lr, got start_lr={self.start_lr!r}, "
                             f"end_lr={self.end_lr!r}")
        extra = dict(self.lr_find_kw or {})
        for bad in LR_FIND_SET_BY_SEARCH:
            if bad in extra:
                raise TypeError(f"lr_find_kw must not contain {bad!r}: the search sets it")
        from ..finder.suggest import SUGGESTERS

        choice("method", self.method, tuple(SUGGESTERS))
        choice("prefer", self.prefer, ("auto", "largest", "smallest", "lowest_loss"))
        set_(self, "tolerance", nonnegative("tolerance", self.tolerance))
        set_(self, "lr_slack", nonnegative("lr_slack", self.lr_slack))
        if self.epochs is not None:
            set_(self, "epochs", integer("epochs", self.epochs, least=1))
        if self.budget is not None:
            set_(self, "budget", integer("budget", self.budget, least=1))
        choice("budget_style", self.budget_style, ("smith", "fastai", "torch"))
        if self.max_lr is not None:
            set_(self, "max_lr", positive("max_lr", self.max_lr))
        set_(self, "grad_clip", check_grad_clip(self.grad_clip))
        if self.select is not None and not isinstance(self.select, str):
            raise TypeError(f"select must be a record key such as 'val_loss', got {self.select!r}")
        set_(self, "seed", seed("seed", self.seed))
        set_(self, "workers", integer("workers", self.workers, least=1))
        if self.step_fn is not None:
            function("step_fn", self.step_fn, "step_fn(model, batch) -> loss")

    def pick(self, curve: Any, *, fallback: Sequence[str] = (),
             total_steps: int | None = None) -> Any:
        """The peak LR of ``curve`` for the cycle these options are for: one call of
        :func:`onecycle.finder.choose_max_lr` with ``method``, ``fallback`` and the
        budget (``total_steps``, default ``budget``). Raises ``NoUsableLR``.

        >>> import numpy as np
        >>> from onecycle.finder import LRFinderResult
        >>> lrs = np.geomspace(1e-5, 1, 61); losses = (np.log10(lrs) + 2) ** 2
        >>> round(SearchOptions(method="minimum").pick(LRFinderResult(lrs, losses, losses)).lr, 6)
        0.001
        """
        from ..finder import choose_max_lr

        steps = self.budget if total_steps is None else total_steps
        return choose_max_lr(curve, method=self.method, fallback=tuple(fallback),
                             total_steps=steps, style=self.budget_style)

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """Every option's name.

        >>> "num_iter" in SearchOptions.field_names()
        True
        """
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def take(cls, kwargs: dict[str, Any], given: SearchOptions | None, where: str,
             fields: Iterable[str]) -> SearchOptions:
        """``given`` with the keywords of ``kwargs`` among ``fields`` put in (popped).

        >>> SearchOptions.take({"seed": 2}, None, "demo", ("seed",)).seed
        2
        """
        return take_options(cls, kwargs, given, fields)

    def finder_options(self, val: bool) -> dict[str, Any]:
        """Keywords for the range tests of a search (``val``: with a validation loader).

        With a validation loader the sweep is evaluated 25 times on a fixed subset of
        256 samples: the finder's default (10 evaluation batches at every 20th step)
        cost many times the sweep itself, 256 samples add about 15 %.

        >>> sorted(SearchOptions(num_iter=50).finder_options(True))
        ['end_lr', 'num_iter', 'start_lr', 'val_every', 'val_samples']
        """
        opts: dict[str, Any] = {"num_iter": self.num_iter, "start_lr": self.start_lr,
                                "end_lr": self.end_lr}
        if val:
            opts["val_every"] = max(1, self.num_iter // 25)
            opts["val_samples"] = 256
        opts.update(self.lr_find_kw or {})
        return opts
