"""Plot a schedule: learning rate and momentum on twin y-axes, phases shaded."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["plot_schedule"]

_PHASE_COLOURS = ["#dbe9f6", "#fde2cf", "#e2f0d9", "#eee"]


def _series(obj: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, list, str]:
    """Steps, lr, momentum, phases and a title from a schedule or a scheduler."""
    from ..schedule import Schedule

    if isinstance(obj, Schedule):  # 1cycle or any of the alternatives
        p = obj.preview()
        return p["step"], p["lr"], p.get("momentum"), obj.phases, obj.describe()
    preview = getattr(obj, "preview", None)
    if callable(preview) and hasattr(obj, "get_schedule") and getattr(obj, "total_steps", None):
        # a ParamScheduler (OneCycle included, possibly replanned): its own table
        T = obj.total_steps
        p = preview()
        lr = p.get("lr", np.full(T, np.nan))
        phases: list = []
        title = type(obj).__name__
        base = obj.get_schedule("lr") if "lr" in p else None
        named = getattr(obj, "schedule", None)  # OneCycle: its OneCycleSchedule
        if not isinstance(named, Schedule):
            named = base if isinstance(base, Schedule) else None
        if named is not None:
            title = named.describe(T)
            phases = named.phases if named.total_steps == T else []  # a replan moved them
        return p["step"], lr, p.get("momentum"), phases, title
    raise TypeError(
        "plot_schedule expects a schedule of onecycle.schedule (OneCycleSchedule, wsd(...), "
        "...), a OneCycle scheduler or a ParamScheduler with total_steps, got "
        f"{type(obj).__name__}"
    )


def plot_schedule(
    schedule: Any,
    *,
    log_lr: bool = False,
    ax: Any = None,
    title: str | None = None,
    shade_phases: bool = True,
) -> Any:
    """LR (left axis) and momentum (right axis) against the iteration.

    Args:
        schedule: a :class:`~onecycle.schedule.OneCycleSchedule`, any alternative
            schedule (:func:`~onecycle.schedule.wsd`, ...), a
            :class:`~onecycle.scheduler.OneCycle` or a ``ParamScheduler`` with
            ``total_steps``.
        log_lr: log-scale y axis for the LR.
        ax: an existing matplotlib Axes to draw on (a new Figure otherwise).
        title: figure title (default: the schedule's repr).
        shade_phases: shade warm-up / cool-down / annihilation.

    Returns:
        The matplotlib ``Figure``.

    >>> import onecycle as oc
    >>> fig = oc.plot_schedule(oc.OneCycleSchedule(1000, 0.8))
    >>> fig.savefig("schedule.png")
    >>> from onecycle.schedule import wsd
    >>> fig = oc.plot_schedule(wsd(1000, 0.8, shape="1-sqrt"))
    """
    from matplotlib.figure import Figure

    steps, lr, mom, phases, default_title = _series(schedule)
    if ax is None:
        fig = Figure(figsize=(7.5, 3.6), layout="constrained")
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    if shade_phases:
        for i, (name, a, b) in enumerate(phases):
            if b > a:
                ax.axvspan(a, b, color=_PHASE_COLOURS[i % len(_PHASE_COLOURS)], alpha=0.6, lw=0)
                ax.text(
                    (a + b) / 2, 1.0, name, transform=ax.get_xaxis_transform(),
                    ha="center", va="bottom", fontsize=8, color="#555",
                )
    ax.plot(steps, lr, color="#1f77b4", lw=2, label="learning rate")
    ax.set_xlabel("iteration")
    ax.set_ylabel("learning rate", color="#1f77b4")
    if log_lr:
        ax.set_yscale("log")
    ax.set_xlim(0, max(len(steps) - 1, 1))
    ax.grid(alpha=0.3)
    if mom is not None:
        ax2 = ax.twinx()
        ax2.plot(steps, mom, color="#d62728", lw=1.6, ls="--", label="momentum")
        ax2.set_ylabel("momentum (beta1)", color="#d62728")
        lo, hi = float(np.min(mom)), float(np.max(mom))
        pad = max((hi - lo) * 0.1, 0.005)
        ax2.set_ylim(lo - pad, hi + pad)
        h1, l1 = ax.get_legend_handles_labels()
        h2, l2 = ax2.get_legend_handles_labels()
        ax.legend(h1 + h2, l1 + l2, loc="upper right", fontsize=8, framealpha=0.9)
    t = default_title if title is None else title
    if t:
        ax.set_title(t, fontsize=9, pad=14 if shade_phases and phases else 6)
    return fig
