"""The comparison's two figures: the headline against the budget, and the LR curves.

Matplotlib is imported here only, when a figure is asked for.

Example:
    >>> from onecycle.compare.result import CompareReport, RunRecord
    >>> r = CompareReport({"headline": "accuracy"}, [1, 2], [0], ["ours"], {},
    ...                   [RunRecord("ours", b, 0, [0.1], 0.9, 0.3, 0.3, 0.9, 1.0, 0.0)
    ...                    for b in (1, 2)], lr_curves={"ours": {"1": [0.1, 0.05]}})
    >>> len(budget_figure(r).axes), len(lr_figure(r).axes)
    (1, 2)
"""

from __future__ import annotations

from typing import Any

__all__ = ["budget_figure", "lr_figure", "COLOURS"]

#: one colour per alternative, the same in both figures; ours stands out
COLOURS = {
    "ours": "#d62728", "onecycle_torch": "#ff7f0e", "warmup_cosine": "#1f77b4",
    "linear_decay": "#2ca02c", "wsd": "#9467bd", "constant": "#7f7f7f",
    "schedulefree": "#17becf", "prodigy": "#8c564b",
}


def _figure(ncols: int = 1) -> tuple[Any, Any]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4 if ncols == 1 else 4.2 * ncols, 4.0), layout="constrained")
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    return fig, axes


def budget_figure(report: Any) -> Any:
    """The headline (mean ± sd over seeds) against the budget in epochs."""
    fig, (ax,) = _figure()
    for name in report.alternatives:
        xs, ys, es = [], [], []
        for b in report.budgets:
            st = report.stats(name, b)
            if st.mean is not None:
                xs.append(b)
                ys.append(st.mean * report.scale)
                es.append((st.sd or 0.0) * report.scale)
        if not xs:
            continue
        ours = name == "ours"
        ax.errorbar(xs, ys, yerr=es, marker="o", capsize=3, label=report.label(name),
                    color=COLOURS.get(name), lw=2.4 if ours else 1.3, zorder=3 if ours else 2)
    head = report.workload.get("headline", "headline")
    split = report.workload.get("split", "test")
    ax.set_ylabel(f"{split} {'accuracy (%)' if head == 'accuracy' else head}")
    ax.set_xlabel("budget (epochs)")
    if len(report.budgets) > 1 and max(report.budgets) / min(report.budgets) >= 4:
        ax.set_xscale("log", base=2)
    ax.set_xticks(report.budgets, [str(b) for b in report.budgets])
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    better = "higher" if report.higher_is_better else "lower"
    ax.set_title(f"{report.workload.get('model', '')} on {report.workload.get('dataset', '')}"
                 f" ({better} is better; {len(report.seeds)} seeds)", fontsize=10)
    return fig


def lr_figure(report: Any) -> Any:
    """The LR of every step, every alternative overlaid, one panel per budget (the
    first seed's runs; schedule-free with its warm-up, Prodigy as d x lr)."""
    fig, axes = _figure(len(report.budgets))
    for ax, b in zip(axes, report.budgets):
        for name in report.alternatives:
            curve = report.lr_curves.get(name, {}).get(str(b))
            if not curve:
                continue
            ax.plot(range(len(curve)), curve, label=report.label(name), color=COLOURS.get(name),
                    lw=2.2 if name == "ours" else 1.1)
        ax.set_yscale("log")
        ax.set_xlabel("optimizer step")
        ax.set_title(f"{b} epoch{'s' if b != 1 else ''}", fontsize=10)
        ax.grid(alpha=0.3, which="both")
    axes[0].set_ylabel("learning rate")
    axes[0].legend(fontsize=7)
    return fig
