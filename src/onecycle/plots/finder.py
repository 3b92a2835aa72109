"""Plot LR range tests: one curve with its suggestions, or several overlaid.

The raw loss is drawn faintly, the zero-phase smoothed curve
(:func:`onecycle.finder.suggest.smooth_curve`, the one the suggestions are read from) as
the main line. The y-axis is cut a little above the curve's level before its minimum so
that the divergence at the end does not flatten the interesting part; the point where
the test stopped is marked by a dotted vertical line.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._format import fmt_lr

__all__ = ["plot_finder", "plot_result"]


def _axes(ax: Any, figsize: tuple[float, float] = (6.4, 4.2)) -> tuple[Any, Any]:
    if ax is not None:
        return ax.figure, ax
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.add_subplot()


def _finite_prefix(lrs: np.ndarray, losses: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    bad = ~np.isfinite(losses)
    cut = int(np.argmax(bad)) if bad.any() else len(losses)
    return lrs[:cut], losses[:cut]


def _smooth(losses: np.ndarray) -> np.ndarray:
    from ..finder.suggest import smooth_curve

    return smooth_curve(losses)


def _y_at(lr: float, x: np.ndarray, ys: np.ndarray, log: bool) -> float:
    if len(x) == 0:
        return math.nan
    if log:
        return float(np.interp(math.log(lr), np.log(x), ys))
    return float(np.interp(lr, x, ys))


def _ylim(curves: list[np.ndarray]) -> tuple[float, float] | None:
    """From the lowest point to a little above the level before each curve's minimum."""
    lo, hi = math.inf, -math.inf
    for ys in curves:
        if len(ys) == 0:
            continue
        i_min = int(np.argmin(ys))
        lo = min(lo, float(ys[i_min]))
        hi = max(hi, float(np.max(ys[: i_min + 1])))
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return None
    span = hi - lo
    if span <= 0:
        span = abs(hi) * 0.1 or 1.0
    return lo - 0.1 * span, hi + 0.35 * span


def _finish(ax: Any, log: bool, curves: list[np.ndarray], ylabel: str, title: str) -> None:
    """Axes, limits, labels, grid and legend, the same on every finder plot."""
    if log:
        ax.set_xscale("log")
    lim = _ylim(curves)
    if lim is not None:
        ax.set_ylim(*lim)
    ax.set_xlabel("learning rate")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize="small")


def _suggestions(result: Any, which: Any) -> list[Any]:
    if which is None or which is False:
        return []
    if isinstance(which, str):
        which = (which,)
    return [result.suggest(m) for m in which]


_MARKERS = ["o", "s", "^", "D", "v", "P"]
_SUGGEST_COLOURS = ["tab:red", "tab:purple", "tab:orange", "tab:brown", "tab:pink", "tab:olive"]


def plot_result(
    result: Any,
    ax: Any = None,
    suggestions: str | Sequence[str] | None = ("auto",),
    log: bool | None = None,
) -> Any:
    """One range test: raw and smoothed loss, band, validation, suggestions, stop point.

    ``log=None`` gives a log x-axis for ``mode="exp"`` results and a linear one for
    ``"linear"``. Each suggestion is marked on the smoothed curve; ranges (``auto``)
    are shaded. Returns the ``matplotlib.figure.Figure``.

    >>> import numpy as np
    >>> from onecycle.finder import LRFinderResult
    >>> lrs = np.geomspace(1e-4, 1, 40)
    >>> fig = plot_result(LRFinderResult(lrs, (np.log10(lrs) + 1) ** 2, lrs * 0))
    >>> fig.axes[0].get_xscale()
    'log'
    """
    fig, ax = _axes(ax)
    log = result.mode == "exp" if log is None else bool(log)
    lrs = np.asarray(result.lrs, dtype=float)
    losses = np.asarray(result.losses, dtype=float)
    x, y = _finite_prefix(lrs, losses)
    ys = _smooth(y)
    curves = [ys]
    (line,) = ax.plot(x, ys, lw=2, label="loss (smoothed)", zorder=3)
    colour = line.get_color()
    ax.plot(x, y, lw=0.8, alpha=0.35, color=colour, label="loss (raw)", zorder=2)
    band = getattr(result, "band", None)
    if band is not None and len(band.lrs):
        ax.fill_between(
            band.lrs, band.low, band.high, color=colour, alpha=0.18, lw=0,
            label=f"{band.n_runs} runs, {int(band.quantiles[0] * 100)}-"
            f"{int(band.quantiles[1] * 100)} %",
        )
    if len(result.val_lrs):
        vx, vy = _finite_prefix(np.asarray(result.val_lrs), np.asarray(result.val_losses))
        if len(vx):
            ax.plot(vx, vy, "s-", ms=3, lw=1, color="tab:green", label="validation loss")
            curves.append(vy)
    if result.stop_index is not None and result.stop_index < len(lrs):
        ax.axvline(lrs[result.stop_index], ls=":", color="0.4", lw=1,
                   label=f"stopped ({result.stop_reason})")
    for k, s in enumerate(_suggestions(result, suggestions)):
        if s.lr is None:
            ax.plot([], [], " ", label=f"{s.method}: no suggestion")
            continue
        rng = ""
        if s.low is not None and s.high is not None and s.high > s.low:
            ax.axvspan(s.low, s.high, color=_SUGGEST_COLOURS[k % len(_SUGGEST_COLOURS)],
                       alpha=0.10, lw=0)
            rng = f" [{fmt_lr(s.low)}, {fmt_lr(s.high)}]"
        conf = "" if s.confidence is None else f", conf {s.confidence:.2f}"
        ax.plot([s.lr], [_y_at(s.lr, x, ys, log)], _MARKERS[k % len(_MARKERS)], ms=8,
                color=_SUGGEST_COLOURS[k % len(_SUGGEST_COLOURS)], markeredgecolor="k",
                zorder=4, label=f"{s.method}: {fmt_lr(s.lr)}{rng}{conf}")
    title = "LR range test"
    if result.stop_index is not None:
        title += f" (stopped: {result.stop_reason})"
    _finish(ax, log, curves, "loss", title)
    return fig


def plot_finder(
    results: Any,
    labels: Sequence[str] | None = None,
    *,
    ax: Any = None,
    suggest: str | None = "auto",
    log: bool | None = None,
) -> Any:
    """Several range tests overlaid on one axis, each with its suggestion marked.

    Smith's picture for choosing weight decay (or batch size, dropout, ...): one curve
    per setting, the one that reaches the lowest loss at the highest LR wins. ``results``
    is one :class:`~onecycle.finder.LRFinderResult` or a sequence of them; ``labels``
    name them (default ``run 0``, ``run 1``, ...). ``suggest=None`` marks nothing.
    ``log=None``: log x-axis when any result is an ``"exp"`` sweep.

    >>> import numpy as np
    >>> from onecycle.finder import LRFinderResult
    >>> lrs = np.geomspace(1e-4, 1, 40)
    >>> rs = [LRFinderResult(lrs, (np.log10(lrs) + c) ** 2, lrs * 0) for c in (1, 2)]
    >>> fig = plot_finder(rs, ["wd=1e-4", "wd=1e-3"])
    >>> len(fig.axes[0].get_lines()) >= 2
    True
    """
    if hasattr(results, "lrs"):
        results = [results]
    results = list(results)
    if not results:
        raise ValueError("plot_finder needs at least one result")
    if labels is None:
        labels = [f"run {i}" for i in range(len(results))]
    labels = list(labels)
    if len(labels) != len(results):
        raise ValueError(f"got {len(labels)} labels for {len(results)} results")
    fig, ax = _axes(ax)
    log = any(r.mode == "exp" for r in results) if log is None else bool(log)
    curves = []
    for r, label in zip(results, labels, strict=True):
        x, y = _finite_prefix(np.asarray(r.lrs, dtype=float), np.asarray(r.losses, dtype=float))
        ys = _smooth(y)
        curves.append(ys)
        (line,) = ax.plot(x, ys, lw=1.8, label=label)
        if suggest is None:
            continue
        s = r.suggest(suggest)
        if s.lr is not None:
            ax.plot([s.lr], [_y_at(s.lr, x, ys, log)], "o", ms=7, color=line.get_color(),
                    markeredgecolor="k", zorder=4)
            line.set_label(f"{label} ({suggest}: {fmt_lr(s.lr)})")
        else:
            line.set_label(f"{label} (no suggestion)")
    _finish(ax, log, curves, "loss (smoothed)", "LR range tests")
    return fig
