"""B4 across settings: one table of every suggestion method's regret and failures.

Reads every ``benchmarks/results/b4*.json`` written by ``b4_suggestions.py`` (the
headline LeNet/MNIST setting and the cross-checks: other models, datasets, batch sizes)
and writes ``results/b4_summary.md``: per setting and method, the regret in points and
the failures (as defined in B4), then the totals. Prototype rules are included, marked.

    python benchmarks/b4_summary.py
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

from benchmarks.studies.legacy.common import RESULTS_DIR, write  # noqa: E402


def _setting(d: dict, stem: str) -> str:
    kw = d.get("model_kw") or {}
    extra = ", ".join(f"{k}={v}" for k, v in sorted(kw.items()))
    m = re.search(r"_b(\d+)_e(\d+)$", stem)  # a batch/budget other than the default
    if m:
        extra = ", ".join(x for x in (extra, f"batch {m[1]}, {m[2]} epochs") if x)
    return f"{d.get('arch', '?')} / {d.get('dataset', 'mnist')}" + (f" ({extra})" if extra else "")


def main() -> None:
    runs = []
    for p in sorted(Path(RESULTS_DIR).glob("b4*.json")):
        if p.stem == "b4_summary":
            continue
        d = json.loads(p.read_text())
        if "rows" not in d or d.get("quick"):
            continue
        runs.append((p.stem, d))
    if not runs:
        raise SystemExit("no B4 results found: run benchmarks/b4_suggestions.py first")
    methods: list[str] = []
    for _, d in runs:
        for r in d["rows"]:
            if r["method"] not in methods:
                methods.append(r["method"])
    head = "| method | " + " | ".join(_setting(d, s) for s, d in runs) + " | mean regret | failures |"
    md = ["## B4 across settings", "",
          "Regret (points below the best grid LR's mean accuracy) and failures (seeds more than "
          "0.5 points below the best LR's run of the same seed, diverged, or without a "
          "suggestion) of every method, trained for real, in every B4 setting that was run "
          "(each section below has the details). Best grid LR per setting: "
          + ", ".join(f"{_setting(d, s)} {d['best_lr']:.3g} ({d['best_acc']:.2f} %)" for s, d in runs)
          + ".", "", head, "|---|" + "---:|" * (len(runs) + 2)]
    totals = {}
    for m in methods:
        cells, regs, fails, n = [], [], 0, 0
        for _, d in runs:
            r = next((r for r in d["rows"] if r["method"] == m), None)
            if r is None:
                cells.append("–")
                continue
            reg = r["regret"]
            cells.append(f"{reg:.2f} ({r['failures']}/{len(d['seeds'])})")
            if not math.isnan(reg):
                regs.append(reg)
            fails += r["failures"]
            n += len(d["seeds"])
        mean = sum(regs) / len(regs) if regs else float("nan")
        totals[m] = (fails, mean)
        name = m + (" (ours)" if m == "auto" else "")
        if any(r.get("prototype") for _, d in runs for r in d["rows"] if r["method"] == m):
            name += " *prototype*"
        partial = f" (over {len(regs)} of {len(runs)} settings)" if len(regs) < len(runs) else ""
        md.append(f"| {name} | " + " | ".join(cells) + f" | **{mean:.2f}**{partial} | **{fails}/{n}** |")
    md += ["", "Cell: regret in points (failures/seeds); nan: no suggestion on any seed. "
           "Commands: see each setting's section."]
    write("b4_summary", {"settings": [s for s, _ in runs], "totals": totals}, "\n".join(md))


if __name__ == "__main__":
    main()
