"""res.plot() marks the suggestion where it is, labelled with the LR as shown everywhere."""

from __future__ import annotations

import numpy as np

from onecycle._format import fmt_lr
from onecycle.finder import LRFinderResult
from onecycle.plots.finder import plot_finder


def _result() -> LRFinderResult:
    lrs = np.geomspace(1e-5, 10, 90)
    t = np.log10(lrs)
    losses = 2.3 - 2.0 / (1 + np.exp(-2.5 * (t + 2))) + np.where(t > -0.5, 3 * (t + 0.5) ** 2, 0)
    return LRFinderResult(lrs, losses, losses.copy(), config={"group_ratios": [1.0]})


def test_plot_marks_the_auto_suggestion_at_its_lr():
    res = _result()
    s = res.suggest()
    ax = res.plot().axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert f"auto: {fmt_lr(s.lr)} [{fmt_lr(s.low)}, {fmt_lr(s.high)}], conf {s.confidence:.2f}" in labels
    marker = next(line for line in ax.get_lines() if line.get_label().startswith("auto:"))
    assert marker.get_xdata()[0] == s.lr


def test_overlay_labels_use_the_same_lr_format():
    res = _result()
    fig = plot_finder([res], ["wd=0"])
    texts = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert texts == [f"wd=0 (auto: {fmt_lr(res.suggest().lr)})"]
