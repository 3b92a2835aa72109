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

from .._format import DASH, fmt_lr, fmt_num, fmt_pct, fmt_seconds
from .._format import as_float as _num

__all__ = ["write_report", "render_report", "figure_png", "task_of"]

_SECTION_FIGURES = ("finder", "weight_decay", "schedule", "comparison")


# ---------------------------------------------------------------------------
# small helpers


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


def _card(ident: str, title: str, lead: str, fig: str, side: str) -> str:
    """A report section: heading, lead paragraph, figure and its side panel."""
    body = f'<div class="grid2">{fig}{side}</div>' if fig else side
    return (f'<section class="card" id="{ident}"><h2>{title}</h2>'
            f'<p class="lead">{lead}</p>{body}</section>')


def _kv(rows: list[tuple[str, str]]) -> str:
    return '<dl class="kv">' + "".join(f"<dt>{_e(k)}</dt><dd>{v}</dd>" for k, v in rows) + "</dl>"


def _delta(acc1: Any, accb: Any, n_val: Any) -> str:
    """The 1cycle run's lead over the baseline in points and, on a validation split of
    known size, in samples (so a small split's one-sample difference shows as such)."""
    if _num(acc1) is None or _num(accb) is None:
        return ""
    d = float(acc1) - float(accb)
    cls = "delta-good" if d >= 0 else "delta-bad"
    text = f' · <span class="{cls}">{100 * d:+.1f} pts</span> vs baseline'
    n = _num(n_val)
    if n and abs(d * n - round(d * n)) < 0.01:
        k = int(round(abs(d) * n))
        text += f" ({k} of {int(n)} validation sample{'s' if int(n) != 1 else ''})"
    return text


def task_of(summary: Mapping[str, Any]) -> Any:
    """The :class:`onecycle.tasks.Task` a summary's ``task`` block names (classification
    for a summary without one).

    >>> task_of({"task": {"name": "language_model"}}).headline, task_of({}).headline
    ('bpc', 'accuracy')
    """
    from ..tasks import TASKS

    return TASKS.get(str(_get(summary, "task", "name")), TASKS["classification"])


def _headline_delta(task: Any, h1: Any, hb: Any, n_val: Any) -> str:
    """The 1cycle run's lead over the baseline in the headline's units."""
    if task.headline == "accuracy":
        return _delta(h1, hb, n_val)
    if _num(h1) is None or _num(hb) is None:
        return ""
    cls = "delta-good" if not task.better(float(hb), float(h1)) else "delta-bad"
    return (f' · <span class="{cls}">{_e(task.difference(h1, hb))}</span> vs baseline')


def _run_cards(summary: Mapping[str, Any]) -> list[str]:
    runs = summary.get("runs") or {}
    one, base = runs.get("1cycle") or {}, runs.get("baseline") or {}
    task = task_of(summary)
    h1, hb = (task.of_record(r.get("final") or {}) for r in (one, base))
    cards = []
    if one:
        detail = (f"val loss {fmt_num(_get(one, 'final', 'val_loss'))} · test "
                  f"{_e(task.show(task.of_record(one.get('final') or {}, 'test')))}"
                  + _headline_delta(task, h1, hb, _get(summary, "dataset", "sizes", "val")))
        cards.append(_stat(f"1cycle · val {task.label}", _e(task.show(h1)), detail, "primary"))
    if base:
        cards.append(_stat(
            f"Baseline · val {task.label}", _e(task.show(hb)),
            f"val loss {fmt_num(_get(base, 'final', 'val_loss'))} · test "
            f"{_e(task.show(task.of_record(base.get('final') or {}, 'test')))}<br>"
            f"constant LR {_e(fmt_lr(base.get('lr')))}", "base"))
    return cards


def _headline(summary: Mapping[str, Any]) -> str:
    runs = summary.get("runs") or {}
    cards = _run_cards(summary)
    m = summary.get("max_lr") or {}
    if m:
        src = {"finder": "from the LR range test", "given": "given"}.get(
            str(m.get("source")), str(m.get("source") or ""))
        cards.append(_stat("Max learning rate", _e(fmt_lr(m.get("value"))),
                           _e(", ".join(p for p in (src, _range_text(m)) if p))))
    epochs = summary.get("epochs")
    if epochs is not None:
        spe = summary.get("steps_per_epoch")
        detail = (f"{_e(spe)} steps/epoch · batch {_e(summary.get('batch_size', DASH))}"
                  if spe is not None else "")
        cards.append(_stat("Budget", f"{_e(epochs)} epoch{'' if epochs == 1 else 's'}", detail))
    times = [f"{label} {fmt_seconds(r.get('wall_time'))}" for label, r in runs.items()
             if label in ("1cycle", "baseline")]
    if summary.get("total_wall_time") is not None:
        cards.append(_stat("Wall time", _e(fmt_seconds(summary["total_wall_time"])),
                           _e(" · ".join(times))))
    return f'<div class="stats">{"".join(cards)}</div>' if cards else ""


def _why_max_lr(m: Mapping[str, Any]) -> str:
    """The pick in plain words, from its fields (not the finder's own reasoning)."""
    if m.get("source") == "given":
        return "Given by the configuration; the range test did not choose it."
    lr = fmt_lr(m.get("value"))
    if m.get("method") != "auto":
        return f"{lr}: the range test's {m.get('method')!s} suggestion."
    text = (f"{lr} is where the smoothed loss of the range test is lowest: the largest "
            "learning rate at which the loss still improves, which Smith takes as the peak "
            "of the cycle.")
    if _num(m.get("low")) is not None and _num(m.get("high")) is not None:
        text += (f" The loss falls fastest near {fmt_lr(m['low'])} and climbs back after "
                 f"{fmt_lr(m['high'])}.")
    if _num(m.get("confidence")) is not None:
        text += (f" Confidence {float(m['confidence']):.2f} says how clearly the descent "
                 "stands out of the curve's noise.")
    return text


def _finder_rows(finder: Mapping[str, Any], m: Mapping[str, Any]) -> list[tuple[str, str]]:
    rows = []
    sug = finder.get("suggestion") or {}
    wd0, wd1 = finder.get("weight_decay"), m.get("weight_decay")
    if sug and m.get("source") == "finder" and wd1 is not None and wd1 != wd0:
        rows.append(("first test", f"{fmt_lr(sug.get('lr'))} at weight decay {fmt_lr(wd0)}"))
    if m:
        text = f"<b>{fmt_lr(m.get('value'))}</b>"
        if _range_text(m):
            text += f"<br><small>{_e(_range_text(m))}</small>"
        rows.append(("max_lr used", text))
        if m.get("how"):
            rows.append(("how", _e(m["how"])))
        rows.append(("why", f"<small>{_e(_why_max_lr(m))}</small>"))
    if finder.get("iterations_run") is not None:
        rows.append(("iterations", f"{_e(finder['iterations_run'])} "
                     f"({_e(finder.get('stop_reason', ''))})"))
    if finder.get("wall_time") is not None:
        rows.append(("wall time", fmt_seconds(finder.get("wall_time"))))
    return rows


def _finder_section(summary: Mapping[str, Any], pngs: Mapping[str, bytes]) -> str:
    finder = summary.get("finder") or {}
    m = summary.get("max_lr") or {}
    if "finder" not in pngs and not finder:
        return ""
    if finder.get("ran") is False:
        lead = "The LR range test was skipped: max_lr was given."
    else:
        lead = ("The learning rate grows exponentially from "
                f"{fmt_lr(finder.get('start_lr'))} to {fmt_lr(finder.get('end_lr'))} over "
                f"{_e(finder.get('num_iter', DASH))} iterations while the loss is recorded. "
                "The peak of the cycle is the largest learning rate at which the loss still "
                "improves.")
    fig = _figure(pngs, "finder", "Loss against learning rate (log scale); the max_lr used "
                  "and the baseline's LR are marked.")
    return _card("finder", "1. LR range test", lead, fig, _kv(_finder_rows(finder, m)))


def _table(head: list[str], rows: list[tuple[bool, list[str]]]) -> str:
    th = "".join(f"<th>{h}</th>" for h in head)
    body = []
    for chosen, cells in rows:
        cls = ' class="chosen"' if chosen else ""
        body.append(f"<tr{cls}>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return f"<table><thead><tr>{th}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _wd_tables(wd: Mapping[str, Any]) -> str:
    chosen = wd.get("chosen")
    rows = [(r.get("weight_decay") == chosen,
             [fmt_lr(r.get("weight_decay")), fmt_num(r.get("min_loss")), fmt_lr(r.get("lr_at_min")),
              fmt_lr(r.get("suggested_lr")), "✓" if r.get("accepted") else ""])
            for r in wd.get("rows") or []]
    out = _table(["weight decay", "min loss", "LR at min", "suggested LR", "reaches best"],
                 rows) if rows else ""
    confirm = wd.get("confirm") or []
    if confirm:
        sig = _e(str(confirm[0].get("signal", "val_loss")).replace("_", " "))
        n = int(confirm[0].get("epochs") or 1)
        accuracy = any(r.get("accuracy") is not None for r in confirm)
        crows = [(r.get("weight_decay") == chosen,
                  [fmt_lr(r.get("weight_decay")),
                   "diverged" if r.get("loss") is None else fmt_num(r.get("loss"))]
                  + ([fmt_pct(r.get("accuracy"))] if accuracy else [])) for r in confirm]
        out += (f"<p>Decided by {n} epoch{'s' if n > 1 else ''} of 1cycle per weight decay "
                "at and below the range tests' bound:</p>"
                + _table(["weight decay", sig] + (["accuracy"] if accuracy else []), crows))
    return out


def _wd_section(summary: Mapping[str, Any], pngs: Mapping[str, bytes]) -> str:
    wd = summary.get("weight_decay") or {}
    if "weight_decay" not in pngs and not wd:
        return ""
    verdict = ""
    if wd.get("chosen") is not None:
        how = wd.get("how") or wd.get("reason")
        verdict = (f"<p><b>Chosen weight decay: {fmt_lr(wd['chosen'])}</b>"
                   + (f" — {_e(how)}" if how else "") + "</p>")
    detail = ""
    if wd.get("reason") and wd.get("how"):
        detail = f"<p><small>{_e(wd['reason'])}</small></p>"
    fig = _figure(pngs, "weight_decay", "Range tests from the same initial weights, one per "
                  "weight decay; the chosen one drawn thicker.")
    side = f"<div>{verdict}{_wd_tables(wd)}{detail}</div>"
    return _card("weight-decay", "2. Weight-decay check", _e(wd.get("rule") or ""), fig, side)


def _schedule_section(summary: Mapping[str, Any], pngs: Mapping[str, bytes]) -> str:
    if "schedule" not in pngs:
        return ""
    s = summary.get("schedule") or {}
    rows = []
    for k in ("style", "max_lr", "div", "final_div", "pct_start", "annihilate", "total_steps"):
        v = s.get(k)
        if v is not None:
            shown = (fmt_lr(v) if k == "max_lr" else fmt_num(v)) if _num(v) is not None else v
            rows.append((k, _e(shown)))
    if s.get("momentum"):
        rows.append(("momentum", _e(" → ".join(fmt_num(x) for x in s["momentum"]))))
    fig = _figure(pngs, "schedule", "Learning rate (left axis) and momentum (right axis) "
                  "per iteration of the 1cycle run.")
    lead = ("The LR climbs from max_lr/div to max_lr and back while momentum falls and rises "
            "in the opposite direction; the last steps anneal the LR far below its starting "
            "value.")
    return _card("schedule", "3. The 1cycle schedule", lead, fig, _kv(rows) if rows else "")


def _comparison_section(summary: Mapping[str, Any], pngs: Mapping[str, bytes]) -> str:
    runs = summary.get("runs") or {}
    if "comparison" not in pngs and not runs:
        return ""
    task = task_of(summary)
    if "baseline" in runs:
        title = "4. Training: 1cycle vs baseline"
        caption = (f"Training (dashed) and validation (solid) loss, validation {task.label} "
                   "and the LR, 1cycle against the constant-LR baseline.")
        lead = "Both runs start from the same initial weights and see the same batches."
        if summary.get("baseline_rule"):
            lead += f" Baseline LR rule: {_e(summary['baseline_rule'])}."
    else:
        title = "4. Training"
        caption = (f"Training (dashed) and validation (solid) loss, validation {task.label} "
                   "and the LR of the 1cycle run.")
        lead = "No baseline was trained for this run."
    lead += _task_text(summary, task)
    fig = _figure(pngs, "comparison", caption)
    return (f'<section class="card" id="training"><h2>{title}</h2>'
            f'<p class="lead">{lead}</p>{fig}{_results_table(runs, task)}</section>')


def _task_text(summary: Mapping[str, Any], task: Any) -> str:
    """The loss, the headline's direction and its chance level, in words (only for a
    summary that names its task)."""
    info = summary.get("task")
    if not isinstance(info, Mapping):
        return ""
    better = "higher" if task.higher_is_better else "lower"
    text = f" Loss: {_e(task.loss_name)}; headline: {_e(task.label)} ({better} is better)"
    chance = _num(info.get("chance"))
    if chance is not None:
        text += (f"; chance level {_e(task.show(chance))} (the best constant prediction on "
                 "the training split)")
    return text + "."


def _results_table(runs: Mapping[str, Any], task: Any) -> str:
    if not runs:
        return ""
    h = task.label

    def head_of(split: str) -> Any:
        return lambda final: task.of_record(final, split)

    cols = [("train loss", lambda f: f.get("train_loss"), fmt_num),
            ("val loss", lambda f: f.get("val_loss"), fmt_num),
            (f"val {h}", head_of("val"), task.show),
            ("test loss", lambda f: f.get("test_loss"), fmt_num),
            (f"test {h}", head_of("test"), task.show)]
    finals = {label: r.get("final") or {} for label, r in runs.items()}
    present = [c for c in cols if any(c[1](f) is not None for f in finals.values())]
    head = "".join(f"<th>{_e(c[0])}</th>" for c in present)
    body = []
    for label, r in runs.items():
        cells = "".join(f"<td>{_e(fn(read(finals[label])))}</td>" for _, read, fn in present)
        desc = r.get("description") or ""
        best = task.show(task.of_record(r.get("best") or {}))
        body.append(f"<tr><td><b>{_e(label)}</b><br><small>{_e(desc)}</small></td>{cells}"
                    f"<td>{_e(best)}</td><td>{_e(fmt_seconds(r.get('wall_time')))}</td></tr>")
    return ("<h3>Final numbers</h3><table><thead><tr><th>run</th>" + head +
            f"<th>best val {_e(h)}</th><th>wall time</th></tr></thead><tbody>" +
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
    if summary.get("runs"):
        parts.append("<p>This run's configuration with its choices filled in (max_lr, weight "
                     "decay, baseline LR): with it, <code>onecycle run --config config.toml"
                     "</code> trains the same runs again without the searches; the command "
                     "line above repeats the whole recipe.</p>")
    parts.append(f"<pre>{_e(config_toml)}</pre>")
    info = []
    ds = summary.get("dataset") or {}
    if ds:
        sizes = ds.get("sizes") or {}
        size_txt = " / ".join(f"{_e(k)} {_e(v)}" for k, v in sizes.items())
        n = ds.get("num_classes")
        outputs = task_of(summary).outputs_text(n) if _num(n) is not None else f"{DASH} classes"
        info.append(("dataset", f"{_e(ds.get('name', DASH))} — {size_txt}, input "
                     f"{_e(ds.get('input_shape', DASH))}, {_e(outputs)}"))
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
        parts.append("<h3>Environment</h3>" + _kv(info))
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

