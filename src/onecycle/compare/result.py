"""What a comparison measured: every run, the range tests, the verdicts, as JSON.

:class:`CompareReport` holds one :class:`RunRecord` per (alternative, budget, seed),
the range tests (with their wall time: it is counted in every alternative whose LR came
from them) and the LR curves actually used. It computes the statistics (mean and
standard deviation over seeds of the headline, the validation loss and the time
including tuning), the verdicts of :mod:`onecycle.compare.verdict`, a plain-text table
and the verdict in words; ``to_dict``/``from_dict``, ``save``/``load`` (atomic JSON)
and ``write(directory)`` (JSON, HTML page and figures).

Headline values are stored as the task computes them (accuracy as a fraction); they are
shown in display units (accuracy in percent, differences in points).

Example:
    >>> r = CompareReport({"headline": "accuracy", "higher_is_better": True}, [2], [0],
    ...                   ["ours", "constant"], {}, [
    ...     RunRecord("ours", 2, 0, [0.1], 0.95, 0.2, 0.2, 0.95, 1.0, 0.5),
    ...     RunRecord("constant", 2, 0, [0.01], 0.90, 0.3, 0.3, 0.90, 1.0, 0.5)])
    >>> r.verdicts()[0].status, r.verdict_lines()[0]
    ('ahead', '1cycle is ahead of constant LR by 5.00 ± 0.00 points at 2 epochs (1 seed: no error bar)')
"""

from __future__ import annotations

import dataclasses
import math
import os
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._format import DASH, fmt_lr, fmt_seconds
from .._io import JSONFile, check_format
from .._plain import to_plain
from .verdict import Verdict, budget_summary, describe, epochs_text, judge

__all__ = ["RunRecord", "CompareReport", "Stats", "FORMAT"]

#: the ``format`` entry of compare.json
FORMAT = "onecycle-compare"


@dataclass
class RunRecord:
    """One training run of one alternative at one budget and seed.

    Attributes:
        alternative, budget, seed: which run (budget in epochs).
        lr: the LR per param group it was given (Prodigy: its lr factor).
        headline: the task's headline on the evaluation split (test, else validation).
        loss: the loss on that split; val_loss, val_headline: on the validation split
            at the end of training (None without one).
        train_s: wall time of the training; tuning_s: what finding its LR cost (the
            range test, and the other runs of a grid).
        steps: optimizer steps; diverged: the divergence guard stopped it.
        grid: the grid's runs, ``[{"factor", "lr", "val_headline", "train_s"}]``, when
            the LR was tuned by a grid.
        first_loss: the loss of the first batch, before any step: the same for every
            alternative of a seed (same weights, same batch), which a reader can check.
    """

    alternative: str
    budget: int
    seed: int
    lr: list[float]
    headline: float | None
    loss: float | None
    val_loss: float | None
    val_headline: float | None
    train_s: float
    tuning_s: float
    steps: int = 0
    diverged: bool = False
    grid: list[dict[str, Any]] | None = None
    first_loss: float | None = None

    @property
    def total_s(self) -> float:
        """Wall time from nothing to this result: tuning and training."""
        return self.tuning_s + self.train_s

    def to_dict(self) -> dict[str, Any]:
        """Every field (what :meth:`CompareReport.to_dict` writes per run)."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Stats:
    """Mean and standard deviation over seeds of one (alternative, budget).

    >>> Stats.of([1.0, 3.0]).mean, Stats.of([1.0, 3.0]).sd, Stats.of([None]).n
    (2.0, 1.4142135623730951, 0)
    """

    mean: float | None
    sd: float | None
    n: int

    @classmethod
    def of(cls, values: Sequence[float | None]) -> Stats:
        xs = [float(v) for v in values if v is not None and math.isfinite(float(v))]
        if not xs:
            return cls(None, None, 0)
        return cls(statistics.fmean(xs), statistics.stdev(xs) if len(xs) > 1 else 0.0, len(xs))

    def text(self, scale: float = 1.0, digits: int = 2) -> str:
        """``'97.12 ± 0.31'`` (times ``scale``), or a dash."""
        if self.mean is None:
            return DASH
        return f"{self.mean * scale:.{digits}f} ± {(self.sd or 0.0) * scale:.{digits}f}"


def _label(name: str) -> str:
    from .alternatives import ALTERNATIVES

    alt = ALTERNATIVES.get(name)
    return alt.label if alt is not None else name


@dataclass
class CompareReport(JSONFile, format=FORMAT, what="a onecycle compare report"):
    """The result of :func:`onecycle.compare.compare` (see the module docs).

    Attributes:
        workload: what was trained -- ``dataset``, ``model``, ``optimizer``,
            ``family``, ``headline``, ``higher_is_better``, ``unit``, ``chance``,
            ``split`` (where the headline was measured), ``steps_per_epoch``.
        budgets, seeds: as run; alternatives: names run (``ours`` first);
            skipped: ``{name: reason}`` for those that could not run.
        runs: every :class:`RunRecord`.
        range_tests: one dict per seed (``seed``, ``time_s``, ``max_lr`` per budget,
            ``minimum``, ``method``, ``reason``).
        lr_curves: ``{alternative: {budget: [lr per step]}}`` of the first seed.
        rules: ``{alternative: the LR rule in words}``.
        options, meta: how it was run (tune, grid, command, versions, wall time).
    """

    workload: dict[str, Any]
    budgets: list[int]
    seeds: list[int]
    alternatives: list[str]
    skipped: dict[str, str]
    runs: list[RunRecord]
    range_tests: list[dict[str, Any]] = field(default_factory=list)
    lr_curves: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    rules: dict[str, str] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    # ---------------------------------------------------------------- units
    @property
    def higher_is_better(self) -> bool:
        return bool(self.workload.get("higher_is_better", True))

    @property
    def scale(self) -> float:
        """Display factor of the headline: 100 for accuracy (percent), else 1."""
        return 100.0 if self.workload.get("headline") == "accuracy" else 1.0

    @property
    def unit(self) -> str:
        """The unit of a difference: ``"points"`` for accuracy, else the headline's."""
        if self.workload.get("headline") == "accuracy":
            return "points"
        return str(self.workload.get("unit") or self.workload.get("headline") or "")

    def label(self, name: str) -> str:
        """The display name of an alternative."""
        return _label(name)

    # ---------------------------------------------------------------- statistics
    def records(self, alternative: str, budget: int) -> list[RunRecord]:
        """The runs of one (alternative, budget), in seed order."""
        rs = [r for r in self.runs if r.alternative == alternative and r.budget == budget]
        return sorted(rs, key=lambda r: self.seeds.index(r.seed) if r.seed in self.seeds else r.seed)

    def stats(self, alternative: str, budget: int, what: str = "headline") -> Stats:
        """:class:`Stats` of ``what`` (a :class:`RunRecord` field, or ``"total_s"``)."""
        return Stats.of([getattr(r, what) for r in self.records(alternative, budget)])

    def _by_seed(self, alternative: str, budget: int) -> list[float | None]:
        got = {r.seed: r.headline for r in self.records(alternative, budget)}
        return [None if got.get(s) is None else got[s] * self.scale for s in self.seeds]

    def verdicts(self) -> list[Verdict]:
        """Ours against every other alternative at every budget (display units)."""
        chance = self.workload.get("chance")
        floor = None if chance is None else float(chance) * self.scale
        out = []
        for b in self.budgets:
            ours = self._by_seed("ours", b)
            for name in self.alternatives:
                if name != "ours":
                    out.append(judge(ours, self._by_seed(name, b),
                                     higher_is_better=self.higher_is_better, floor=floor,
                                     alternative=name, budget=b))
        return out

    def verdict_lines(self) -> list[str]:
        """Every verdict in plain words, by alternative then budget."""
        vs = sorted(self.verdicts(), key=lambda v: (self.alternatives.index(v.alternative),
                                                     v.budget))
        return [describe(v, self.label(v.alternative), self.unit) for v in vs]

    def verdict_text(self) -> str:
        """The verdict for a reader: one line per budget, then where an alternative
        wins (said plainly: telling you is the point), then every comparison."""
        vs = self.verdicts()
        labels = {n: self.label(n) for n in self.alternatives}
        lines = budget_summary(vs, labels)
        wins = [v for v in vs if v.status == "behind"]
        if wins:
            lines.append("Where an alternative wins: " + "; ".join(
                f"{labels[v.alternative]} at {epochs_text(v.budget)} (by "
                f"{abs(v.diff or 0):.2f} ± {v.se or 0:.2f} {self.unit})" for v in wins)
                + ". Consider it for that budget.")
        else:
            lines.append("No alternative is ahead of 1cycle at any budget measured.")
        return "\n".join(lines + [""] + self.verdict_lines())

    # ---------------------------------------------------------------- table
    def summary_rows(self) -> list[list[str]]:
        """Rows: alternative, LR rule, then per budget the headline (mean ± sd over
        seeds), the validation loss and the wall time including tuning (median)."""
        rows = []
        for name in self.alternatives:
            row = [self.label(name), self.rules.get(name, "")]
            for b in self.budgets:
                rs = self.records(name, b)
                row.append(self.stats(name, b).text(self.scale))
                row.append(self.stats(name, b, "val_loss").text(1.0, 4))
                times = [r.total_s for r in rs]
                row.append(fmt_seconds(statistics.median(times)) if times else DASH)
            rows.append(row)
        return rows

    def summary_header(self) -> list[str]:
        """The header of :meth:`summary_rows`."""
        head = self.workload.get("headline", "headline")
        shown = "accuracy %" if head == "accuracy" else str(head)
        cols = ["alternative", "LR"]
        for b in self.budgets:
            at = epochs_text(b)
            cols += [f"{shown} @ {at}", f"val loss @ {at}", f"time @ {at}"]
        return cols

    def summary_table(self) -> str:
        """A plain-text table of :meth:`summary_rows` (what the command line prints)."""
        rows = [self.summary_header()] + self.summary_rows()
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(lines)

    def lr_text(self, name: str) -> str:
        """The LRs an alternative was given (first group, median over runs)."""
        lrs = [r.lr[0] for r in self.runs if r.alternative == name and r.lr]
        return fmt_lr(statistics.median(lrs)) if lrs else DASH

    # ---------------------------------------------------------------- JSON
    # save/load/to_json: onecycle._io.JSONFile's; the header and every field, plus the
    # derived verdicts (recomputed on reading, never read back)
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, with ``format`` and ``version``, the verdicts and their words."""
        return {**super().to_dict(), "verdicts": to_plain(self.verdicts()),
                "verdict": self.verdict_text()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CompareReport:
        """Inverse of :meth:`to_dict` (the derived verdicts are recomputed)."""
        check_format(d, FORMAT, cls.json_what, version=cls.json_version)
        names = {f.name for f in dataclasses.fields(cls)}
        kw = {k: v for k, v in d.items() if k in names}
        kw["runs"] = [RunRecord(**r) for r in d.get("runs", [])]
        return cls(**kw)

    # ---------------------------------------------------------------- output
    def plot_budgets(self) -> Any:
        """The headline against the budget, one line per alternative (a figure)."""
        from .figures import budget_figure

        return budget_figure(self)

    def plot_lr_curves(self) -> Any:
        """The LR curves of every alternative overlaid, one panel per budget."""
        from .figures import lr_figure

        return lr_figure(self)

    def write(self, directory: str | os.PathLike[str]) -> dict[str, Path]:
        """``compare.json``, ``compare.html`` and the two PNGs in ``directory``."""
        from .html import write_html

        return write_html(self, directory)
