"""Search any hyper-parameter: one range test, or one short 1cycle run, per value.

:func:`grid_search` is the general machinery behind the weight-decay, dropout and
momentum searches. A *setter* ``setter(model, optimizer, value)`` applies a value to a
fresh copy of the model and its optimizer (see :mod:`onecycle.search.setters`).

``mode="finder"`` runs an LR range test per value and overlays the curves (Smith's
picture); the choice follows :func:`~onecycle.search.rules.select_by_curves`.
``mode="short_cycle"`` trains a short 1cycle per value and compares the validation loss
(or a metric). The caller's model is never modified: every trial works on a copy of it.

Example:
    >>> import torch
    >>> from onecycle.search import grid_search
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> x = torch.randn(256, 8); y = (x[:, 0] > 0).long()
    >>> data = [(x[i:i + 32], y[i:i + 32]) for i in range(0, 256, 32)]
    >>> model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(),
    ...                             torch.nn.Dropout(0.0), torch.nn.Linear(16, 2))
    >>> res = grid_search("dropout", [0.0, 0.3], "dropout", model,
    ...                   lambda m: torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9),
    ...                   torch.nn.functional.cross_entropy, data, num_iter=30)
    >>> res.best in (0.0, 0.3), model[2].p
    (True, 0.0)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from .._format import fmt_value
from .._validate import choice, function
from .._validate import values as check_values
from .factories import LossFn, MakeOptimizer, ModelLike, initial_model
from .options import SearchOptions, refuse_leftovers
from .results import SearchResult, register_kind
from .rules import finder_rows, pick_short_run, rule_text, short_run_rows
from .setters import Setter, check_with_setter, resolve_setter
from .trials import Trial, TrialContext, guarded, run_trials

__all__ = [
    "GridSearchResult",
    "grid_search",
    "run_finder_grid",
    "short_cycle_options",
    "default_signal",
    "find_max_lr",
    "context",
]

#: the options grid_search reads
GRID_FIELDS = SearchOptions.field_names()


class GridSearchResult(SearchResult):
    """Result of :func:`grid_search` (see :class:`~onecycle.search.results.SearchResult`)."""


register_kind("grid", GridSearchResult)


# ----------------------------------------------------------------------------- machinery


def context(model: Any, make_optimizer: Any, loss_fn: Any, train_loader: Any,
            val_loader: Any, o: SearchOptions) -> TrialContext:
    """The :class:`TrialContext` of a search (the model already built)."""
    return TrialContext(model, make_optimizer, loss_fn, train_loader, val_loader, o.seed,
                        o.metrics, o.grad_clip, getattr(train_loader, "epoch", None),
                        step_fn=o.step_fn)


def check_callables(make_optimizer: Any, loss_fn: Any, step_fn: Any = None) -> None:
    """The callables every search needs: ``make_optimizer``, and ``loss_fn`` unless a
    ``step_fn`` computes the loss (:func:`onecycle.step.resolve_step`'s rule)."""
    from ..step import resolve_step

    function("make_optimizer", make_optimizer, "make_optimizer(model) -> Optimizer")
    resolve_step(loss_fn, step_fn)


def run_finder_grid(
    ctx: TrialContext,
    param: str,
    values: Sequence[Any],
    make_setters: Callable[[Any], list[tuple[str, Setter, Any]]],
    options: dict[str, Any],
    *,
    workers: int,
    progress: Any,
) -> list[Any]:
    """One range test per value (``options`` for ``lr_find``); the curves in order."""
    trials = [Trial("finder", param, v, make_setters(v), dict(options)) for v in values]
    outs = run_trials(ctx, trials, workers=workers, progress=progress, desc=f"{param} search")
    return [o["curve"] for o in outs]


def find_max_lr(
    ctx: TrialContext, options: SearchOptions,
    setters: list[tuple[str, Setter, Any]] | None = None, total_steps: int | None = None,
) -> tuple[float, dict[str, Any]]:
    """One range test (with ``setters`` applied) and its max LR for short runs of
    ``total_steps`` optimizer steps (the ``minimum`` suggestion when the method gives
    none)."""
    out = run_trials(ctx, [Trial("finder", "max_lr", None, setters or [],
                                 dict(options.finder_options(False)))])[0]
    res = out["curve"]
    pick = options.pick(res, fallback=("minimum",), total_steps=total_steps)
    info = {"lr": pick.lr, "low": pick.low, "high": pick.high, "method": pick.method,
            "confidence": pick.confidence, "reason": pick.reason, "curve": res.to_dict()}
    return pick.lr, info


def cycle_options(epochs: int, max_lr: float, schedule: dict[str, Any] | None) -> dict[str, Any]:
    """``fit_one_cycle`` options of the short runs, validated before any trial runs."""
    opts = dict(schedule or {})
    for bad in ("epochs", "max_lr", "total_steps", "resume"):
        if bad in opts:
            raise TypeError(f"schedule options must not contain {bad!r}")
    from ..schedule import OneCycleSchedule

    OneCycleSchedule.check_options(**opts)  # before any trial runs
    return {"epochs": epochs, "max_lr": max_lr, **opts}


def short_cycle_options(
    ctx: TrialContext,
    o: SearchOptions,
    default_epochs: int,
    setters: Sequence[tuple[str, Setter, Any]] = (),
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The options of short 1cycle runs, ``(copts, extra)``: the schedule is validated
    first, then ``max_lr`` is found by a range test (after ``setters``) when
    ``o.max_lr`` is None; ``extra["lr_find"]`` keeps that test."""
    extra: dict[str, Any] = {}
    epochs = o.epochs if o.epochs is not None else default_epochs
    cycle_options(epochs, 1.0, o.schedule)  # validate before any range test
    max_lr = o.max_lr
    if max_lr is None:
        try:
            steps = epochs * max(len(ctx.train_loader), 1)
        except TypeError:
            steps = None
        max_lr, extra["lr_find"] = find_max_lr(ctx, o, list(setters), steps)
    return cycle_options(epochs, max_lr, o.schedule), extra


def default_signal(val_loader: Any, select: str | None) -> str:
    """What short runs compare: ``select``, or the validation loss when there is a
    validation loader, else the training loss."""
    if select is not None:
        if not isinstance(select, str):
            raise TypeError(f"select must be a record key such as 'val_loss', got {select!r}")
        if select.startswith("val_") and val_loader is None:
            raise ValueError(f"select={select!r} needs a val_loader")
        return select
    return "val_loss" if val_loader is not None else "train_loss"


def short_run_result(kind: str, param: str, values: Sequence[Any], outs: list[dict[str, Any]],
                     signal: str, copts: dict[str, Any], extra: dict[str, Any],
                     config: dict[str, Any], cls: type, rule: str) -> Any:
    """The result of short runs: rows, the pick and its reason, histories."""
    from ..train import History

    rows, scores = short_run_rows(values, outs, signal)
    best, runner, reason = pick_short_run(
        param, values, rows, scores, signal,
        f"{copts['epochs']} epoch(s) of 1cycle at max_lr={fmt_value(copts['max_lr'])}")
    config.update(epochs=copts["epochs"], max_lr=copts["max_lr"],
                  schedule={k: v for k, v in copts.items() if k not in ("epochs", "max_lr")})
    return cls(kind=kind, param=param, values=list(values), mode="short_cycle", rows=rows,
               best=best, runner_up=runner, reason=reason, rule=rule, signal=signal,
               histories=[History.from_dict(o["history"]) for o in outs], config=config,
               extra=extra)


# ----------------------------------------------------------------------------- public


def _finder_grid(ctx: TrialContext, param: str, vals: list[Any], setters: Any, o: SearchOptions,
                 prefer: str, config: dict[str, Any]) -> GridSearchResult:
    opts = o.finder_options(ctx.val_loader is not None)
    curves = run_finder_grid(ctx, param, vals, setters, opts, workers=o.workers,
                             progress=o.progress)
    use_val = ctx.val_loader is not None and all(len(c.val_losses) >= 3 for c in curves)
    order, rows, reason = finder_rows(param, vals, curves, use_val=use_val, prefer=prefer,
                                      tolerance=o.tolerance, lr_slack=o.lr_slack)
    config.update(opts, prefer=prefer, tolerance=o.tolerance, lr_slack=o.lr_slack)
    return GridSearchResult(
        kind="grid", param=param, values=vals, mode="finder", rows=rows,
        best=vals[order[0]], runner_up=vals[order[1]] if len(order) > 1 else None,
        reason=reason, rule=rule_text(param, prefer, o.tolerance, o.lr_slack, use_val),
        signal="val_loss" if use_val else "train_loss", curves=curves, config=config,
    )


def _cycle_grid(ctx: TrialContext, param: str, vals: list[Any], setters: Any, o: SearchOptions,
                config: dict[str, Any]) -> GridSearchResult:
    signal = default_signal(ctx.val_loader, o.select)
    copts, extra = short_cycle_options(ctx, o, 1)
    trials = [Trial("cycle", param, v, setters(v), dict(copts)) for v in vals]
    outs = run_trials(ctx, trials, workers=o.workers, progress=o.progress,
                      desc=f"{param} search")
    rule = (f"One short 1cycle training per {param} value ({copts['epochs']} epoch(s) at "
            f"max_lr={fmt_value(copts['max_lr'])}), all from the same initial weights and "
            f"seed; the value with the best final {signal} wins.")
    return short_run_result("grid", param, vals, outs, signal, copts, extra, config,
                            GridSearchResult, rule)


def grid_search(
    param: str,
    values: Iterable[Any],
    setter: Setter | str | None,
    model: ModelLike,
    make_optimizer: MakeOptimizer,
    loss_fn: LossFn,
    train_loader: Iterable[Any],
    *,
    val_loader: Iterable[Any] | None = None,
    mode: str = "finder",
    options: SearchOptions | None = None,
    **settings: Any,
) -> GridSearchResult:
    """Try each value of a hyper-parameter; compare range tests or short 1cycle runs.

    Args:
        param: the name of the hyper-parameter (labels, messages, the built-in setter).
        values: the values to try (non-empty, no duplicates).
        setter: ``setter(model, optimizer, value)``, a built-in name (``"dropout"``,
            ``"weight_decay"``, ``"momentum"``) or None for the built-in named ``param``.
        model: the initial model (never modified: trials work on copies) or a
            zero-argument factory (called once, with torch seeded by ``seed``).
        make_optimizer: ``make_optimizer(model) -> Optimizer``; an optimizer class or a
            ``functools.partial`` of one is called with ``model.parameters()``.
        loss_fn: ``loss_fn(outputs, targets) -> scalar``.
        train_loader, val_loader: re-iterable loaders of ``(x, y)`` batches.
        mode: ``"finder"``: one LR range test per value, overlaid, chosen by the curve
            rule (``prefer``, ``tolerance``, ``lr_slack``); ``"short_cycle"``: ``epochs``
            (default 1) of 1cycle at ``max_lr`` per value, chosen by ``select``
            (default: the final validation loss).
        options, **settings: a :class:`~onecycle.search.options.SearchOptions` and/or
            its fields as keywords (``num_iter``, ``start_lr``, ``end_lr``,
            ``lr_find_kw``, ``prefer``, ``tolerance``, ``lr_slack``, ``epochs``,
            ``max_lr``, ``schedule``, ``metrics``, ``select``, ``grad_clip``, ``seed``,
            ``workers``, ``progress``, ``step_fn``: then ``loss_fn`` may be None).

    Returns:
        :class:`GridSearchResult` with ``best``, ``runner_up``, ``reason``, ``rows``,
        ``curves`` or ``histories``, ``plot()`` and ``to_dict()``.

    A setter that raises gives a :class:`~onecycle.search.SetterError` naming the
    parameter and the value; the caller's model is unchanged in every case.
    """
    o = SearchOptions.take(settings, options, "grid_search", GRID_FIELDS)
    refuse_leftovers("grid_search", settings)
    vals = check_values("values", values)
    set_fn = resolve_setter(param, setter)
    check_with_setter(param, set_fn, vals)
    choice("mode", mode, ("finder", "short_cycle"))
    prefer = o.prefer
    if prefer == "auto":
        prefer = "largest" if param in ("dropout", "weight_decay") else "lowest_loss"
    check_callables(make_optimizer, loss_fn, o.step_fn)
    if train_loader is None:
        raise TypeError("train_loader is required")
    base = initial_model(model, o.seed)
    config: dict[str, Any] = {"seed": o.seed, "workers": o.workers, "mode": mode}

    def setters(v: Any) -> list[tuple[str, Setter, Any]]:
        return [(param, set_fn, v)]

    with guarded(train_loader, val_loader):
        ctx = context(base, make_optimizer, loss_fn, train_loader, val_loader, o)
        if mode == "finder":
            return _finder_grid(ctx, param, vals, setters, o, prefer, config)
        return _cycle_grid(ctx, param, vals, setters, o, config)
