"""Momentum: short 1cycle trainings, one per (high, low) momentum pair.

Smith notes that a momentum range test is uninformative (the loss barely depends on a
constant momentum during a sweep), so the pairs are compared by short runs of the real
thing: a 1cycle at a fixed ``max_lr`` with cyclical momentum going ``high -> low -> high``
(a pair with ``high == low`` is a constant momentum). The pair with the lowest final
validation loss wins; every pair is reported.

Example:
    >>> import torch
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> x = torch.randn(256, 8); y = (x[:, 0] > 0).long()
    >>> data = [(x[i:i + 32], y[i:i + 32]) for i in range(0, 256, 32)]
    >>> res = momentum_search(lambda: torch.nn.Linear(8, 2),
    ...     lambda m: torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9),
    ...     torch.nn.functional.cross_entropy, data, data, max_lr=0.5,
    ...     pairs=[(0.95, 0.85), (0.9, 0.9)])
    >>> res.best in [(0.95, 0.85), (0.9, 0.9)], len(res.rows)
    (True, 2)
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from ._common import (
    SearchResult,
    Trial,
    TrialContext,
    build_optimizer,
    check_callable,
    check_int,
    check_real,
    check_values,
    fmt,
    guarded,
    pick_short_run,
    register_kind,
    resolve_model,
    run_trials,
    short_run_rows,
)
from .grid import default_signal, short_cycle_options

__all__ = ["MomentumResult", "momentum_search", "DEFAULT_MOMENTUM_PAIRS", "check_pairs"]

#: default (high, low) pairs: three cycles from 0.8-0.99 and one constant momentum
DEFAULT_MOMENTUM_PAIRS: tuple[tuple[float, float], ...] = (
    (0.99, 0.9), (0.95, 0.85), (0.9, 0.8), (0.95, 0.95),
)


class MomentumResult(SearchResult):
    """Result of :func:`momentum_search`: ``best`` is a ``(high, low)`` pair, ``rows``
    has one row per pair (``high``, ``low``, ``cyclical``, ``val_loss``, ...),
    ``histories`` the short runs, ``plot()`` validation-loss bars."""


register_kind("momentum", MomentumResult)


def check_pairs(pairs: Any) -> list[tuple[float, float]]:
    """Momentum pairs ``(high, low)`` in [0, 1); a single number ``m`` means ``(m, m)``.

    >>> check_pairs([(0.95, 0.85), 0.9])
    [(0.95, 0.85), (0.9, 0.9)]
    """
    vals = check_values("pairs", pairs)
    out: list[tuple[float, float]] = []
    for p in vals:
        if isinstance(p, (int, float, np.integer, np.floating)) and not isinstance(p, bool):
            p = (p, p)
        if isinstance(p, (str, bytes)) or not isinstance(p, Sequence) or len(p) != 2:
            raise TypeError(
                f"pairs entries must be (high, low) momentum pairs in [0, 1) or single "
                f"numbers, got {p!r}"
            )
        pair = tuple(check_real("momentum pair entry", m) for m in p)
        for m in pair:
            if not 0.0 <= m < 1.0:
                raise ValueError(
                    f"pairs: momentum values must be in [0, 1), got {m!r} in pair {p!r}"
                )
        out.append((pair[0], pair[1]))
    if len(set(out)) != len(out):
        raise ValueError(f"pairs contains a pair twice: {out!r}")
    return out


def momentum_search(
    model: nn.Module | Callable[[], nn.Module],
    make_optimizer: Callable[[Any], torch.optim.Optimizer],
    loss_fn: Callable[..., torch.Tensor],
    train_loader: Iterable[Any],
    val_loader: Iterable[Any] | None = None,
    *,
    max_lr: float | None = None,
    pairs: Sequence[Any] | None = None,
    epochs: int = 1,
    schedule: dict[str, Any] | None = None,
    metrics: Any = None,
    select: str | None = None,
    grad_clip: float | None = None,
    num_iter: int = 100,
    start_lr: float = 1e-5,
    end_lr: float = 10.0,
    lr_find_kw: dict[str, Any] | None = None,
    seed: int = 0,
    workers: int = 1,
    progress: bool | None = None,
) -> MomentumResult:
    """Compare momentum pairs by short 1cycle trainings; pick the best validation loss.

    Args:
        model: the initial model (never modified) or a zero-argument factory.
        make_optimizer: ``make_optimizer(model) -> Optimizer`` with a momentum-like
            hyper-parameter (SGD/RMSprop momentum, Adam's beta1, ...).
        loss_fn, train_loader, val_loader: as for the Trainer (without a val_loader the
            final training loss is compared, and the reason says so).
        max_lr: the peak LR of every run (None: found by one range test first).
        pairs: ``(high, low)`` pairs in [0, 1) (default :data:`DEFAULT_MOMENTUM_PAIRS`);
            a single number is a constant momentum.
        epochs: length of each short run (default 1, a first look: one-epoch runs favour
            the most aggressive pair; the recipe uses a quarter of the budget).
        schedule: other ``fit_one_cycle`` options (``style``, ``div``, ...).
        metrics, select, grad_clip: passed to the Trainer / the comparison.
        seed, workers, progress: as for :func:`~onecycle.search.grid_search`.

    >>> # res = momentum_search(make_model, make_opt, F.cross_entropy, train, val, max_lr=0.5)
    >>> # res.best -> (0.95, 0.85); print(res.table())
    """
    chosen = check_pairs(DEFAULT_MOMENTUM_PAIRS if pairs is None else pairs)
    check_callable("make_optimizer", make_optimizer, "make_optimizer(model) -> Optimizer")
    check_callable("loss_fn", loss_fn, "loss_fn(outputs, targets) -> loss")
    seed = check_int("seed", seed, 0)
    if schedule and "momentum" in schedule:
        raise TypeError("schedule must not contain 'momentum': the search sets it per pair")
    signal = default_signal(val_loader, select)
    base = resolve_model(model, seed)
    from ..hyper import supports_momentum

    probe = build_optimizer(make_optimizer, copy.deepcopy(base))
    if not supports_momentum(probe):
        raise ValueError(
            f"optimizer {type(probe).__name__} has no momentum-like hyper-parameter, so there "
            "is no momentum to search (register one with onecycle.hyper.register_optimizer)"
        )
    del probe
    with guarded(train_loader, val_loader):
        ctx = TrialContext(base, make_optimizer, loss_fn, train_loader, val_loader, seed,
                           metrics, grad_clip, getattr(train_loader, "epoch", None))
        copts, extra = short_cycle_options(ctx, epochs, max_lr, schedule,
                                           (num_iter, start_lr, end_lr, lr_find_kw))
        max_lr = copts["max_lr"]
        trials = [Trial("cycle", "momentum", p, [], dict(copts, momentum=p)) for p in chosen]
        outs = run_trials(ctx, trials, workers=workers, progress=progress,
                          desc="momentum search")
    rows, scores = short_run_rows(chosen, outs, signal)
    for r in rows:
        hi, lo = r["value"]
        r["high"], r["low"], r["cyclical"] = hi, lo, hi != lo
    best, runner, reason = pick_short_run(
        "momentum", chosen, rows, scores, signal,
        f"{copts['epochs']} epoch(s) of 1cycle at max_lr={fmt(max_lr)}")
    if val_loader is None:
        reason += " (no val_loader: compared on the final training loss)"
    from ..train import History

    config = {"epochs": copts["epochs"], "max_lr": max_lr, "seed": seed, "workers": workers,
              "schedule": {k: v for k, v in copts.items() if k not in ("epochs", "max_lr")}}
    return MomentumResult(
        kind="momentum", param="momentum", values=chosen, mode="short_cycle", rows=rows,
        best=best, runner_up=runner, reason=reason,
        rule=("One short 1cycle training per (high, low) momentum pair, all from the same "
              f"initial weights and seed, at the same max_lr; the best final {signal} wins "
              "(a momentum range test is uninformative, so short runs decide)."),
        signal=signal, histories=[History.from_dict(o["history"]) for o in outs],
        config=config, extra=extra,
    )
