"""The comparison as HTML: a section any report can embed, and a small page around it.

:func:`section_html` is the "Is 1cycle worth it here?" section (the verdict, the table,
the headline-vs-budget figure, the LR curves overlaid, the LR rules and what was
skipped); :func:`page_html` wraps it in a self-contained page (inline CSS, figures as
data URIs, every string escaped); :func:`write_html` writes ``compare.json``,
``compare.html`` and the PNGs, every file atomically.

Example:
    >>> from onecycle.compare.result import CompareReport, RunRecord
    >>> r = CompareReport({"dataset": "a<b>", "headline": "accuracy"}, [1], [0], ["ours"],
    ...                   {}, [RunRecord("ours", 1, 0, [0.1], 0.9, 0.3, 0.3, 0.9, 1.0, 0.0)])
    >>> page = page_html(r, {})
    >>> "a&lt;b&gt;" in page and "<script" not in page
    True
"""

from __future__ import annotations

import base64
import html
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .._format import fmt_seconds

__all__ = ["section_html", "page_html", "write_html", "FILES"]

#: what :func:`write_html` writes, by key
FILES = {"json": "compare.json", "html": "compare.html", "budgets": "compare_budgets.png",
         "lr_curves": "compare_lr_curves.png"}

_CSS = """
body { margin:0; background:#f4f6fa; color:#1d2433;
  font: 15px/1.5 -apple-system, "Segoe UI", Roboto, Arial, sans-serif; }
main { max-width: 1120px; margin: 0 auto; padding: 24px; }
section { background:#fff; border:1px solid #e3e7ee; border-radius:10px; padding:18px 22px;
  margin: 16px 0; }
h1 { font-size: 24px; margin: 0 0 4px; } h2 { font-size: 18px; margin: 0 0 10px; }
.sub { color:#5b6475; font-size: 13px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #e3e7ee; }
img { max-width: 100%; } li.behind { color:#b91c1c; } li.ahead { color:#15803d; }
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _img(png: bytes | None, alt: str) -> str:
    if not png:
        return ""
    data = base64.b64encode(png).decode("ascii")
    return f'<p><img alt="{_e(alt)}" src="data:image/png;base64,{data}"></p>'


def _verdict_items(report: Any) -> str:
    from .verdict import describe

    items = []
    for v in sorted(report.verdicts(), key=lambda v: (report.alternatives.index(v.alternative),
                                                       v.budget)):
        text = describe(v, report.label(v.alternative), report.unit)
        items.append(f'<li class="{_e(v.status)}">{_e(text)}</li>')
    return "<ul>" + "".join(items) + "</ul>"


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _rules_table(report: Any) -> str:
    from .alternatives import ALTERNATIVES

    rows = []
    for name in report.alternatives:
        alt = ALTERNATIVES.get(name)
        rows.append([report.label(name), alt.summary if alt else "", report.rules.get(name, ""),
                     alt.rule.source if alt else "", report.lr_text(name)])
    return _table(["alternative", "what", "LR rule", "source", "LR given (median)"], rows)


def section_html(report: Any, pngs: Mapping[str, bytes]) -> str:
    """The comparison section (HTML fragment; ``pngs``: figure bytes by key of
    :data:`FILES`)."""
    w = report.workload
    summary = "".join(f"<p>{_e(line)}</p>" for line in report.verdict_text().split("\n\n")[0]
                      .splitlines())
    tests = report.range_tests
    rt = ""
    if tests:
        secs = [t.get("time_s", 0.0) for t in tests]
        rt = (f"<p class=\"sub\">Range test: once per seed, {fmt_seconds(sum(secs) / len(secs))}"
              " on average; its time is counted in every alternative whose LR came from it.</p>")
    skipped = ""
    if report.skipped:
        skipped = "<h3>Not run</h3><ul>" + "".join(
            f"<li>{_e(report.label(k))}: {_e(v)}</li>" for k, v in report.skipped.items()) + "</ul>"
    return "".join([
        '<section id="compare"><h2>Is 1cycle worth it here?</h2>',
        f"<p class=\"sub\">{_e(w.get('model', ''))} on {_e(w.get('dataset', ''))}, optimizer "
        f"{_e(w.get('optimizer', ''))}; budgets {_e(report.budgets)} epochs; seeds "
        f"{_e(report.seeds)}; {_e(w.get('headline', ''))} on the {_e(w.get('split', ''))} "
        "split; same initial weights and batch order for every alternative of a seed.</p>",
        summary, _verdict_items(report),
        _table(report.summary_header(), report.summary_rows()), rt,
        _img(pngs.get("budgets"), "headline against budget"),
        _img(pngs.get("lr_curves"), "learning-rate curves"),
        "<h3>LR rules</h3>", _rules_table(report), skipped,
        "<p class=\"sub\">A tie is a mean paired difference (over seeds) within one standard "
        "error; see docs/compare.md.</p></section>",
    ])


def page_html(report: Any, pngs: Mapping[str, bytes]) -> str:
    """A self-contained page around :func:`section_html`."""
    w = report.workload
    title = f"onecycle compare: {w.get('model', '')} on {w.get('dataset', '')}"
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{_e(title)}</title><style>{_CSS}</style></head><body><main>"
            f"<h1>{_e(title)}</h1><div class=\"sub\">{_e(report.meta.get('created', ''))} · "
            f"data: {FILES['json']}</div>{section_html(report, pngs)}</main></body></html>\n")


def write_html(report: Any, directory: str | os.PathLike[str]) -> dict[str, Path]:
    """Write :data:`FILES` into ``directory`` (created); returns their paths by key."""
    from .._io import write_bytes_atomic, write_text_atomic
    from ..report import figure_png

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    pngs = {"budgets": figure_png(report.plot_budgets()),
            "lr_curves": figure_png(report.plot_lr_curves())}
    paths = {"json": report.save(out / FILES["json"])}
    for key, png in pngs.items():
        paths[key] = write_bytes_atomic(out / FILES[key], png)
    paths["html"] = write_text_atomic(out / FILES["html"], page_html(report, pngs))
    return paths
