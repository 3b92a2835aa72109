"""A self-contained HTML report of a run: one file, inline CSS, images as data URIs.

:func:`write_report` writes ``report.html`` (opens offline, no external URL anywhere),
``summary.json`` and one PNG per figure into a directory. Every string that came from
the user or the run (run name, dataset, model, command line, configuration, notes) is
HTML-escaped, so a name such as ``<script>`` shows as text.

The ``summary`` dict is what ``onecycle run`` produces (:func:`onecycle.pipeline.run`);
the report reads these keys when present and skips a section when its data is missing:

``name``, ``created``, ``versions``, ``device``, ``total_wall_time``, ``command``,
``dataset`` (``name``, ``sizes``, ``input_shape``, ``num_classes``), ``model``
(``name``, ``parameters``), ``epochs``, ``batch_size``, ``steps_per_epoch``,
``max_lr`` (``value``, ``low``, ``high``, ``confidence``, ``source``, ``method``,
``reason``), ``finder``, ``weight_decay`` (``chosen``, ``rows``, ``rule``,
``reason``), ``schedule``, ``runs`` (``"1cycle"`` and ``"baseline"``, each with
``final``, ``best``, ``wall_time``, ``lr``, ``description``), ``baseline_rule``,
``notes``.

Figures are matched to sections by key: ``"finder"``, ``"weight_decay"``,
``"schedule"``, ``"comparison"``; any other key gets its own section.

Example:
    >>> import tempfile
    >>> from matplotlib.figure import Figure
    >>> fig = Figure(); _ = fig.add_subplot().plot([0, 1], [1, 0])
    >>> path = write_report(tempfile.mkdtemp(), {"epochs": 1}, {"comparison": fig},
    ...                     {"epochs": 1}, name="<demo>")
    >>> "&lt;demo&gt;" in path.read_text()
    True
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import io
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .. import _format
from .._format import DASH, fmt_lr, fmt_num, fmt_seconds
from .._format import as_float as _num

__all__ = ["write_report", "render_report", "figure_png"]

_SECTION_FIGURES = ("finder", "weight_decay", "schedule", "comparison")


# ---------------------------------------------------------------------------
# small helpers


def _pct(v: Any) -> str:
    """A fraction as a percentage with one decimal, as every percentage of the page.

    >>> _pct(0.98611)
    '98.6 %'
    """
    return _format.fmt_pct(v, 1)


def _e(value: Any) -> str:
    """Escape anything for HTML text and attribute values."""
    return html.escape(str(value), quote=True)


def figure_png(fig: Any) -> bytes:
    """A matplotlib figure as PNG bytes (no timestamp metadata), for embedding.

    >>> from matplotlib.figure import Figure
    >>> figure_png(Figure(figsize=(1, 1)))[:4]
    b'\x89PNG'
    """
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, metadata={"Software": None})
    return buf.getvalue()


def _get(d: Any, *keys: str) -> Any:
    for k in keys:
        if not isinstance(d, Mapping) or k not in d:
            return None
        d = d[k]
    return d


# ---------------------------------------------------------------------------
# CSS

_CSS = """
:root { --ink:#1d2433; --muted:#5b6475; --line:#e3e7ee; --bg:#f4f6fa; --card:#fff;
  --accent:#2563eb; --good:#15803d; --bad:#b91c1c; --warn:#a16207; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--ink);
  font: 15px/1.5 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1120px; margin: 0 auto; padding: 28px 24px 48px; }
header.top { display:flex; justify-content:space-between; align-items:flex-end; gap:16px;
  flex-wrap:wrap; margin-bottom: 18px; }
header.top h1 { margin:0; font-size: 26px; letter-spacing:-0.01em; }
header.top .sub { color:var(--muted); font-size: 14px; margin-top: 4px; }
.badge { display:inline-block; padding:2px 9px; border-radius:999px; font-size:12px;
  background:#e8eefc; color:#1e40af; font-weight:600; margin-right:6px; }
.stats { display:grid; grid-template-columns: repeat(auto-fit, minmax(200px, 1fr)); gap:14px;
  margin: 8px 0 22px; }
.stat { background:var(--card); border:1px solid var(--line); border-radius:12px;
  padding:14px 16px; box-shadow: 0 1px 2px rgba(16,24,40,.04); }
.stat .label { color:var(--muted); font-size:12px; text-transform:uppercase;
  letter-spacing:.06em; font-weight:600; }
.stat .value { font-size: 28px; font-weight: 700; margin-top: 2px; line-height:1.2; }
.stat .detail { color:var(--muted); font-size: 13px; margin-top: 2px; }
.stat.primary { border-top: 4px solid var(--accent); }
.stat.base { border-top: 4px solid #9ca3af; }
.delta-good { color: var(--good); font-weight:600; }
.delta-bad { color: var(--bad); font-weight:600; }
section.card { background:var(--card); border:1px solid var(--line); border-radius:12px;
  padding: 18px 22px 20px; margin: 0 0 18px; box-shadow: 0 1px 2px rgba(16,24,40,.04); }
section.card h2 { margin: 0 0 6px; font-size: 18px; }
section.card p.lead { margin: 0 0 12px; color: var(--muted); font-size: 14px; }
.grid2 { display:grid; grid-template-columns: 1fr 1fr; gap: 18px; align-items:start; }
@media (max-width: 860px) { .grid2 { grid-template-columns: 1fr; } }
figure { margin: 0; }
figure img { width: 100%; height: auto; border:1px solid var(--line); border-radius:8px;
  background:#fff; }
figcaption { color: var(--muted); font-size: 13px; margin-top: 6px; }
table { border-collapse: collapse; width: 100%; font-size: 14px;
  font-variant-numeric: tabular-nums; }
th, td { text-align: right; padding: 7px 10px; border-bottom: 1px solid var(--line); }
th:first-child, td:first-child { text-align: left; }
thead th { color: var(--muted); font-weight: 600; font-size: 12px; text-transform: uppercase;
  letter-spacing: .05em; background: #f8fafc; }
tbody tr:hover { background: #f8fafc; }
tr.chosen td { background: #eef4ff; font-weight: 600; }
dl.kv { display:grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 0;
  font-size: 14px; }
dl.kv dt { color: var(--muted); }
dl.kv dd { margin: 0; }
pre { background:#0f172a; color:#e2e8f0; padding: 12px 14px; border-radius: 8px;
  overflow-x:auto; font: 13px/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  margin: 6px 0 12px; white-space: pre; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 13px; }
.notes { margin: 0; padding-left: 20px; color: var(--warn); }
footer { color: var(--muted); font-size: 12px; text-align:center; margin-top: 26px; }
h3 { font-size: 14px; margin: 14px 0 4px; color: var(--muted); text-transform: uppercase;
  letter-spacing: .05em; }
"""


# ---------------------------------------------------------------------------
# rendering


def _img(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{_e(alt)}">'


def _figure(pngs: Mapping[str, bytes], key: str, caption: str) -> str:
    if key not in pngs:
        return ""
    return f"<figure>{_img(pngs[key], key)}<figcaption>{caption}</figcaption></figure>"


def _stat(label: str, value: str, detail: str = "", cls: str = "") -> str:
    d = f'<div class="detail">{detail}</div>' if detail else ""
    return (f'<div class="stat {cls}"><div class="label">{_e(label)}</div>'
            f'<div class="value">{value}</div>{d}</div>')


def _range_text(m: Mapping[str, Any] | None) -> str:
    if not m:
        return ""
    parts = []
    if _num(m.get("low")) is not None and _num(m.get("high")) is not None:
        parts.append(f"range {fmt_lr(m['low'])} – {fmt_lr(m['high'])}")
    if _num(m.get("confidence")) is not None:
        parts.append(f"confidence {float(m['confidence']):.2f}")
    return ", ".join(parts)


def _headline(summary: Mapping[str, Any]) -> str:
    runs = summary.get("runs") or {}
    one = runs.get("1cycle") or {}
    base = runs.get("baseline") or {}
    cards = []
    acc1 = _get(one, "final", "val_accuracy")
    accb = _get(base, "final", "val_accuracy")
    if one:
        detail = (f"val loss {fmt_num(_get(one, 'final', 'val_loss'))} · test "
                  f"{_e(_pct(_get(one, 'final', 'test_accuracy')))}")
        if _num(acc1) is not None and _num(accb) is not None:
            d = 100 * (float(acc1) - float(accb))
            cls = "delta-good" if d >= 0 else "delta-bad"
            detail += f' · <span class="{cls}">{d:+.1f} pts</span> vs baseline'
        cards.append(_stat("1cycle · val accuracy", _e(_pct(acc1)), detail, "primary"))
    if base:
        cards.append(_stat(
            "Baseline · val accuracy", _e(_pct(accb)),
            f"val loss {fmt_num(_get(base, 'final', 'val_loss'))} · test "
            f"{_e(_pct(_get(base, 'final', 'test_accuracy')))}<br>"
            f"constant LR {_e(fmt_lr(base.get('lr')))}", "base"))
    m = summary.get("max_lr") or {}
    if m:
        src = {"finder": "from the LR range test", "given": "given"}.get(
            str(m.get("source")), str(m.get("source") or ""))
        rng = _range_text(m)
        cards.append(_stat("Max learning rate", _e(fmt_lr(m.get("value"))),
                           _e(", ".join(p for p in (src, rng) if p))))
    epochs = summary.get("epochs")
    if epochs is not None:
        spe = summary.get("steps_per_epoch")
        budget = f"{_e(epochs)} epochs"
        detail = (f"{_e(spe)} steps/epoch · batch {_e(summary.get('batch_size', DASH))}"
                  if spe is not None else "")
        cards.append(_stat("Budget", budget, detail))
    times = []
    if one:
        times.append(f"1cycle {fmt_seconds(one.get('wall_time'))}")
    if base:
        times.append(f"baseline {fmt_seconds(base.get('wall_time'))}")
    if summary.get("total_wall_time") is not None:
        cards.append(_stat("Wall time", _e(fmt_seconds(summary["total_wall_time"])),
                           _e(" · ".join(times))))
    if not cards:
        return ""
    return f'<div class="stats">{"".join(cards)}</div>'


def _finder_section(summary: Mapping[str, Any], pngs: Mapping[str, bytes]) -> str:
    finder = summary.get("finder") or {}
    m = summary.get("max_lr") or {}
    if "finder" not in pngs and not finder:
        return ""
    rows = []
    if finder.get("ran") is False:
        lead = "The LR range test was skipped: max_lr was given."
    else:
        lead = ("The learning rate grows exponentially from "
                f"{fmt_lr(finder.get('start_lr'))} to {fmt_lr(finder.get('end_lr'))} over "
                f"{_e(finder.get('num_iter', DASH))} iterations; the loss is recorded at each. "
                "The peak LR of the cycle is Smith's: the largest LR at which the loss still "
                "improves (the smoothed minimum, read after cutting the divergence tail; "
                "stepped back by up to 1.5x when a sharp cliff follows it).")
    sug = finder.get("suggestion") or {}
    wd0 = finder.get("weight_decay")
    if sug:
        at = f" at weight decay {fmt_lr(wd0)}" if wd0 is not None else ""
        text = f"{fmt_lr(sug.get('lr'))} ({_e(sug.get('method', ''))}{_e(at)})"
        if _range_text(sug):
            text += f"<br><small>{_e(_range_text(sug))}</small>"
        rows.append(("first test", text))
    if m:
        text = f"<b>{fmt_lr(m.get('value'))}</b>"
        wd1 = m.get("weight_decay")
        if m.get("source") == "finder" and wd1 is not None and wd0 is not None and wd1 != wd0:
            text += (f" — re-read from the curve at the chosen weight decay {fmt_lr(wd1)} "
                     "(plotted)")
        if _range_text(m):
            text += f"<br><small>{_e(_range_text(m))}</small>"
        rows.append(("max_lr used", text))
        if m.get("reason"):
            rows.append(("why", f"<small>{_e(m['reason'])}</small>"))
    if finder.get("iterations_run") is not None:
        rows.append(("iterations", f"{_e(finder['iterations_run'])} ({_e(finder.get('stop_reason', ''))})"))
    if finder.get("wall_time") is not None:
        rows.append(("wall time", fmt_seconds(finder.get("wall_time"))))
    kv = "".join(f"<dt>{_e(k)}</dt><dd>{v}</dd>" for k, v in rows)
    fig = _figure(pngs, "finder", "Loss against learning rate (log scale); the chosen max_lr "
                  "and its plausible range are marked.")
    body = f'<div class="grid2">{fig}<dl class="kv">{kv}</dl></div>' if fig else \
        f'<dl class="kv">{kv}</dl>'
    return (f'<section class="card" id="finder"><h2>1. LR range test</h2>'
            f'<p class="lead">{lead}</p>{body}</section>')


def _wd_section(summary: Mapping[str, Any], pngs: Mapping[str, bytes]) -> str:
    wd = summary.get("weight_decay") or {}
    if "weight_decay" not in pngs and not wd:
        return ""
    rows = wd.get("rows") or []
    table = ""
    if rows:
        body = []
        for r in rows:
            cls = ' class="chosen"' if r.get("weight_decay") == wd.get("chosen") else ""
            ok = "✓" if r.get("accepted") else ""
            body.append(
                f"<tr{cls}><td>{fmt_lr(r.get('weight_decay'))}</td>"
                f"<td>{fmt_num(r.get('min_loss'))}</td><td>{fmt_lr(r.get('lr_at_min'))}</td>"
                f"<td>{fmt_lr(r.get('suggested_lr'))}</td><td>{ok}</td></tr>")
        table = ("<table><thead><tr><th>weight decay</th><th>min loss</th>"
                 "<th>LR at min</th><th>suggested LR</th><th>reaches best</th></tr></thead>"
                 f"<tbody>{''.join(body)}</tbody></table>")
    confirm = wd.get("confirm") or []
    if confirm:
        body = []
        for r in confirm:
            cls = ' class="chosen"' if r.get("weight_decay") == wd.get("chosen") else ""
            loss = "diverged" if r.get("loss") is None else fmt_num(r.get("loss"))
            body.append(f"<tr{cls}><td>{fmt_lr(r.get('weight_decay'))}</td><td>{loss}</td>"
                        f"<td>{_pct(r.get('accuracy'))}</td></tr>")
        sig = _e(str(confirm[0].get("signal", "val_loss")).replace("_", " "))
        n = int(confirm[0].get("epochs") or 1)
        table += (f"<p>Confirmed by {n} epoch{'s' if n > 1 else ''} of 1cycle per weight "
                  "decay:</p><table><thead><tr>"
                  f"<th>weight decay</th><th>{sig}</th><th>accuracy</th></tr></thead>"
                  f"<tbody>{''.join(body)}</tbody></table>")
    chosen = wd.get("chosen")
    lead = _e(wd.get("rule") or "")
    verdict = ""
    if chosen is not None:
        verdict = f'<p><b>Chosen weight decay: {fmt_lr(chosen)}</b>'
        if wd.get("reason"):
            verdict += f" — {_e(wd['reason'])}"
        verdict += "</p>"
    fig = _figure(pngs, "weight_decay", "Range tests from the same initial weights, one per "
                  "weight decay.")
    inner = f'<div class="grid2">{fig}<div>{verdict}{table}</div></div>' if fig else \
        f"{verdict}{table}"
    return (f'<section class="card" id="weight-decay"><h2>2. Weight-decay check</h2>'
            f'<p class="lead">{lead}</p>{inner}</section>')


def _schedule_section(summary: Mapping[str, Any], pngs: Mapping[str, bytes]) -> str:
    if "schedule" not in pngs:
        return ""
    s = summary.get("schedule") or {}
    bits = []
    for k in ("style", "max_lr", "div", "final_div", "pct_start", "annihilate", "total_steps"):
        if s.get(k) is not None:
            v = s[k]
            shown = (fmt_lr(v) if k == "max_lr" else fmt_num(v)) if _num(v) is not None else v
            bits.append(f"<dt>{_e(k)}</dt><dd>{_e(shown)}</dd>")
    mom = s.get("momentum")
    if mom:
        bits.append(f"<dt>momentum</dt><dd>{_e(' → '.join(fmt_num(x) for x in mom))}</dd>")
    kv = f'<dl class="kv">{"".join(bits)}</dl>' if bits else ""
    fig = _figure(pngs, "schedule", "Learning rate (left axis) and momentum (right axis) "
                  "per iteration of the 1cycle run.")
    return ('<section class="card" id="schedule"><h2>3. The 1cycle schedule</h2>'
            '<p class="lead">The LR climbs from max_lr/div to max_lr and back while momentum '
            'falls and rises in the opposite direction; the last steps anneal the LR far '
            f'below its starting value.</p><div class="grid2">{fig}{kv}</div></section>')


def _comparison_section(summary: Mapping[str, Any], pngs: Mapping[str, bytes]) -> str:
    runs = summary.get("runs") or {}
    if "comparison" not in pngs and not runs:
        return ""
    if "baseline" in runs:
        title = "4. Training: 1cycle vs baseline"
        caption = ("Training (dashed) and validation (solid) loss, validation accuracy and "
                   "the LR, 1cycle against the constant-LR baseline.")
        lead = "Both runs start from the same initial weights and see the same batches."
        if summary.get("baseline_rule"):
            lead += f" Baseline LR rule: {_e(summary['baseline_rule'])}."
    else:
        title = "4. Training"
        caption = ("Training (dashed) and validation (solid) loss, validation accuracy and "
                   "the LR of the 1cycle run.")
        lead = "No baseline was trained for this run."
    fig = _figure(pngs, "comparison", caption)
    return (f'<section class="card" id="training"><h2>{title}</h2>'
            f'<p class="lead">{lead}</p>{fig}{_results_table(runs)}</section>')


def _results_table(runs: Mapping[str, Any]) -> str:
    if not runs:
        return ""
    cols = [("train loss", "train_loss", fmt_num), ("val loss", "val_loss", fmt_num),
            ("val accuracy", "val_accuracy", _pct), ("test loss", "test_loss", fmt_num),
            ("test accuracy", "test_accuracy", _pct)]
    present = [c for c in cols if any(_get(r, "final", c[1]) is not None for r in runs.values())]
    head = "".join(f"<th>{_e(c[0])}</th>" for c in present)
    body = []
    for label, r in runs.items():
        cells = "".join(f"<td>{_e(fn(_get(r, 'final', key)))}</td>" for _, key, fn in present)
        desc = r.get("description") or ""
        best = _pct(_get(r, "best", "val_accuracy"))
        body.append(f"<tr><td><b>{_e(label)}</b><br><small>{_e(desc)}</small></td>{cells}"
                    f"<td>{_e(best)}</td><td>{_e(fmt_seconds(r.get('wall_time')))}</td></tr>")
    return ("<h3>Final numbers</h3><table><thead><tr><th>run</th>" + head +
            "<th>best val accuracy</th><th>wall time</th></tr></thead><tbody>" +
            "".join(body) + "</tbody></table>")


def _extra_sections(pngs: Mapping[str, bytes]) -> str:
    out = []
    for key in pngs:
        if key in _SECTION_FIGURES:
            continue
        out.append(f'<section class="card"><h2>{_e(key)}</h2>'
                   f"{_figure(pngs, key, _e(key))}</section>")
    return "".join(out)


def _reproduce_section(summary: Mapping[str, Any], config_toml: str, command: str | None) -> str:
    parts = ['<section class="card" id="reproduce"><h2>Reproduce this run</h2>']
    if command:
        parts.append("<h3>Command line</h3>")
        parts.append(f"<pre>{_e(command)}</pre>")
    parts.append("<h3>Configuration (config.toml)</h3>")
    parts.append(f"<pre>{_e(config_toml)}</pre>")
    info = []
    ds = summary.get("dataset") or {}
    if ds:
        sizes = ds.get("sizes") or {}
        size_txt = " / ".join(f"{_e(k)} {_e(v)}" for k, v in sizes.items())
        info.append(("dataset", f"{_e(ds.get('name', DASH))} — {size_txt}, input "
                     f"{_e(ds.get('input_shape', DASH))}, {_e(ds.get('num_classes', DASH))} "
                     "classes"))
    model = summary.get("model") or {}
    if model:
        n = model.get("parameters")
        info.append(("model", f"{_e(model.get('name', DASH))}"
                     + (f" — {int(n):,} parameters" if _num(n) is not None else "")))
    if summary.get("device"):
        info.append(("device", _e(summary["device"])))
    for k, v in (summary.get("versions") or {}).items():
        info.append((k, _e(v)))
    if summary.get("seed") is not None:
        info.append(("seed", _e(summary["seed"])))
    if info:
        parts.append("<h3>Environment</h3><dl class=\"kv\">" +
                     "".join(f"<dt>{_e(k)}</dt><dd>{v}</dd>" for k, v in info) + "</dl>")
    parts.append("</section>")
    return "".join(parts)


def render_report(
    summary: Mapping[str, Any],
    pngs: Mapping[str, bytes],
    config_toml: str,
    *,
    name: str | None = None,
    command: str | None = None,
) -> str:
    """The report as an HTML string (figures given as PNG bytes by key).

    >>> page = render_report({"epochs": 2}, {}, "epochs = 2\\n", name="a & b")
    >>> "a &amp; b" in page and "<script" not in page
    True
    """
    title = name or summary.get("name") or "onecycle run"
    created = summary.get("created") or _dt.datetime.now().isoformat(timespec="seconds")
    ds = _get(summary, "dataset", "name")
    model = _get(summary, "model", "name")
    badges = "".join(f'<span class="badge">{_e(b)}</span>' for b in (ds, model) if b)
    notes = summary.get("notes") or []
    notes_html = ""
    if notes:
        items = "".join(f"<li>{_e(n)}</li>" for n in notes)
        notes_html = (f'<section class="card"><h2>Notes</h2><ul class="notes">{items}</ul>'
                      "</section>")
    body = "".join([
        _headline(summary),
        notes_html,
        _finder_section(summary, pngs),
        _wd_section(summary, pngs),
        _schedule_section(summary, pngs),
        _comparison_section(summary, pngs),
        _extra_sections(pngs),
        _reproduce_section(summary, config_toml, command),
    ])
    version = _get(summary, "versions", "onecycle") or ""
    parts = ["LR range test", "weight-decay check", "1cycle with cyclical momentum"]
    if _get(summary, "finder", "ran") is False:
        parts[0] = "given max_lr"
    if _get(summary, "weight_decay", "checked") is False:
        parts.pop(1)
    if "baseline" in (summary.get("runs") or {}) or not summary.get("runs"):
        parts.append("comparison with a constant LR")
    steps = "Leslie Smith's disciplined approach: " + " → ".join(parts)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title)} — onecycle report</title>
<style>{_CSS}</style>
</head>
<body>
<main>
<header class="top">
  <div>
    <h1>{_e(title)}</h1>
    <div class="sub">{_e(steps)}</div>
  </div>
  <div class="sub">{badges}<br>{_e(created)}</div>
</header>
{body}
<footer>Written by onecycle {_e(version)} · self-contained: no network needed to view it.</footer>
</main>
</body>
</html>
"""


def write_report(
    out_dir: str | os.PathLike[str],
    summary: Mapping[str, Any],
    figures: Mapping[str, Any],
    config: Any,
    *,
    name: str | None = None,
    command: str | None = None,
) -> Path:
    """Write ``report.html``, ``summary.json`` and ``<key>.png`` per figure; return the
    report's path.

    Args:
        out_dir: directory (created if missing).
        summary: the run's numbers (see the module documentation); written to
            ``summary.json`` with the list of written files added under ``"files"``.
        figures: matplotlib ``Figure`` objects (or PNG ``bytes``) by key.
        config: the resolved configuration: a :class:`~onecycle.config.RunConfig`, a
            dict (shown as TOML) or TOML text.
        name: run name for the title (default: ``summary["name"]``).
        command: the command line to reproduce the run (default: ``summary["command"]``).

    >>> import tempfile
    >>> p = write_report(tempfile.mkdtemp(), {}, {}, {"epochs": 1})
    >>> p.name, (p.parent / "summary.json").exists()
    ('report.html', True)
    """
    from .._io import write_bytes_atomic, write_json_atomic, write_text_atomic
    from .._plain import to_plain
    from ..config import to_toml

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    pngs: dict[str, bytes] = {}
    files: list[str] = []
    for key, fig in figures.items():
        if fig is None:
            continue
        png = bytes(fig) if isinstance(fig, bytes | bytearray) else figure_png(fig)
        fname = f"{_safe_name(key)}.png"
        write_bytes_atomic(out / fname, png)
        pngs[key] = png
        files.append(fname)
    if isinstance(config, str):
        config_toml = config
    elif hasattr(config, "to_toml"):
        config_toml = config.to_toml()
    else:
        config_toml = to_toml(to_plain(config, inf=(None, None)) if config else {})
    command = command if command is not None else summary.get("command")
    files += ["summary.json", "report.html"]
    data = dict(to_plain(summary))
    data["files"] = sorted(set(data.get("files") or []) | set(files))
    write_json_atomic(out / "summary.json", data, indent=2)
    page = render_report(summary, pngs, config_toml, name=name, command=command)
    return write_text_atomic(out / "report.html", page)


def _safe_name(key: str) -> str:
    s = "".join(c if c.isalnum() or c in "-_" else "_" for c in str(key))
    return s or "figure"

