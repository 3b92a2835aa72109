"""Weight decay: by range tests (Smith's main method), confirmed by short runs, or by
snapshot and restart. The one weight-decay API of onecycle.

:func:`weight_decay_search` runs the LR range test once per weight decay, every run
from the same initial weights, seed and data order, overlays the curves and picks the
largest weight decay that still lets the network train at a high learning rate
(Smith, "A disciplined approach...", section 4.4). With a ``val_loader`` the early
validation loss measured during each sweep is the signal. ``refine=k`` then bisects
(in log space) ``k`` times between the winner and the next larger value.

The rule, Smith's "largest weight decay that still trains at a high learning rate" made
precise: each curve is smoothed without lag and read for its minimum loss and the LR of
that minimum. A weight decay qualifies when its minimum is within ``max(tolerance x the
best curve's descent, 2 x the combined noise)`` of the lowest minimum and the LR of its
minimum is no more than ``lr_slack`` decades below the best curve's. The largest
qualifying weight decay wins.

:func:`choose_weight_decay` is what the recipe and ``onecycle run`` use: the range
tests give an upper bound (a 100-iteration sweep is too short for weight decay to show
its cost), then a short 1cycle per value at or below the bound decides, and the peak
LR is read again from the chosen weight decay's curve.

The paper's cheaper alternative, snapshot and restart, is in
:mod:`onecycle.search.snapshot`.

Example:
    >>> import torch
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> x = torch.randn(256, 8); y = (x[:, 0] > 0).long()
    >>> data = [(x[i:i + 32], y[i:i + 32]) for i in range(0, 256, 32)]
    >>> res = weight_decay_search(lambda: torch.nn.Linear(8, 2),
    ...     lambda m: torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9),
    ...     torch.nn.functional.cross_entropy, data, grid=(1e-3, 1e-4, 0.0), num_iter=30)
    >>> res.best in (1e-3, 1e-4, 0.0), len(res.curves)
    (True, 3)
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from .._format import fmt_lr
from .._validate import integer, nonnegative
from .._validate import values as check_values
from .factories import LossFn, MakeOptimizer, ModelLike, build_optimizer, initial_model
from .grid import (
    check_callables,
    context,
    grid_search,
    run_finder_grid,
)
from .options import SearchOptions, refuse_leftovers
from .results import SearchResult, register_kind
from .rules import confirm_candidates, finder_rows, rule_text
from .setters import set_weight_decay
from .trials import guarded

__all__ = [
    "WeightDecayResult",
    "WeightDecayChoice",
    "weight_decay_search",
    "choose_weight_decay",
    "DEFAULT_WEIGHT_DECAYS",
    "check_weight_decays",
    "early_window",
]

#: the default grid: Smith's 1e-2 ... 1e-6, and no weight decay
DEFAULT_WEIGHT_DECAYS: tuple[float, ...] = (1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 0.0)

#: the options weight_decay_search reads
WD_FIELDS = ("num_iter", "start_lr", "end_lr", "lr_find_kw", "tolerance", "lr_slack", "method",
             "seed", "workers", "progress", "step_fn")


def check_weight_decays(name: str, grid: Any) -> list[float]:
    """Weight decays: a non-empty list of finite numbers >= 0, each once.

    >>> check_weight_decays("grid", (1e-3, 0))
    [0.001, 0.0]
    """
    return check_values(name, grid, nonnegative)


class WeightDecayResult(SearchResult):
    """Result of :func:`weight_decay_search`.

    ``best`` is the chosen weight decay, ``runner_up`` the next in the ranking,
    ``reason`` the choice in words, ``curves`` one
    :class:`~onecycle.finder.LRFinderResult` per weight decay (aligned with ``values``),
    ``rows`` the numbers read from each curve (``weight_decay``, ``min_loss``,
    ``lr_at_min``, ``lr_diverge``, ``suggested_lr``, ``accepted``, ``selected``, ``why``).
    ``plot()`` overlays the curves with each one's suggestion marked.
    """

    @property
    def suggested_lr(self) -> float | None:
        """The range test's suggested max LR at the chosen weight decay."""
        return self.row(self.best).get("suggested_lr")


register_kind("weight_decay", WeightDecayResult)


def _setters(v: float) -> list[tuple[str, Callable[..., Any], Any]]:
    return [("weight_decay", set_weight_decay, v)]


def _new_midpoints(tried: Sequence[float], winner: float) -> list[float]:
    """The log-space midpoint between the winner and the next larger value tried.

    The rule takes the largest weight decay that still trains at a high LR, so what a
    refinement can sharpen is the boundary above the winner (the smallest rejected
    value); a midpoint below it would lose to the winner by that same rule.
    """
    grid = sorted(set(tried))
    k = grid.index(winner)
    out: list[float] = []
    if k + 1 < len(grid):
        hi = grid[k + 1]
        out.append(math.sqrt(winner * hi) if winner > 0 else hi / 10.0)
    return [v for v in out if all(not math.isclose(v, t, rel_tol=1e-9, abs_tol=0.0) for t in tried)]


def _require_weight_decay(make_optimizer: Any, base: nn.Module, values: Sequence[float]) -> None:
    """Fail early, before any range test: an optimizer without weight decay, or a value
    the optimizer cannot take (:func:`set_weight_decay` says why)."""
    from ..hyper import adapter_for

    probe = build_optimizer(make_optimizer, copy.deepcopy(base))
    if not adapter_for(probe).has("weight_decay"):
        raise ValueError(
            f"optimizer {type(probe).__name__} has no weight_decay hyper-parameter, so "
            "there is nothing to search"
        )
    for v in values:
        set_weight_decay(None, probe, v)


def _range_tests(ctx: Any, values: list[float], known: Mapping[float, Any], opts: dict[str, Any],
                 o: SearchOptions) -> list[Any]:
    """One curve per value: those in ``known`` reused, the others run."""
    todo = [v for v in values if v not in known]
    ran = dict(zip(todo, run_finder_grid(ctx, "weight_decay", todo, _setters, opts,
                                         workers=o.workers, progress=o.progress)))
    return [known[v] if v in known else ran[v] for v in values]


def _decide(values: list[float], curves: list[Any], val: bool,
            o: SearchOptions) -> tuple[list[int], list[dict[str, Any]], str, bool]:
    """The curve rule on the curves so far; the validation curves when every sweep has
    at least 3 validation points."""
    use_val = val and all(len(c.val_losses) >= 3 for c in curves)
    order, rows, why = finder_rows("weight_decay", values, curves, use_val=use_val,
                                   prefer="largest", tolerance=o.tolerance,
                                   lr_slack=o.lr_slack, method=o.method)
    return order, rows, why, use_val


def weight_decay_search(
    model: ModelLike,
    make_optimizer: MakeOptimizer,
    loss_fn: LossFn,
    train_loader: Iterable[Any],
    *,
    val_loader: Iterable[Any] | None = None,
    grid: Sequence[float] = DEFAULT_WEIGHT_DECAYS,
    refine: int = 0,
    known: Mapping[float, Any] | None = None,
    options: SearchOptions | None = None,
    **settings: Any,
) -> WeightDecayResult:
    """Pick the weight decay by LR range tests, one per value, from the same start.

    Args:
        model: the initial model (never modified) or a zero-argument factory.
        make_optimizer: ``make_optimizer(model) -> Optimizer`` (or an optimizer class /
            ``functools.partial`` of one, called with the parameters). Its weight decay
            is overwritten by each grid value (groups kept at 0 stay at 0).
        loss_fn, train_loader: as for :func:`onecycle.finder.lr_find`.
        val_loader: when given, each range test also measures the validation loss along
            the sweep, and that early validation loss is the signal.
        grid: the weight decays (>= 0, non-empty, no duplicates).
        refine: bisect in log space between the winner and the next larger value
            this many times (each round runs one more range test; none when the winner
            is the largest value).
        known: range tests already run from the same start, ``{weight_decay: result}``
            (reused instead of run again).
        options, **settings: a :class:`~onecycle.search.options.SearchOptions` and/or
            its fields ``num_iter``, ``start_lr``, ``end_lr``, ``lr_find_kw`` (the range
            tests), ``tolerance``, ``lr_slack`` (the rule), ``method`` (the suggestion
            read per curve), ``seed``, ``workers``, ``progress``, ``step_fn`` (the
            step of batches that are not ``(inputs, targets)``; ``loss_fn`` may then be
            None).

    The rule is in the module docs; ``reason`` says why the value won, and why each
    larger value was rejected.

    >>> # res = weight_decay_search(make_model, make_opt, F.cross_entropy, loader)
    >>> # res.best, res.reason, res.plot()
    """
    o = SearchOptions.take(settings, options, "weight_decay_search", WD_FIELDS)
    refuse_leftovers("weight_decay_search", settings)
    values = check_weight_decays("grid", grid)
    refine = integer("refine", refine, least=0)
    check_callables(make_optimizer, loss_fn, o.step_fn)
    base = initial_model(model, o.seed)
    opts = o.finder_options(val_loader is not None)
    known = {float(k): v for k, v in (known or {}).items()}
    with guarded(train_loader, val_loader):
        ctx = context(base, make_optimizer, loss_fn, train_loader, val_loader, o)
        _require_weight_decay(make_optimizer, base, values)
        curves = _range_tests(ctx, values, known, opts, o)
        order, rows, reason, use_val = _decide(values, curves, val_loader is not None, o)
        refined: list[float] = []
        for _ in range(refine):
            new = _new_midpoints(values, values[order[0]])
            if not new:
                break
            curves += _range_tests(ctx, new, {}, opts, o)
            values += new
            refined += new
            order, rows, reason, use_val = _decide(values, curves, val_loader is not None, o)
    for r in rows:
        r["weight_decay"] = r["value"]
        r["refined"] = any(r["value"] == v for v in refined)
    config = dict(opts, grid=check_weight_decays("grid", grid), refine=refine, seed=o.seed,
                  tolerance=o.tolerance, lr_slack=o.lr_slack, workers=o.workers)
    return WeightDecayResult(
        kind="weight_decay", param="weight_decay", values=values, mode="finder", rows=rows,
        best=values[order[0]], runner_up=values[order[1]] if len(order) > 1 else None,
        reason=reason, rule=rule_text("weight_decay", "largest", o.tolerance, o.lr_slack, use_val),
        signal="val_loss" if use_val else "train_loss", curves=curves, config=config,
    )


# ----------------------------------------------------------------------------- the choice


@dataclass
class WeightDecayChoice:
    """What :func:`choose_weight_decay` decided, and the evidence.

    Attributes:
        value: the weight decay to train with.
        bound: the range tests' choice, an upper bound on it.
        search: the range tests (:class:`WeightDecayResult`).
        confirm: the short 1cycle runs that decided below the bound (None when there
            was nothing to confirm: the bound is the smallest value tried).
        max_lr: the peak LR read from the chosen weight decay's curve (None when that
            curve gives no suggestion).
        suggestion: that curve's suggestion.
        reason: how the value was chosen, in words; ``rule``: the rule in general.
    """

    value: float
    bound: float
    search: WeightDecayResult
    confirm: SearchResult | None
    max_lr: float | None
    suggestion: Any
    reason: str
    rule: str
    candidates: list[float] = field(default_factory=list)
    wall_time: float = 0.0

    @property
    def curve(self) -> Any:
        """The range test at the chosen weight decay."""
        return self.search.curve(self.value)

    @property
    def how(self) -> str:
        """How the value was chosen, in one short sentence."""
        if self.confirm is None:
            return (f"The range tests chose {fmt_lr(self.value)}: the largest weight decay "
                    "whose curve still reaches the best loss at a high LR.")
        n = self.confirm.config.get("epochs")
        return (f"The range tests gave an upper bound of {fmt_lr(self.bound)}; {n}-epoch "
                f"1cycle runs of {', '.join(fmt_lr(v) for v in self.candidates)} chose "
                f"{fmt_lr(self.value)} (lowest "
                f"{self.confirm.signal.replace('val_', 'validation ').replace('_', ' ')}).")

    def figure(self) -> Any:
        """The range tests overlaid, the chosen weight decay marked (and the range tests'
        bound, when short runs chose below it)."""
        from ..plots.search import plot_search_curves, value_label

        labels = [value_label("weight_decay", v)
                  + (" (range-test bound)" if v == self.bound != self.value else "")
                  for v in self.search.values]
        chosen = self.search.values.index(self.value)
        return plot_search_curves(self.search.curves, labels, chosen=chosen,
                                  title="Weight decay: LR range tests per weight decay")

    def confirm_rows(self) -> list[dict[str, Any]] | None:
        """One row per confirmation run (``weight_decay``, ``signal``, ``epochs``, ``loss``:
        None when it diverged, ``accuracy``), or None without confirmation runs."""
        if self.confirm is None:
            return None
        sig = self.confirm.signal
        out = []
        for r in self.confirm.rows:
            loss = r.get(sig)
            ok = isinstance(loss, (int, float)) and math.isfinite(loss) and not r.get("diverged")
            out.append({"weight_decay": float(r["value"]), "signal": sig,
                        "epochs": self.confirm.config.get("epochs"),
                        "loss": float(loss) if ok else None,
                        "accuracy": r.get("val_accuracy", r.get("train_accuracy"))})
        return out

    def record(self) -> dict[str, Any]:
        """What a report keeps: the choice, the bound, the range tests' rows, the
        confirmation rows, the reason and the rule.

        >>> # choice.record()["chosen"] == choice.value
        """
        return {"chosen": self.value, "how": self.how, "range_test_choice": self.bound,
                "values": list(self.search.values), "rows": self.search.rows,
                "confirm": self.confirm_rows(), "max_lr": self.max_lr, "reason": self.reason,
                "rule": self.rule}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> WeightDecayChoice:
        """Inverse of :meth:`to_dict` (a resumed run reads its finished step with it).

        >>> # WeightDecayChoice.from_dict(choice.to_dict()).value == choice.value
        """
        from ..finder import Suggestion

        confirm = d.get("short_runs")
        sug = d.get("suggestion")
        return cls(value=float(d["chosen"]), bound=float(d["range_test_choice"]),
                   search=SearchResult.from_dict(d["range_tests"]),  # type: ignore[arg-type]
                   confirm=None if confirm is None else SearchResult.from_dict(confirm),
                   max_lr=d.get("max_lr"), suggestion=None if sug is None else
                   Suggestion.from_dict(sug), reason=str(d["reason"]), rule=str(d["rule"]),
                   candidates=[float(v) for v in d.get("candidates") or []],
                   wall_time=float(d.get("wall_time") or 0.0))

    def to_dict(self) -> dict[str, Any]:
        """Strict JSON (what ``weight_decay.json`` holds): :meth:`record` and, nested,
        both searches (the range tests' own ``best`` is the bound, under
        ``range_tests``)."""
        from .._plain import to_plain

        return to_plain({"format": "onecycle.weight_decay_choice", "version": 1,
                         **self.record(), "range_tests": self.search.to_dict(),
                         "short_runs": None if self.confirm is None else self.confirm.to_dict(),
                         "suggestion": self.suggestion, "candidates": self.candidates,
                         "wall_time": self.wall_time})


def early_window(max_lr: float, options: SearchOptions) -> SearchOptions:
    """The range tests of a weight-decay search when ``max_lr`` is known: from
    ``max_lr / 10`` to ``2 x max_lr``, at the points per decade of ``options``' sweep.

    Weight decay shows early (Smith): the curves of different weight decays part, if at
    all, on the way up to the peak LR, so the sweep from far below and the climb to
    divergence far above add cost, not evidence. The window is 1.3 decades: 22
    iterations at the default 100-iteration, 6-decade sweep's density.

    >>> o = early_window(0.04, SearchOptions())
    >>> round(o.start_lr, 4), round(o.end_lr, 2), o.num_iter
    (0.004, 0.08, 22)
    """
    import dataclasses

    ppd = options.num_iter / math.log10(options.end_lr / options.start_lr)
    start, end = max_lr / 10.0, 2.0 * max_lr
    n = max(12, math.ceil(ppd * math.log10(end / start)))
    return dataclasses.replace(options, start_lr=start, end_lr=end, num_iter=n)


def _confirmation_text(bound: float, cands: list[float], epochs: int, max_lr: float,
                       confirm: SearchResult) -> str:
    return (f"The range tests give an upper bound of {fmt_lr(bound)}: a 100-iteration sweep "
            f"is too short for weight decay to show its cost. {epochs} epoch(s) of 1cycle at "
            f"max_lr {fmt_lr(max_lr)} for each of {', '.join(fmt_lr(v) for v in cands)} "
            f"then decided. {confirm.reason}")


def choose_weight_decay(
    model: ModelLike, make_optimizer: MakeOptimizer, loss_fn: LossFn,
    train_loader: Iterable[Any], val_loader: Iterable[Any] | None = None,
    *,
    grid: Sequence[float] = DEFAULT_WEIGHT_DECAYS,
    confirm_epochs: int | None = 1,
    validate_sweeps: bool = True,
    options: SearchOptions | None = None,
    **settings: Any,
) -> WeightDecayChoice:
    """The weight decay to train with: range tests bound it, short runs decide.

    1. :func:`weight_decay_search` over ``grid`` (with ``refine``, ``known``; its
       sweeps measure the validation loss when ``validate_sweeps`` and a
       ``val_loader`` is given);
    2. unless ``confirm_epochs`` is None, ``confirm_epochs`` of 1cycle at ``max_lr``
       (default: the suggestion of the bound's curve) per value at or below the bound
       (at most 4, :func:`~onecycle.search.rules.confirm_candidates`); the best final
       validation loss wins (ties: the larger weight decay);
    3. ``max_lr`` is read again from the chosen weight decay's curve.

    ``options`` / ``**settings`` are :class:`~onecycle.search.options.SearchOptions`
    fields (``schedule`` and ``metrics`` go to the confirmation runs), plus
    ``refine`` and ``known`` for the range tests.

    >>> # choice = choose_weight_decay(make_model, make_opt, F.cross_entropy, train, val)
    >>> # choice.value, choice.bound, choice.reason
    """
    from ..finder import NoUsableLR

    refine, known = settings.pop("refine", 0), settings.pop("known", None)
    o = SearchOptions.take(settings, options, "choose_weight_decay", SearchOptions.field_names())
    refuse_leftovers("choose_weight_decay", settings)
    import time

    t0 = time.perf_counter()
    base = initial_model(model, o.seed)
    search = weight_decay_search(base, make_optimizer, loss_fn, train_loader,
                                 val_loader=val_loader if validate_sweeps else None, grid=grid,
                                 refine=refine, known=known, options=o)
    value, confirm, reason = search.best, None, search.reason
    cands = confirm_candidates(search.values, search.best)
    max_lr = o.max_lr
    if max_lr is None:
        max_lr = o.pick(search.curve(search.best), fallback=("minimum",),
                        total_steps=_short_steps(train_loader, confirm_epochs)).lr
    if confirm_epochs is not None and len(cands) > 1 and max_lr is not None:
        confirm = grid_search("weight_decay", cands, None, base, make_optimizer, loss_fn,
                              train_loader, val_loader=val_loader, mode="short_cycle",
                              options=o, epochs=confirm_epochs, max_lr=max_lr)
        value = float(confirm.best)
        reason = _confirmation_text(search.best, cands, confirm_epochs, max_lr, confirm)
    try:  # the peak LR where the chosen weight decay's curve puts it
        pick = o.pick(search.curve(value))
    except NoUsableLR:
        pick = None
    rule = search.rule
    if confirm is not None:
        rule += (" The winner is an upper bound: a short 1cycle per value at or below it "
                 "decides, by the final validation loss.")
    return WeightDecayChoice(value=float(value), bound=float(search.best), search=search,
                             confirm=confirm, max_lr=None if pick is None else pick.lr,
                             suggestion=None if pick is None else pick.suggestion, reason=reason,
                             rule=rule, candidates=cands if confirm is not None else [],
                             wall_time=time.perf_counter() - t0)


def _short_steps(train_loader: Any, epochs: int | None) -> int | None:
    """Optimizer steps of the short runs (None without them or without a ``len``)."""
    if epochs is None:
        return None
    try:
        return epochs * max(len(train_loader), 1)
    except TypeError:
        return None
