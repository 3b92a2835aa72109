"""The figures of a run's report: the range test with the LRs used marked, the
weight-decay range tests, the schedule, and the training curves side by side.

Example:
    >>> import numpy as np
    >>> from onecycle.finder import LRFinderResult
    >>> lrs = np.geomspace(1e-4, 1, 40)
    >>> res = LRFinderResult(lrs, (np.log10(lrs) + 2) ** 2, (np.log10(lrs) + 2) ** 2)
    >>> fig = finder_figure(res, 0.01, 0.001, "range test")
    >>> [t.get_text() for t in fig.axes[0].get_legend().get_texts()][-2:]
    ['max_lr used: 0.01', 'baseline LR: 0.001']
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._format import fmt_lr

__all__ = ["comparison_options", "finder_figure", "run_figures"]


def finder_figure(res: Any, max_lr: float | None, baseline_lr: float | None, title: str) -> Any:
    """The range test (its ``auto`` suggestion marked) with the peak LR the cycle used
    and the baseline's constant LR drawn as vertical lines."""
    fig = res.plot(suggestions=("auto",))
    ax = fig.axes[0]
    if max_lr is not None:
        ax.axvline(max_lr, color="#b91c1c", lw=1.5, ls="--", label=f"max_lr used: {fmt_lr(max_lr)}")
    if baseline_lr is not None:
        ax.axvline(baseline_lr, color="#6b7280", lw=1.2, ls=":",
                   label=f"baseline LR: {fmt_lr(baseline_lr)}")
    ax.set_title(title)
    ax.legend(fontsize="small", loc="best", framealpha=0.9)
    return fig


def comparison_options(task: Any) -> dict[str, Any]:
    """:func:`onecycle.plots.history.plot_comparison`'s options for a task: its headline
    read from each epoch record, its name and direction, the loss's name (none for
    classification: accuracy in % and cross-entropy are the defaults).

    >>> from onecycle.tasks import TASKS
    >>> sorted(comparison_options(TASKS["language_model"]))
    ['headline', 'loss_name', 'lower_is_better', 'name']
    """
    if task is None or task.name == "classification":
        return {}
    return {"headline": task.of_record, "name": task.label,
            "lower_is_better": not task.higher_is_better, "loss_name": task.loss_name}


def run_figures(curve: Any, max_lr: float, baseline_lr: float | None, weight_decay: float,
                choice: Any, schedule: Any, style: str,
                histories: Mapping[str, Any], *, task: Any = None) -> dict[str, Any]:
    """The report's figures by section key: ``finder`` (when a range test ran),
    ``weight_decay`` (when the weight decay was searched), ``schedule``, ``comparison``
    (the losses named and the headline plotted as ``task`` has them, a
    :class:`onecycle.tasks.Task`; None: classification)."""
    from ..plots import plot_schedule
    from ..plots.history import plot_comparison

    figures: dict[str, Any] = {}
    if curve is not None:
        figures["finder"] = finder_figure(curve, max_lr, baseline_lr,
                                          f"LR range test (weight decay {fmt_lr(weight_decay)})")
    if choice is not None:
        figures["weight_decay"] = choice.figure()
    figures["schedule"] = plot_schedule(
        schedule, title=f"1cycle ({style}): max_lr {fmt_lr(max_lr)}, {schedule.total_steps} steps")
    figures["comparison"] = plot_comparison(histories, **comparison_options(task))
    return figures
