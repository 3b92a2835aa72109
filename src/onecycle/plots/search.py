"""Plots of the searches: overlaid range tests, short-run bars, batch-size memory.

All functions build a ``matplotlib.figure.Figure`` directly (no pyplot), so they work
headless and in threads. Each search result's ``plot()`` calls :func:`plot_search`.

Example:
    >>> import numpy as np
    >>> from onecycle.finder import LRFinderResult
    >>> lrs = np.geomspace(1e-4, 1, 40)
    >>> curves = [LRFinderResult(lrs, (np.log10(lrs) + c) ** 2, lrs * 0) for c in (1, 2)]
    >>> fig = plot_search_curves(curves, ["wd=1e-4", "wd=1e-3"], chosen=0)
    >>> len(fig.axes[0].get_legend().get_texts())
    2
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "plot_search",
    "plot_search_curves",
    "plot_search_bars",
    "plot_batch_size",
    "value_label",
]


def _figure(ncols: int = 1, figsize: tuple[float, float] | None = None) -> Any:
    from matplotlib.figure import Figure

    size = figsize or (6.4 * ncols if ncols > 1 else 6.4, 4.2)
    fig = Figure(figsize=size, layout="constrained")
    axes = [fig.add_subplot(1, ncols, i + 1) for i in range(ncols)]
    return fig, axes


def _fmt(param: str, v: Any) -> str:
    """A searched value as text: weight decays and LRs as every LR is shown (``fmt_lr``)."""
    from .._format import fmt_lr, fmt_value

    if param in ("weight_decay", "lr", "max_lr") and not isinstance(v, (tuple, list)):
        return fmt_lr(v)
    return fmt_value(v)


def value_label(param: str, value: Any) -> str:
    """Legend label of one value: ``wd=1e-04``, ``dropout=0.3``, ``momentum=(0.95, 0.85)``.

    >>> value_label("weight_decay", 1e-4), value_label("dropout", 0.3)
    ('wd=0.0001', 'dropout=0.3')
    """
    short = {"weight_decay": "wd"}.get(param, param)
    return f"{short}={_fmt(param, value)}"


def _emphasise(ax: Any, label: str) -> None:
    for line in ax.get_lines():
        lab = str(line.get_label())
        if lab == label or lab.startswith(label + " "):
            line.set_linewidth(3.2)
            line.set_zorder(5)
            line.set_label(lab + " [chosen]")


def plot_search_curves(
    curves: Sequence[Any],
    labels: Sequence[str],
    *,
    chosen: int | None = None,
    val: bool = False,
    suggest: str | None = "auto",
    title: str | None = None,
) -> Any:
    """Range tests overlaid, one line per value, each curve's suggestion marked.

    ``chosen`` (an index) draws that curve thicker and tags it in the legend. With
    ``val=True`` a second panel overlays the validation losses measured during each
    sweep (the signal the choice was read from), each curve's minimum marked.
    """
    from .finder import plot_finder

    if len(curves) == 0:
        raise ValueError("plot_search_curves needs at least one curve")
    fig, axes = _figure(2 if val else 1)
    ax = axes[0]
    plot_finder(list(curves), list(labels), ax=ax, suggest=suggest)
    if chosen is not None:
        _emphasise(ax, labels[chosen])
    ax.legend(fontsize="small")
    ax.set_title(title or "LR range tests (training loss)")
    if val:
        from ..finder.suggest import smooth_curve

        vax = axes[1]
        colours = [line.get_color() for line in ax.get_lines() if
                   not str(line.get_label()).startswith("_")]
        for k, (c, label) in enumerate(zip(curves, labels)):
            x = np.asarray(c.val_lrs, dtype=float)
            y = np.asarray(c.val_losses, dtype=float)
            ok = np.isfinite(y)
            if not ok.any():
                continue
            x, y = x[ok], y[ok]
            ys = smooth_curve(y) if len(y) >= 3 else y
            colour = colours[k] if k < len(colours) else None
            (line,) = vax.plot(x, ys, "-", lw=3.2 if k == chosen else 1.6, color=colour,
                               label=label + (" [chosen]" if k == chosen else ""))
            vax.plot(x, y, ".", ms=3, alpha=0.4, color=line.get_color())
            i = int(np.argmin(ys))
            vax.plot([x[i]], [ys[i]], "v", ms=8, color=line.get_color(), markeredgecolor="k")
        vax.set_xscale("log")
        vax.set_xlabel("learning rate")
        vax.set_ylabel("validation loss (smoothed)")
        vax.set_title("validation loss during the sweeps (minimum marked)")
        vax.grid(True, which="both", alpha=0.25)
        vax.legend(fontsize="small")
    return fig


def plot_search_bars(
    labels: Sequence[str],
    values: Sequence[float | None],
    *,
    chosen: int | None = None,
    ylabel: str = "validation loss",
    secondary: Sequence[float | None] | None = None,
    secondary_label: str = "",
    xlabel: str | None = None,
    title: str | None = None,
) -> Any:
    """One bar per setting (lower is better), the chosen one highlighted; settings that
    diverged (``None``/NaN) are marked. ``secondary`` values (e.g. accuracy) are written
    above the bars.

    >>> fig = plot_search_bars(["a", "b"], [0.3, float("nan")], chosen=0)
    >>> len(fig.axes[0].patches)
    2
    """
    if len(labels) != len(values):
        raise ValueError(f"got {len(labels)} labels for {len(values)} values")
    fig, (ax,) = _figure(1, (max(4.8, 1.1 * len(labels) + 2.5), 4.2))
    vals = [math.nan if v is None else float(v) for v in values]
    finite = [v for v in vals if math.isfinite(v)]
    top = max(finite) if finite else 1.0
    low = min(finite) if finite else 0.0
    xs = np.arange(len(labels))
    heights = [v if math.isfinite(v) else top for v in vals]
    colours = ["tab:orange" if i == chosen else "tab:blue" for i in range(len(labels))]
    bars = ax.bar(xs, heights, color=colours, edgecolor="k", linewidth=0.6)
    for i, (b, v) in enumerate(zip(bars, vals)):
        if not math.isfinite(v):
            b.set_hatch("//")
            b.set_facecolor("0.85")
            ax.text(b.get_x() + b.get_width() / 2, top, "diverged", ha="center", va="bottom",
                    fontsize="small")
            continue
        txt = f"{v:.4g}"
        if secondary is not None and secondary[i] is not None and math.isfinite(secondary[i]):
            txt += f"\n{secondary_label}{secondary[i]:.3g}"
        ax.text(b.get_x() + b.get_width() / 2, v, txt, ha="center", va="bottom",
                fontsize="small")
    if finite:
        span = top - low
        ax.set_ylim(max(0.0, low - 0.5 * span) if low >= 0 else low - 0.5 * span,
                    top + 0.35 * (span or abs(top) or 1.0))
    ax.set_xticks(xs, list(labels), rotation=20 if len(labels) > 5 else 0)
    if xlabel:
        ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title or f"{ylabel} per setting (chosen in orange)")
    ax.grid(True, axis="y", alpha=0.25)
    return fig


def plot_batch_size(result: Any, *, title: str | None = None) -> Any:
    """Throughput (left axis) and memory (right axis) against the batch size, with the
    budget line and the chosen training/evaluation batch sizes marked."""
    rows = sorted(result.rows, key=lambda r: r["batch_size"])
    fig, (ax,) = _figure(1)
    bs = np.array([r["batch_size"] for r in rows], dtype=float)
    thr = np.array([np.nan if r.get("samples_per_s") is None else r["samples_per_s"]
                    for r in rows], dtype=float)
    if np.isfinite(thr).any():
        ax.plot(bs, thr, "o-", color="tab:blue", label="throughput (train)")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("batch size")
    ax.set_ylabel("samples / s (forward + backward)", color="tab:blue")
    mem = ax.twinx()
    mib = 2.0**20

    def col(key: str) -> np.ndarray:
        return np.array([np.nan if r.get(key) is None else r[key] / mib for r in rows])

    mem.plot(bs, col("train_bytes"), "s--", color="tab:red", ms=4, label="memory (train)")
    mem.plot(bs, col("eval_bytes"), "^:", color="tab:purple", ms=4, label="memory (eval)")
    limit = result.safety * result.budget_bytes / mib
    mem.axhline(limit, color="tab:red", lw=1, alpha=0.6,
                label=f"{result.safety:g} x budget ({limit:.4g} MiB)")
    mem.set_ylabel("memory (MiB)", color="tab:red")
    top = np.nanmax(np.concatenate([col("train_bytes"), col("eval_bytes"), [limit]]))
    mem.set_ylim(0, 1.15 * top if math.isfinite(top) and top > 0 else 1.0)
    ax.axvline(result.train_batch_size, color="tab:orange", lw=2, alpha=0.7,
               label=f"train batch {result.train_batch_size}")
    if result.eval_batch_size != result.train_batch_size:
        ax.axvline(result.eval_batch_size, color="tab:green", lw=2, alpha=0.5, ls="--",
                   label=f"eval batch {result.eval_batch_size}")
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = mem.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, fontsize="small", loc="upper left")
    ax.set_title(title or f"Batch size on {result.device} ({result.method})")
    ax.grid(True, which="both", alpha=0.25)
    return fig


def plot_search(result: Any, **kwargs: Any) -> Any:
    """The natural plot of any search result (what ``result.plot()`` returns)."""
    if hasattr(result, "train_batch_size"):
        return plot_batch_size(result, **kwargs)
    labels = [value_label(result.param, v) for v in result.values]
    chosen = next((i for i, r in enumerate(result.rows) if r.get("selected")), None)
    if result.mode == "finder":
        val = result.signal == "val_loss"
        kwargs.setdefault("title", f"LR range tests per {result.param}: chosen "
                                   f"{_fmt(result.param, result.best)}")
        return plot_search_curves(result.curves, labels, chosen=chosen, val=val, **kwargs)
    sig = result.signal
    values = [r.get(sig) for r in result.rows]
    values = [None if r.get("diverged") else v for r, v in zip(result.rows, values)]
    secondary = None
    if sig != "val_accuracy" and any("val_accuracy" in r for r in result.rows):
        secondary = [r.get("val_accuracy") for r in result.rows]
    kwargs.setdefault("title", f"{result.param}: {sig.replace('_', ' ')} after short runs "
                               f"(chosen {_fmt(result.param, result.best)})")
    return plot_search_bars([_fmt(result.param, v) for v in result.values], values, chosen=chosen,
                            ylabel=sig.replace("_", " "), secondary=secondary,
                            secondary_label="acc ", xlabel=result.param, **kwargs)
