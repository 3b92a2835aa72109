"""Search any hyper-parameter: one range test, or one short 1cycle run, per value.

:func:`grid_search` is the general machinery behind the weight-decay, dropout and
momentum searches. A *setter* ``setter(model, optimizer, value)`` applies a value to a
fresh copy of the model and its optimizer; the built-ins are :func:`set_dropout`
(``p`` of every dropout module), :func:`set_weight_decay`, :func:`set_momentum`, and
:func:`hyper_setter` / :func:`attr_setter` for any optimizer hyper-parameter or model
attribute.

``mode="finder"`` runs an LR range test per value and overlays the curves (Smith's
picture); the choice follows :func:`~onecycle.search._common.select_by_curves`.
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

import torch
from torch import nn

from ._common import (
    PREFER,
    CurveStats,
    SearchResult,
    Trial,
    TrialContext,
    check_callable,
    check_int,
    check_nonnegative,
    check_positive,
    check_real,
    check_values,
    curve_stats,
    fmt,
    guarded,
    pick_short_run,
    register_kind,
    resolve_model,
    run_trials,
    select_by_curves,
    short_run_rows,
)

__all__ = [
    "GridSearchResult",
    "grid_search",
    "set_dropout",
    "set_weight_decay",
    "set_momentum",
    "hyper_setter",
    "attr_setter",
    "SETTERS",
    "resolve_setter",
]

Setter = Callable[[nn.Module, torch.optim.Optimizer, Any], None]


# ----------------------------------------------------------------------------- setters


def _dropout_modules(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if isinstance(m, nn.modules.dropout._DropoutNd)]


def _check_dropout(p: Any) -> None:
    v = check_real("dropout p", p)
    if not 0.0 <= v < 1.0:
        raise ValueError(f"dropout p must be in [0, 1), got {p!r}")


def set_dropout(model: nn.Module, optimizer: Any, p: float) -> None:
    """Set ``p`` on every dropout module (``nn.Dropout``, ``Dropout1d/2d/3d``,
    ``AlphaDropout``, ...) of ``model``. ``p`` must be in [0, 1).

    >>> m = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.1), nn.Dropout2d(0.2))
    >>> set_dropout(m, None, 0.5); [d.p for d in m if isinstance(d, nn.Dropout | nn.Dropout2d)]
    [0.5, 0.5]
    """
    _check_dropout(p)
    mods = _dropout_modules(model)
    if not mods:
        raise ValueError(
            f"model {type(model).__name__} has no dropout module (nn.Dropout, ...) to set p "
            "on; add one (p=0 is the identity) or pass your own setter"
        )
    for m in mods:
        m.p = float(p)


set_dropout.check = _check_dropout  # type: ignore[attr-defined]


def _check_wd(value: Any) -> None:
    v = check_real("weight_decay", value)
    if v < 0:
        raise ValueError(f"weight_decay must be >= 0, got {value!r}")


def set_weight_decay(model: Any, optimizer: torch.optim.Optimizer, value: float) -> None:
    """Set the weight decay of the optimizer's param groups to ``value`` (>= 0).

    Groups deliberately kept free of weight decay are left alone: when some groups
    have ``weight_decay > 0`` and others exactly 0 (biases, norms), only the decayed
    groups are set; otherwise every group is.

    >>> w, b = nn.Parameter(torch.zeros(2)), nn.Parameter(torch.zeros(1))
    >>> opt = torch.optim.SGD([{"params": [w], "weight_decay": 1e-4},
    ...                        {"params": [b], "weight_decay": 0.0}], lr=0.1)
    >>> set_weight_decay(None, opt, 1e-2); [g["weight_decay"] for g in opt.param_groups]
    [0.01, 0.0]
    """
    from ..hyper import get_hyper, set_hyper

    _check_wd(value)
    current = get_hyper(optimizer, "weight_decay")
    decayed = [c > 0 for c in current]
    if any(decayed) and not all(decayed):
        set_hyper(optimizer, "weight_decay", [float(value) if d else 0.0 for d in decayed])
    else:
        set_hyper(optimizer, "weight_decay", float(value))


set_weight_decay.check = _check_wd  # type: ignore[attr-defined]


def _check_momentum(value: Any) -> None:
    v = check_real("momentum", value)
    if not 0.0 <= v < 1.0:
        raise ValueError(f"momentum must be in [0, 1), got {value!r}")


def set_momentum(model: Any, optimizer: torch.optim.Optimizer, value: float) -> None:
    """Set a constant momentum (beta1 for Adam-like optimizers) on every param group.

    >>> opt = torch.optim.Adam([nn.Parameter(torch.zeros(1))])
    >>> set_momentum(None, opt, 0.8); opt.param_groups[0]["betas"]
    (0.8, 0.999)
    """
    from ..hyper import set_hyper

    _check_momentum(value)
    set_hyper(optimizer, "momentum", float(value))


set_momentum.check = _check_momentum  # type: ignore[attr-defined]


class hyper_setter:  # noqa: N801 - used like a function
    """A setter for any optimizer hyper-parameter (``lr``, ``eps``, ``momentum``, ...),
    written to every param group through :func:`onecycle.hyper.set_hyper`.

    >>> opt = torch.optim.Adam([nn.Parameter(torch.zeros(1))])
    >>> hyper_setter("eps")(None, opt, 1e-6); opt.param_groups[0]["eps"]
    1e-06
    """

    def __init__(self, name: str) -> None:
        if not isinstance(name, str) or not name:
            raise TypeError(f"name must be a hyper-parameter name (str), got {name!r}")
        self.name = name
        self.__name__ = f"hyper_setter({name!r})"

    def __call__(self, model: Any, optimizer: torch.optim.Optimizer, value: Any) -> None:
        from ..hyper import set_hyper

        set_hyper(optimizer, self.name, value)

    def __repr__(self) -> str:
        return self.__name__


class attr_setter:  # noqa: N801 - used like a function
    """A setter for a model attribute given by a dotted path (``"encoder.0.p"``,
    ``"temperature"``): the submodule is looked up with ``get_submodule``.

    >>> m = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.1))
    >>> attr_setter("1.p")(m, None, 0.4); m[1].p
    0.4
    """

    def __init__(self, path: str) -> None:
        if not isinstance(path, str) or not path:
            raise TypeError(f"path must be a dotted attribute path (str), got {path!r}")
        self.path = path
        self.__name__ = f"attr_setter({path!r})"

    def __call__(self, model: nn.Module, optimizer: Any, value: Any) -> None:
        owner_path, _, attr = self.path.rpartition(".")
        owner = model.get_submodule(owner_path) if owner_path else model
        if not hasattr(owner, attr):
            raise AttributeError(f"{type(owner).__name__} at {owner_path or 'model'!r} has no "
                                 f"attribute {attr!r}")
        setattr(owner, attr, value)

    def __repr__(self) -> str:
        return self.__name__


#: built-in setters by parameter name
SETTERS: dict[str, Setter] = {
    "dropout": set_dropout,
    "weight_decay": set_weight_decay,
    "momentum": set_momentum,
}


def resolve_setter(param: str, setter: Setter | str | None) -> Setter:
    """The setter to use: a callable as is, a built-in by name, or (``None``) the
    built-in for ``param``.

    >>> resolve_setter("dropout", None) is set_dropout
    True
    """
    if not isinstance(param, str) or not param:
        raise TypeError(f"param must be a non-empty name (str), got {param!r}")
    if setter is None:
        setter = param
    if isinstance(setter, str):
        if setter in SETTERS:
            return SETTERS[setter]
        raise ValueError(
            f"no built-in setter named {setter!r} (for param {param!r}); built-ins: "
            f"{sorted(SETTERS)}; or pass setter=callable(model, optimizer, value), "
            "hyper_setter(name) or attr_setter('path.to.attr')"
        )
    check_callable("setter", setter, "setter(model, optimizer, value)")
    return setter


def check_with_setter(param: str, setter: Setter, values: Sequence[Any]) -> None:
    """Validate every value up front when the setter knows how (built-ins do)."""
    check = getattr(setter, "check", None)
    if check is None:
        return
    for v in values:
        try:
            check(v)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"values for {param}: {exc} (in {list(values)!r})") from None


# ----------------------------------------------------------------------------- result


class GridSearchResult(SearchResult):
    """Result of :func:`grid_search` (see :class:`~onecycle.search._common.SearchResult`)."""


register_kind("grid", GridSearchResult)


# ----------------------------------------------------------------------------- machinery


def finder_options(
    num_iter: int, start_lr: float, end_lr: float, val: bool, lr_find_kw: dict[str, Any] | None
) -> dict[str, Any]:
    num_iter = check_int("num_iter", num_iter, 2)
    start = check_positive("start_lr", start_lr)
    end = check_positive("end_lr", end_lr)
    if not start < end:
        raise ValueError(f"start_lr must be < end_lr, got start_lr={start_lr!r}, end_lr={end_lr!r}")
    opts: dict[str, Any] = {"num_iter": num_iter, "start_lr": start, "end_lr": end}
    if val:
        # 25 evaluations per sweep of a small fixed subset (256 samples): the finder's
        # default of 10 eval-size batches cost ~15x the sweep itself; 2 batches of 512
        # still doubled it (small_cnn, Fashion-MNIST, measured); 256 samples add ~15 %
        opts["val_every"] = max(1, num_iter // 25)
        opts["val_samples"] = 256
    extra = dict(lr_find_kw or {})
    for bad in ("model", "optimizer", "loss_fn", "train_loader", "val_loader", "seed",
                "restore", "progress"):
        if bad in extra:
            raise TypeError(f"lr_find_kw must not contain {bad!r}: the search sets it")
    opts.update(extra)
    return opts


def curve_signal(res: Any, use_val: bool) -> CurveStats:
    """Read a finder result: the validation curve when ``use_val``, else training."""
    stop = None
    if res.stop_index is not None and res.stop_index < len(res.lrs):
        stop = float(res.lrs[res.stop_index])
    if use_val:
        return curve_stats(res.val_lrs, res.val_losses, stop)
    return curve_stats(res.lrs, res.losses, stop)


def finder_rows(
    param: str,
    values: Sequence[Any],
    curves: Sequence[Any],
    *,
    use_val: bool,
    prefer: str,
    tolerance: float,
    lr_slack: float,
) -> tuple[list[int], list[dict[str, Any]], str]:
    stats = [curve_signal(c, use_val) for c in curves]
    signal = "validation loss" if use_val else "training loss"
    order, rows, reason = select_by_curves(
        param, values, stats, prefer=prefer, tolerance=tolerance, lr_slack=lr_slack,
        signal=signal,
    )
    for row, c in zip(rows, curves):
        s = c.suggest()
        row["suggested_lr"] = s.lr
        row["suggestion_confidence"] = s.confidence
        row["stop_reason"] = c.stop_reason
        row["points"] = len(c)
    return order, rows, reason


def rule_text(param: str, prefer: str, tolerance: float, lr_slack: float, use_val: bool) -> str:
    sig = "validation loss (measured during the sweep)" if use_val else "training loss"
    pick = {"largest": "the largest", "smallest": "the smallest",
            "lowest_loss": "the lowest-loss"}[prefer]
    return (
        f"One LR range test per {param} value, all from the same initial weights, seed and "
        f"data order. Each curve's {sig} is smoothed (zero-phase); a value qualifies when "
        f"its minimum is within max({tolerance:g} x the best curve's descent, 2 x the "
        f"combined noise) of the lowest minimum, and it reaches that minimum no more than "
        f"{lr_slack:g} decades of LR below the best curve (its usable LR range is not "
        f"shorter). The choice is {pick} qualifying value."
    )


def run_finder_grid(
    ctx: TrialContext,
    param: str,
    values: Sequence[Any],
    make_setters: Callable[[Any], list[tuple[str, Setter, Any]]],
    options: dict[str, Any],
    *,
    workers: int,
    progress: bool | None,
) -> list[Any]:
    trials = [Trial("finder", param, v, make_setters(v), dict(options)) for v in values]
    outs = run_trials(ctx, trials, workers=workers, progress=progress, desc=f"{param} search")
    return [o["curve"] for o in outs]


def find_max_lr(
    ctx: TrialContext, options: dict[str, Any], setters: list[tuple[str, Setter, Any]] | None = None
) -> tuple[float, dict[str, Any]]:
    """One range test (with ``setters`` applied) and its suggestion, for short runs."""
    out = run_trials(ctx, [Trial("finder", "max_lr", None, setters or [], dict(options))])[0]
    res = out["curve"]
    sug = res.suggest()
    if sug.lr is None:
        alt = res.suggest("minimum")
        if alt.lr is None:
            raise ValueError(
                f"the LR range test found no usable max_lr ({sug.reason}); pass max_lr=..."
            )
        sug = alt
    info = {"lr": sug.lr, "low": sug.low, "high": sug.high, "method": sug.method,
            "confidence": sug.confidence, "reason": sug.reason, "curve": res.to_dict()}
    return float(sug.lr), info


def cycle_options(
    epochs: int, max_lr: float, schedule: dict[str, Any] | None
) -> dict[str, Any]:
    opts = dict(schedule or {})
    for bad in ("epochs", "max_lr", "total_steps", "resume"):
        if bad in opts:
            raise TypeError(f"schedule options must not contain {bad!r}")
    from ..schedule import OneCycleSchedule

    OneCycleSchedule(2, 1.0, **opts)  # validate now, before any trial runs
    return {"epochs": check_int("epochs", epochs, 1), "max_lr": max_lr, **opts}


def short_cycle_options(
    ctx: TrialContext,
    epochs: int,
    max_lr: float | None,
    schedule: dict[str, Any] | None,
    finder: tuple[int, float, float, dict[str, Any] | None],
    setters: Sequence[tuple[str, Setter, Any]] = (),
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The options of short 1cycle runs, ``(copts, extra)``: the schedule is validated
    first, then ``max_lr`` is found by a range test (``finder`` = ``(num_iter, start_lr,
    end_lr, lr_find_kw)``, after ``setters``) when None; ``extra["lr_find"]`` keeps it."""
    extra: dict[str, Any] = {}
    cycle_options(epochs, 1.0, schedule)  # validate before any range test
    if max_lr is None:
        opts = finder_options(*finder[:3], False, finder[3])
        max_lr, extra["lr_find"] = find_max_lr(ctx, opts, list(setters))
    else:
        max_lr = check_positive("max_lr", max_lr)
    return cycle_options(epochs, max_lr, schedule), extra


def default_signal(val_loader: Any, select: str | None) -> str:
    if select is not None:
        if not isinstance(select, str):
            raise TypeError(f"select must be a record key such as 'val_loss', got {select!r}")
        if select.startswith("val_") and val_loader is None:
            raise ValueError(f"select={select!r} needs a val_loader")
        return select
    return "val_loss" if val_loader is not None else "train_loss"


# ----------------------------------------------------------------------------- public


def grid_search(
    param: str,
    values: Iterable[Any],
    setter: Setter | str | None,
    model: nn.Module | Callable[[], nn.Module],
    make_optimizer: Callable[[Any], torch.optim.Optimizer],
    loss_fn: Callable[..., torch.Tensor],
    train_loader: Iterable[Any],
    *,
    val_loader: Iterable[Any] | None = None,
    mode: str = "finder",
    prefer: str = "auto",
    num_iter: int = 100,
    start_lr: float = 1e-5,
    end_lr: float = 10.0,
    tolerance: float = 0.05,
    lr_slack: float = 0.25,
    lr_find_kw: dict[str, Any] | None = None,
    epochs: int = 1,
    max_lr: float | None = None,
    schedule: dict[str, Any] | None = None,
    metrics: Any = None,
    select: str | None = None,
    grad_clip: float | None = None,
    seed: int = 0,
    workers: int = 1,
    progress: bool | None = None,
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
            rule; ``"short_cycle"``: ``epochs`` of 1cycle at ``max_lr`` per value,
            chosen by ``select`` (default: the final validation loss).
        prefer: finder mode: ``"largest"``, ``"smallest"`` or ``"lowest_loss"``;
            ``"auto"`` is ``"largest"`` for regularisers (dropout, weight decay) and
            ``"lowest_loss"`` otherwise.
        num_iter, start_lr, end_lr, lr_find_kw: the range tests (finder mode, and the
            one that finds ``max_lr`` for short runs when it is None).
        tolerance, lr_slack: the curve rule (see
            :func:`~onecycle.search._common.select_by_curves`).
        epochs, max_lr, schedule: short runs: epochs, peak LR (None: found by a range
            test with the optimizer as built) and other ``fit_one_cycle`` options.
        metrics, select, grad_clip: passed to the :class:`~onecycle.train.Trainer`;
            ``select`` is the record key compared (``"val_loss"``, ``"val_accuracy"``,
            ``"train_loss"``).
        seed: every trial runs with this seed (same data order, same dropout masks).
        workers: run trials in this many spawn processes (1: in this process).
        progress: a tqdm bar over the trials (default: only on a terminal).

    Returns:
        :class:`GridSearchResult` with ``best``, ``runner_up``, ``reason``, ``rows``,
        ``curves`` or ``histories``, ``plot()`` and ``to_dict()``.

    A setter that raises gives a :class:`~onecycle.search.SetterError` naming the
    parameter and the value; the caller's model is unchanged in every case.
    """
    vals = check_values("values", values)
    set_fn = resolve_setter(param, setter)
    check_with_setter(param, set_fn, vals)
    if mode not in ("finder", "short_cycle"):
        raise ValueError(f"mode must be 'finder' or 'short_cycle', got {mode!r}")
    if prefer == "auto":
        prefer = "largest" if param in ("dropout", "weight_decay") else "lowest_loss"
    if prefer not in PREFER:
        raise ValueError(f"prefer must be 'auto' or one of {PREFER}, got {prefer!r}")
    check_nonnegative("tolerance", tolerance)
    check_nonnegative("lr_slack", lr_slack)
    check_callable("make_optimizer", make_optimizer, "make_optimizer(model) -> Optimizer")
    check_callable("loss_fn", loss_fn, "loss_fn(outputs, targets) -> loss")
    seed = check_int("seed", seed, 0)
    if train_loader is None:
        raise TypeError("train_loader is required")
    base = resolve_model(model, seed)
    with guarded(train_loader, val_loader):
        ctx = TrialContext(base, make_optimizer, loss_fn, train_loader, val_loader, seed,
                           metrics, grad_clip, getattr(train_loader, "epoch", None))

        def setters(v: Any) -> list[tuple[str, Setter, Any]]:
            return [(param, set_fn, v)]

        config: dict[str, Any] = {"seed": seed, "workers": workers, "mode": mode}
        if mode == "finder":
            opts = finder_options(num_iter, start_lr, end_lr, val_loader is not None, lr_find_kw)
            curves = run_finder_grid(ctx, param, vals, setters, opts, workers=workers,
                                     progress=progress)
            use_val = val_loader is not None and all(len(c.val_losses) >= 3 for c in curves)
            order, rows, reason = finder_rows(param, vals, curves, use_val=use_val, prefer=prefer,
                                              tolerance=tolerance, lr_slack=lr_slack)
            config.update(opts, prefer=prefer, tolerance=tolerance, lr_slack=lr_slack)
            return GridSearchResult(
                kind="grid", param=param, values=vals, mode=mode, rows=rows,
                best=vals[order[0]], runner_up=vals[order[1]] if len(order) > 1 else None,
                reason=reason, rule=rule_text(param, prefer, tolerance, lr_slack, use_val),
                signal="val_loss" if use_val else "train_loss", curves=curves, config=config,
            )
        signal = default_signal(val_loader, select)
        copts, extra = short_cycle_options(ctx, epochs, max_lr, schedule,
                                           (num_iter, start_lr, end_lr, lr_find_kw))
        max_lr = copts["max_lr"]
        trials = [Trial("cycle", param, v, setters(v), dict(copts)) for v in vals]
        outs = run_trials(ctx, trials, workers=workers, progress=progress,
                          desc=f"{param} search")
        rows, scores = short_run_rows(vals, outs, signal)
        best, runner, reason = pick_short_run(
            param, vals, rows, scores, signal, f"{copts['epochs']} epoch(s) of 1cycle at "
            f"max_lr={fmt(max_lr)}")
        config.update(epochs=copts["epochs"], max_lr=max_lr,
                      schedule={k: v for k, v in copts.items() if k not in ("epochs", "max_lr")})
        from ..train import History

        return GridSearchResult(
            kind="grid", param=param, values=vals, mode=mode, rows=rows, best=best,
            runner_up=runner, reason=reason,
            rule=(f"One short 1cycle training per {param} value ({copts['epochs']} epoch(s) at "
                  f"max_lr={fmt(max_lr)}), all from the same initial weights and seed; the "
                  f"value with the best final {signal} wins."),
            signal=signal, histories=[History.from_dict(o["history"]) for o in outs],
            config=config, extra=extra,
        )
