"""Plots: schedules, finder curves (several overlaid), training histories.

Every function returns a ``matplotlib.figure.Figure`` built without pyplot, so plots
work headless, in threads and in notebooks alike. Save with ``fig.savefig(path)``.
"""

from __future__ import annotations

from .._imports import lazy_attributes

_EXPORTS = {
    "plot_schedule": "onecycle.plots.schedule",
    "plot_finder": "onecycle.plots.finder",
    "plot_history": "onecycle.plots.history",
    "plot_result": "onecycle.plots.finder",
    "plot_search": "onecycle.plots.search",
    "plot_search_curves": "onecycle.plots.search",
    "plot_search_bars": "onecycle.plots.search",
    "plot_batch_size": "onecycle.plots.search",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_attributes(__name__, _EXPORTS, globals())
