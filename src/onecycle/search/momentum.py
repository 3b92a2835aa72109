"""Momentum: short 1cycle trainings, one per (high, low) momentum pair.

Smith notes that a momentum range test is uninformative (the loss barely depends on a
constant momentum during a sweep), so the pairs are compared by short runs of the real
thing: a 1cycle at a fixed ``max_lr`` with cyclical momentum going ``high -> low -> high``
(a pair with ``high == low`` is a constant momentum). The pair with the lowest final
validation loss wins; every pair is reported.

Example:
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> data = [(x, (x[:, 0] > 0).long()) for x in torch.randn(8, 32, 8, generator=g)]
    >>> res = momentum_search(lambda: torch.nn.Linear(8, 2),
    ...     lambda m: torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9),
    ...     torch.nn.functional.cross_entropy, data, data, max_lr=0.5,
    ...     pairs=[(0.95, 0.85), (0.9, 0.9)])
    >>> res.best in [(0.95, 0.85), (0.9, 0.9)], len(res.rows)
    (True, 2)
"""

from __future__ import annotations

import copy
import numbers
from collections.abc import Iterable, Sequence
from typing import Any

from torch import nn

from .._validate import momentum_cycle
from .._validate import values as check_values
from .factories import LossFn, MakeOptimizer, ModelLike, build_optimizer, initial_model
from .grid import check_callables, context, default_signal, short_cycle_options, short_run_result
from .options import SearchOptions, refuse_leftovers
from .results import SearchResult, register_kind
from .trials import Trial, guarded, run_trials

__all__ = ["MomentumResult", "momentum_search", "DEFAULT_MOMENTUM_PAIRS", "check_pairs"]

#: default (high, low) pairs: three cycles from 0.8-0.99 and one constant momentum
DEFAULT_MOMENTUM_PAIRS: tuple[tuple[float, float], ...] = (
    (0.99, 0.9), (0.95, 0.85), (0.9, 0.8), (0.95, 0.95),
)

#: the options momentum_search reads
MOMENTUM_FIELDS = ("epochs", "max_lr", "schedule", "metrics", "select", "grad_clip",
                   "num_iter", "start_lr", "end_lr", "lr_find_kw", "method", "seed",
                   "workers", "progress", "step_fn")


class MomentumResult(SearchResult):
    """Result of :func:`momentum_search`: ``best`` is a ``(high, low)`` pair, ``rows``
    has one row per pair (``high``, ``low``, ``cyclical``, ``val_loss``, ...),
    ``histories`` the short runs, ``plot()`` validation-loss bars."""


register_kind("momentum", MomentumResult)


def check_pairs(pairs: Any) -> list[tuple[float, float]]:
    """Momentum pairs ``(high, low)`` with ``0 <= low <= high < 1`` (the rule of
    :func:`onecycle._validate.momentum_cycle`); a single number ``m`` means ``(m, m)``.

    >>> check_pairs([(0.95, 0.85), 0.9])
    [(0.95, 0.85), (0.9, 0.9)]
    """
    out: list[tuple[float, float]] = []
    for p in check_values("pairs", pairs):
        if isinstance(p, numbers.Real) and not isinstance(p, bool):
            p = (p, p)
        if isinstance(p, (str, bytes)) or not isinstance(p, Sequence) or len(p) != 2:
            raise TypeError(
                f"pairs entries must be (high, low) momentum pairs in [0, 1) or single "
                f"numbers, got {p!r}"
            )
        hi, lo = momentum_cycle("momentum pair", p)
        out.append((hi, lo))
    if len(set(out)) != len(out):
        raise ValueError(f"pairs contains a pair twice: {out!r}")
    return out


def _require_momentum(make_optimizer: Any, base: nn.Module) -> None:
    from ..hyper import supports_momentum

    probe = build_optimizer(make_optimizer, copy.deepcopy(base))
    if not supports_momentum(probe):
        raise ValueError(
            f"optimizer {type(probe).__name__} has no momentum-like hyper-parameter, so there "
            "is no momentum to search (register one with onecycle.hyper.register_optimizer)"
        )


def momentum_search(
    model: ModelLike,
    make_optimizer: MakeOptimizer,
    loss_fn: LossFn,
    train_loader: Iterable[Any],
    val_loader: Iterable[Any] | None = None,
    *,
    pairs: Sequence[Any] | None = None,
    options: SearchOptions | None = None,
    **settings: Any,
) -> MomentumResult:
    """Compare momentum pairs by short 1cycle trainings; pick the best validation loss.

    Args:
        model: the initial model (never modified) or a zero-argument factory.
        make_optimizer: ``make_optimizer(model) -> Optimizer`` with a momentum-like
            hyper-parameter (SGD/RMSprop momentum, Adam's beta1, ...).
        loss_fn, train_loader, val_loader: as for the Trainer (without a val_loader the
            final training loss is compared, and the reason says so).
        pairs: ``(high, low)`` pairs in [0, 1) (default :data:`DEFAULT_MOMENTUM_PAIRS`);
            a single number is a constant momentum.
        options, **settings: a :class:`~onecycle.search.options.SearchOptions` and/or
            its fields: ``max_lr`` (the peak LR of every run; None: one range test
            first, with ``num_iter``, ``start_lr``, ``end_lr``, ``lr_find_kw``),
            ``epochs`` (default 1, a first look: one-epoch runs favour the most
            aggressive pair; the recipe uses a quarter of the budget), ``schedule``
            (other ``fit_one_cycle`` options), ``metrics``, ``select``, ``grad_clip``,
            ``seed``, ``workers``, ``progress``, ``step_fn`` (then ``loss_fn`` may be
            None).

    >>> # res = momentum_search(make_model, make_opt, F.cross_entropy, train, val, max_lr=0.5)
    >>> # res.best -> (0.95, 0.85); print(res.table())
    """
    o = SearchOptions.take(settings, options, "momentum_search", MOMENTUM_FIELDS)
    refuse_leftovers("momentum_search", settings)
    chosen = check_pairs(DEFAULT_MOMENTUM_PAIRS if pairs is None else pairs)
    check_callables(make_optimizer, loss_fn, o.step_fn)
    if o.schedule and "momentum" in o.schedule:
        raise TypeError("schedule must not contain 'momentum': the search sets it per pair")
    signal = default_signal(val_loader, o.select)
    base = initial_model(model, o.seed)
    _require_momentum(make_optimizer, base)
    with guarded(train_loader, val_loader):
        ctx = context(base, make_optimizer, loss_fn, train_loader, val_loader, o)
        copts, extra = short_cycle_options(ctx, o, 1)
        trials = [Trial("cycle", "momentum", p, [], dict(copts, momentum=p)) for p in chosen]
        outs = run_trials(ctx, trials, workers=o.workers, progress=o.progress,
                          desc="momentum search")
    rule = ("One short 1cycle training per (high, low) momentum pair, all from the same "
            f"initial weights and seed, at the same max_lr; the best final {signal} wins "
            "(a momentum range test is uninformative, so short runs decide).")
    config = {"seed": o.seed, "workers": o.workers}
    res = short_run_result("momentum", "momentum", chosen, outs, signal, copts, extra, config,
                           MomentumResult, rule)
    for r in res.rows:
        hi, lo = r["value"]
        r["high"], r["low"], r["cyclical"] = hi, lo, hi != lo
    if val_loader is None:
        res.reason += " (no val_loader: compared on the final training loss)"
    return res
