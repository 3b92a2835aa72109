"""Plot a training history: losses, metrics, and the LR/momentum schedule underneath."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

__all__ = ["plot_history", "plot_comparison"]

_FIT_COLOURS = {"one_cycle": "#1f77b4", "constant": "#7f7f7f", "tail": "#2ca02c"}


def _ema(values: np.ndarray, beta: float = 0.9) -> np.ndarray:
    """Bias-corrected exponential moving average, skipping non-finite values."""
    out = np.empty_like(values)
    avg, n = 0.0, 0
    for i, v in enumerate(values):
        if math.isfinite(v):
            n += 1
            avg = beta * avg + (1 - beta) * v
        out[i] = avg / (1 - beta**n) if n else np.nan
    return out


def _floats(values: list[Any]) -> np.ndarray:
    return np.array([np.nan if v is None else float(v) for v in values], dtype=float)


def plot_history(
    history: Any,
    *,
    smooth: float = 0.9,
    log_loss: bool = False,
    log_lr: bool = False,
    title: str | None = None,
    figsize: tuple[float, float] | None = None,
) -> Any:
    """Training history as a matplotlib ``Figure`` (no pyplot).

    Panels, sharing the iteration axis:

    1. loss: per-iteration training loss (faint) with its moving average, per-epoch
       mean training loss and validation loss (markers at each epoch's end);
    2. metrics (only when the epoch records have ``val_*`` metrics besides the loss);
    3. the schedule actually used: learning rate (left axis) and momentum / beta1
       (right axis) per iteration.

    Successive fits are separated by dotted lines and labelled; a divergence stop is
    marked with a red cross.

    Args:
        history: a :class:`~onecycle.train.History`.
        smooth: EMA factor for the smoothed training loss (0 disables smoothing).
        log_loss, log_lr: log-scale y axes.
        title: figure title.
        figsize: matplotlib figure size in inches.

    >>> from onecycle.train import History
    >>> h = History(); h.add_iteration(0.1, 0.9, 1.0); h.add_iteration(0.2, 0.85, 0.8)
    >>> h.add_record({"epoch": 0, "iteration": 2, "train_loss": 0.9, "val_loss": 0.7})
    >>> fig = plot_history(h); len(fig.axes) >= 2
    True
    """
    from matplotlib.figure import Figure

    loss = _floats(history.loss)
    it = np.arange(1, len(loss) + 1)
    records = list(history.records)
    metric_keys = _metric_keys(records)
    n_panels = 3 if metric_keys else 2
    ratios = [3, 2, 2] if metric_keys else [3, 2]
    fig = Figure(figsize=figsize or (8.0, 2.4 * n_panels + 0.6), layout="constrained")
    axes = fig.subplots(n_panels, 1, sharex=True, gridspec_kw={"height_ratios": ratios})
    ep_it = np.array([r.get("iteration", np.nan) for r in records], dtype=float)
    _loss_panel(axes[0], it, loss, records, ep_it, smooth, log_loss)
    if metric_keys:
        _metric_panel(axes[1], metric_keys, records, ep_it)
    _schedule_panel(axes[-1], it, _floats(history.lr), _floats(history.momentum), log_lr)
    _fit_marks(axes, history, it)
    if len(it):
        axes[-1].set_xlim(0.5, max(len(it), 1) + 0.5)
    if title is None:
        title = _default_title(records, len(loss))
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def _metric_keys(records: list[dict[str, Any]]) -> list[str]:
    keys: list[str] = []
    for r in records:
        for k, v in r.items():
            if (k.startswith("val_") or k.startswith("train_")) and k not in (
                "val_loss", "train_loss"
            ) and isinstance(v, (int, float)) and k not in keys:
                keys.append(k)
    return keys


def _loss_panel(ax: Any, it: np.ndarray, loss: np.ndarray, records: list[dict[str, Any]],
                ep_it: np.ndarray, smooth: float, log_loss: bool) -> None:
    if len(loss):
        ax.plot(it, loss, color="#1f77b4", alpha=0.25, lw=0.8, label="train loss (batch)")
        if 0 < smooth < 1:
            ax.plot(it, _ema(loss, smooth), color="#1f77b4", lw=1.6,
                    label="train loss (smoothed)")
    for key, colour, marker in (("train_loss", "#0b3d91", "o"), ("val_loss", "#ff7f0e", "s")):
        vals = _floats([r.get(key) for r in records])
        if np.isfinite(vals).any():
            ax.plot(ep_it, vals, color=colour, marker=marker, ms=4, lw=1.4,
                    label=key.replace("_", " ") + " (epoch)")
    finite = loss[np.isfinite(loss)]
    if finite.size:
        lo, hi = float(np.min(finite)), float(np.percentile(finite, 99))
        if hi > lo and not log_loss:
            span = hi - lo
            ax.set_ylim(lo - 0.05 * span, hi + 0.15 * span)
    if log_loss:
        ax.set_yscale("log")
    ax.set_ylabel("loss")
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, loc="upper right", framealpha=0.9)


def _metric_panel(ax: Any, keys: list[str], records: list[dict[str, Any]],
                  ep_it: np.ndarray) -> None:
    for k in keys:
        vals = _floats([r.get(k) for r in records])
        ax.plot(ep_it, vals, marker="o", ms=4, lw=1.4, label=k.replace("_", " "))
    ax.set_ylabel("metric")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right", framealpha=0.9)


def _schedule_panel(ax: Any, it: np.ndarray, lr: np.ndarray, mom: np.ndarray,
                    log_lr: bool) -> None:
    if len(lr):
        ax.plot(it[: len(lr)], lr, color="#1f77b4", lw=1.6, label="learning rate")
    ax.set_ylabel("learning rate", color="#1f77b4")
    if log_lr:
        ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.grid(alpha=0.3)
    if np.isfinite(mom).any():
        ax_m = ax.twinx()
        ax_m.plot(it[: len(mom)], mom, color="#d62728", lw=1.3, ls="--", label="momentum")
        ax_m.set_ylabel("momentum (beta1)", color="#d62728")
        m = mom[np.isfinite(mom)]
        lo, hi = float(m.min()), float(m.max())
        pad = max((hi - lo) * 0.1, 0.005)
        ax_m.set_ylim(lo - pad, hi + pad)
        h1, l1 = ax.get_legend_handles_labels()
        h2, l2 = ax_m.get_legend_handles_labels()
        ax.legend(h1 + h2, l1 + l2, fontsize=8, loc="upper right", framealpha=0.9)


def _fit_marks(axes: Any, history: Any, it: np.ndarray) -> None:
    """Dotted lines between successive fits, their kinds, and divergence stops."""
    ax_loss, ax_sched = axes[0], axes[-1]
    fits = list(getattr(history, "fits", []) or [])
    for j, f in enumerate(fits):
        start = int(f.get("start_iteration", 0))
        kind = str(f.get("kind", "fit"))
        if j > 0:
            for ax in axes:
                ax.axvline(start + 0.5, color="#555", ls=":", lw=1)
        if len(fits) > 1:
            ax_sched.text(start + 1, 0.02, f" {kind}", transform=ax_sched.get_xaxis_transform(),
                          va="bottom", ha="left", fontsize=7,
                          color=_FIT_COLOURS.get(kind, "#555"))
    stops = [(int(f.get("start_iteration", 0)), (f.get("meta") or {}).get("diverged"))
             for f in fits]
    if not fits:
        stops = [(0, (getattr(history, "meta", {}) or {}).get("diverged"))]
    for start, div in stops:
        if isinstance(div, dict) and "step" in div:
            x = start + int(div["step"]) + 1
            ax_loss.axvline(x, color="#d62728", lw=1, alpha=0.6)
            right = x > 0.8 * max(len(it), 1)
            ax_loss.text(x, 0.98, "diverged " if right else " diverged", color="#d62728",
                         fontsize=8, va="top", ha="right" if right else "left",
                         transform=ax_loss.get_xaxis_transform())


def _default_title(records: list[dict[str, Any]], iterations: int) -> str:
    last = records[-1] if records else {}
    parts = [f"{len(records)} epochs, {iterations} iterations"]
    for k in ("val_loss", "val_accuracy"):
        v = last.get(k)
        if isinstance(v, (int, float)):
            parts.append(f"{k.replace('_', ' ')} {v:.4g}")
    return "training history: " + ", ".join(parts)


def _epoch_series(h: Any, key: str | Callable[[Mapping[str, Any]], Any]
                  ) -> tuple[list[int], list[float]]:
    xs, ys = [], []
    for i, r in enumerate(h.records):
        v = key(r) if callable(key) else r.get(key)
        if isinstance(v, int | float) and math.isfinite(float(v)):
            xs.append(i + 1)
            ys.append(float(v))
    return xs, ys


def plot_comparison(
    histories: Mapping[str, Any],
    *,
    headline: Callable[[Mapping[str, Any]], float | None] | None = None,
    name: str = "accuracy",
    lower_is_better: bool = False,
    loss_name: str = "cross-entropy",
) -> Any:
    """Loss (train dashed, validation solid), the validation headline and the LR per
    iteration for several runs (``{"1cycle": history, "baseline": history}``).

    ``headline(record)`` reads the headline from an epoch record (default: its
    ``val_accuracy``, shown in %); ``name`` labels it, ``lower_is_better`` says its
    direction in the panel's title, ``loss_name`` labels the loss axis.

    >>> from onecycle.train import History
    >>> h = History(); h.add_iteration(0.1, 0.9, 1.0)
    >>> h.add_record({"epoch": 0, "train_loss": 1.0, "val_loss": 0.9, "val_accuracy": 0.5})
    >>> len(plot_comparison({"a": h}).axes)
    3
    >>> fig = plot_comparison({"a": h}, headline=lambda r: r["val_loss"] ** 0.5, name="RMSE",
    ...                       lower_is_better=True, loss_name="MSE")
    >>> fig.axes[1].get_title(), fig.axes[0].get_ylabel()
    ('validation RMSE (lower is better)', 'MSE')
    """
    from matplotlib.figure import Figure

    percent = headline is None
    if headline is None:
        def headline(record: Mapping[str, Any]) -> float | None:
            return record.get("val_accuracy")
    colours = ["#2563eb", "#6b7280", "#d97706", "#059669"]
    fig = Figure(figsize=(12.5, 3.8), layout="constrained")
    ax_loss, ax_acc, ax_lr = fig.subplots(1, 3)
    for k, (label, h) in enumerate(histories.items()):
        c = colours[k % len(colours)]
        x, y = _epoch_series(h, "train_loss")
        ax_loss.plot(x, y, "--", color=c, lw=1.5, marker="o", ms=3, label=f"{label} train")
        x, y = _epoch_series(h, "val_loss")
        ax_loss.plot(x, y, "-", color=c, lw=2, marker="o", ms=4, label=f"{label} val")
        x, y = _epoch_series(h, headline)
        ax_acc.plot(x, [100 * v for v in y] if percent else y, "-", color=c, lw=2, marker="o",
                    ms=4, label=label)
        lr = [float(v) for v in h.lr]
        ax_lr.plot(range(1, len(lr) + 1), lr, color=c, lw=1.8, label=label)
    ax_loss.set_title("loss per epoch")
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel(loss_name)
    ax_loss.set_yscale("log")
    from matplotlib.ticker import FormatStrFormatter, LogLocator, NullFormatter

    ax_loss.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax_loss.yaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax_loss.yaxis.set_minor_formatter(NullFormatter())
    ax_acc.set_title(f"validation {name}" + (" (lower is better)" if lower_is_better else ""))
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylabel("%" if percent else name)
    ax_lr.set_title("learning rate per iteration")
    ax_lr.set_xlabel("iteration")
    from matplotlib.ticker import MaxNLocator

    for ax in (ax_loss, ax_acc, ax_lr):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    return fig
