"""Regenerate the numbers the docs quote from `onecycle run`, and docs/report.png.

    .venv/bin/python scripts/docs_examples.py            # every dataset (~6 min on 2 cores)
    .venv/bin/python scripts/docs_examples.py --only digits

For each dataset it runs ``onecycle run --dataset NAME`` with that dataset's defaults
(seed 0), records what was run and what came out in ``docs/examples/runs.json``, and
rewrites the table between the ``<!-- examples:begin -->`` / ``<!-- examples:end -->``
markers of docs/cli.md from that file. The digits run's report is screenshot in headless
Chromium into docs/report.png. ``tests/test_docs_examples.py`` fails when the table no
longer matches runs.json, or when a dataset's defaults in the code differ from the ones
the recorded run used: the numbers cannot go stale silently.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RUNS = ROOT / "docs" / "examples" / "runs.json"
CLI_MD = ROOT / "docs" / "cli.md"
REPORT_PNG = ROOT / "docs" / "report.png"
DATASETS = ("digits", "mnist", "mnist1d", "text", "diabetes")
BEGIN, END = "<!-- examples:begin -->", "<!-- examples:end -->"


def defaults_of(name: str) -> dict[str, Any]:
    """The settings of ``onecycle run --dataset NAME`` that the table shows."""
    from onecycle.config import RunConfig

    c = RunConfig.from_dict({"dataset": name})
    return {"model": c.model, "model_options": dict(c.model_options),
            "optimizer": c.optimizer.name, "batch_size": c.batch_size, "epochs": c.epochs,
            "grad_clip": c.grad_clip, "data_options": dict(c.data_options),
            "weight_decay": c.weight_decay.value, "grid": list(c.weight_decay.grid),
            "finder": [c.finder.start_lr, c.finder.end_lr, c.finder.num_iter]}


def measure(name: str, out: Path) -> dict[str, Any]:
    cmd = [str(ROOT / ".venv" / "bin" / "onecycle"), "run", "--dataset", name, "--quiet",
           "--out", str(out)]
    subprocess.run(cmd, check=True)
    s = json.loads((out / "summary.json").read_text())
    task = s.get("task") or {}
    one, base = s["runs"]["1cycle"]["final"], (s["runs"].get("baseline") or {}).get("final")
    return {"defaults": defaults_of(name), "wall_time": s["total_wall_time"],
            "headline": task.get("headline", "accuracy"), "unit": task.get("unit", ""),
            "chance": task.get("chance"), "max_lr": s["max_lr"]["value"],
            "weight_decay": s["weight_decay"]["chosen"],
            "val": one.get("val_headline"), "test": one.get("test_headline"),
            "baseline_test": None if base is None else base.get("test_headline"),
            "onecycle": s["versions"]["onecycle"], "created": s["created"]}


def _show(value: Any, headline: str) -> str:
    if value is None:
        return "—"
    if headline == "accuracy":
        return f"{100 * value:.1f} %"
    return f"{value:.2f} bpc" if headline == "bpc" else f"{value:.3f}"


def _seconds(t: float) -> str:
    return f"{t:.0f} s" if t < 60 else f"{int(t // 60)} min {int(round(t % 60)):02d} s"


def _other(d: dict[str, Any], base: dict[str, Any]) -> str:
    names = {"grad_clip": "grad_clip", "data_options": "data_options",
             "weight_decay": "weight decay", "grid": "weight-decay grid",
             "finder": "range test (start, end, iterations)"}
    return "; ".join(f"{label} {json.dumps(d[k])}" for k, label in names.items()
                     if d[k] != base[k])


def render(runs: dict[str, Any]) -> str:
    """The docs/cli.md table from runs.json."""
    head = ("| dataset | model | optimizer | batch | epochs | other defaults | headline | "
            "max_lr, weight decay picked | 1cycle val / test (baseline test); chance | "
            "wall time |\n|---|---|---|---|---|---|---|---|---|---|")
    rows = [head]
    base = runs["digits"]["defaults"] if "digits" in runs else {}
    for name, r in runs.items():
        d, h = r["defaults"], r["headline"]
        model = d["model"] + (f" `{json.dumps(d['model_options'])}`" if d["model_options"] else "")
        other = _other(d, base) if base else ""
        rows.append(
            f"| `{name}` | {model} | {d['optimizer']} | {d['batch_size']} | {d['epochs']} "
            f"| {other} | {h} "
            f"| {r['max_lr']:.3g}, {r['weight_decay']:.3g} | {_show(r['val'], h)} / "
            f"{_show(r['test'], h)} ({_show(r['baseline_test'], h)}); "
            f"{_show(r['chance'], h)} | {_seconds(r['wall_time'])} |")
    return "\n".join(rows)


def rewrite_cli_md(runs: dict[str, Any]) -> None:
    from onecycle._io import write_text_atomic

    text = CLI_MD.read_text(encoding="utf-8")
    a, b = text.index(BEGIN) + len(BEGIN), text.index(END)
    write_text_atomic(CLI_MD, text[:a] + "\n" + render(runs) + "\n" + text[b:])


def screenshot(report: Path) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("no chromium on PATH (apt-get install -y chromium): docs/report.png kept",
              file=sys.stderr)
        return
    with tempfile.TemporaryDirectory() as tmp:
        shot = Path(tmp) / "report.png"
        subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu",
                        "--disable-background-networking", "--no-first-run",
                        f"--user-data-dir={tmp}/profile", "--hide-scrollbars",
                        "--window-size=1280,4200", f"--screenshot={shot}",
                        report.resolve().as_uri()], check=True, capture_output=True)
        from PIL import Image, ImageChops

        im = Image.open(shot).convert("RGB")
        bg = Image.new("RGB", im.size, im.getpixel((2, im.height - 2)))
        box = ImageChops.difference(im, bg).getbbox()
        if box is not None:
            im = im.crop((0, 0, im.width, min(im.height, box[3] + 24)))
        im.save(REPORT_PNG, optimize=True)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", nargs="+", choices=DATASETS, help="datasets to rerun")
    args = p.parse_args()
    runs = json.loads(RUNS.read_text()) if RUNS.exists() else {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.only or DATASETS:
            out = Path(tmp) / name
            runs[name] = measure(name, out)
            print(f"{name}: {runs[name]['wall_time']:.1f} s", file=sys.stderr)
            if name == "digits":
                screenshot(out / "report.html")
        runs = {k: runs[k] for k in DATASETS if k in runs}
        from onecycle._io import write_json_atomic

        write_json_atomic(RUNS, runs)
    rewrite_cli_md(runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
