"""The recipe (issue 7) across settings: one table of paired differences against each peer.

Reads every ``benchmarks/results/recipe*.json`` written by ``recipe_fashion.py`` and
writes ``results/recipe_summary.md``. Runs of the same setting (model, training samples,
epochs) with disjoint seeds, such as a held-out re-run, are listed one by one and then
pooled. Each cell is the recipe's test accuracy minus the peer's, in points: the paired
mean ± its standard error over seeds, the median (a diverged peer run moves the mean by
tens of points), and the seeds where the recipe is ahead.

    python benchmarks/recipe_summary.py
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from benchmarks.studies.legacy.common import RESULTS_DIR, write  # noqa: E402

PEERS = ("torch defaults + torch-lr-finder LR", "torch defaults + recipe's LR",
         "torch defaults + recipe's LR and wd")


def _seeds(d: dict) -> list[int]:
    return [int(r["seed"]) for r in d["recipes"]]


def _setting(d: dict) -> tuple[str, int, int]:
    """(model, training samples, epochs): the full split first, then by budget."""
    a = d["args"]
    return (a.get("arch", "lenet"), -int(a.get("subset") or 54000), int(a["epochs"]))


def _cell(ours: list[float], peer: list[float]) -> str:
    if len(ours) != len(peer):
        raise ValueError(f"{len(ours)} recipe results against {len(peer)} peer results: "
                         "rows must hold one value per seed")
    diffs = [100 * (a - b) for a, b in zip(ours, peer) if b == b]  # NaN: no peer run
    if not diffs:
        return "–"
    m = statistics.fmean(diffs)
    se = statistics.stdev(diffs) / len(diffs) ** 0.5 if len(diffs) > 1 else float("nan")
    wins = sum(x > 0 for x in diffs)
    return f"{m:+.2f} ± {se:.2f} (median {statistics.median(diffs):+.2f}; {wins}/{len(diffs)})"


def _row(label: str, rows: dict[str, list[float]], seeds: list[int]) -> str:
    ours = rows["recipe"]
    acc = 100 * statistics.fmean(ours)
    cells = [(_cell(ours, rows[p]) if rows.get(p) else "–") for p in PEERS]
    span = f"{seeds[0]}–{seeds[-1]}" if seeds == list(range(seeds[0], seeds[-1] + 1)) else \
        ", ".join(map(str, seeds))
    return f"| {label} | {span} | {acc:.2f} | " + " | ".join(cells) + " |"


def main() -> None:
    runs = []
    for p in sorted(Path(RESULTS_DIR).glob("recipe*.json")):
        if p.stem == "recipe_summary":
            continue
        d = json.loads(p.read_text())
        if "rows" not in d or d["args"].get("quick"):
            continue
        runs.append((p.stem, d))
    if not runs:
        raise SystemExit("no recipe results found: run benchmarks/recipe_fashion.py first")
    runs.sort(key=lambda r: (_setting(r[1]), _seeds(r[1])[0]))
    md = ["## The recipe across settings (issue 7)", "",
          "Recipe test accuracy minus each peer's (torch's `OneCycleLR` at its defaults, same "
          "model, batch size and epochs), in points: paired mean ± standard error over seeds "
          "(the median of the paired differences, which a diverged run cannot drag; seeds "
          "where the recipe is ahead). Runs of one setting with disjoint seeds are "
          "pooled in the bold row.", "",
          "| setting (file) | seeds | recipe accuracy % | − " + " | − ".join(PEERS) + " |",
          "|---|---|---:|" + "---:|" * len(PEERS)]
    by_setting: dict[tuple, list[tuple[str, dict]]] = {}
    for stem, d in runs:
        by_setting.setdefault(_setting(d), []).append((stem, d))
    for (arch, neg_n, ep), group in by_setting.items():
        name = f"{arch}, {-neg_n} Fashion-MNIST images, {ep} epochs"
        for stem, d in group:
            md.append(_row(f"{name} (`{stem}`)", d["rows"], _seeds(d)))
        seeds = [s for _, d in group for s in _seeds(d)]
        if len(group) > 1 and len(set(seeds)) == len(seeds):
            # a peer is pooled only when every file has it for every one of its seeds
            pooled = {k: [x for _, d in group for x in d["rows"].get(k, [])]
                      for k in ("recipe", *PEERS)
                      if all(len(d["rows"].get(k, [])) == len(d["rows"]["recipe"])
                             for _, d in group)}
            md.append(_row(f"**{name}, pooled**", pooled, sorted(seeds)))
    md += ["", "Commands: each file's own (`benchmarks/results/<file>.md`)."]
    write("recipe_summary", {"files": [s for s, _ in runs]}, "\n".join(md))


if __name__ == "__main__":
    main()
