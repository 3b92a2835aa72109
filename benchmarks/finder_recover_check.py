"""Offline: would trusting a recovery after a spike move ``auto``'s picks on B4's curves?

On Caffe's LeNet (``b2_caffe_check.py``) a 100-iteration range test spikes near 0.04,
recovers, and diverges for good only near 0.15; ``auto`` stops at the spike and picks
4x below the paper's LR. The candidate rule here keeps ``auto`` unless
``onecycle.finder.suggest.spike_recovery`` finds that the loss, after the point where
``tail_cut`` ends the curve, came back below halfway between the starting level and the
smoothed minimum on at least ``RECOVERED_POINTS`` points before the final blow-up; then
it picks the last LR before that blow-up divided by 1.5, never below ``auto``: the
uncapped form of ``bench_lib.proto_recover_rule``. (The library only mentions such a
recovery in ``auto``'s reason; it does not move the pick.)

This script reads the range-test curves every B4 run stored (``results/b4*.json``: real
curves, seeds 0-4) and each setting's best grid LR, and counts where the rule would
change the pick (the Caffe LeNet setting, ``b4_caffe_lenet_b512_e2``, repeats for seeds
0-2 the range tests of ``b2_caffe_curves.py`` the rule was drawn from, at 2 threads
instead of 1: equal within 4e-6 up to the spike, the same picks), and B1's ten MLP curves
(``results/b1.json``: how much the rule and the capped prototype widen the spread of the
pick), when present. No training: it says where the rule acts, not what it would score.
Results go to ``results/finder_recover.{md,json}``.

    python benchmarks/finder_recover_check.py
"""

from __future__ import annotations

import json
import math
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_lib as bl  # noqa: E402
from common import RESULTS_DIR, write  # noqa: E402
from onecycle.finder import suggest as sg  # noqa: E402


def recover_rule(lrs, losses) -> tuple[float | None, bool]:
    """``(pick, triggered)`` of the uncapped rule on one curve (``triggered``: a recovery
    was found, whether or not it moved the pick)."""
    pick = bl.proto_recover_rule(lrs, losses, cap=None)
    return pick, pick is not None and sg.spike_recovery(lrs, losses) is not None


def main() -> None:
    rows = []
    for p in sorted(Path(RESULTS_DIR).glob("b4*.json")):
        if p.stem == "b4_summary":
            continue
        d = json.loads(p.read_text())
        for c in d["curves"]:
            auto = sg.suggest(c["lrs"], c["losses"], "auto").lr
            new, hit = recover_rule(c["lrs"], c["losses"])
            rows.append({"setting": p.stem, "arch": d.get("arch"), "seed": c["seed"],
                         "best_lr": d["best_lr"], "auto": auto, "rule": new, "triggered": hit})
    md = ["## Offline: a recovered-spike rule on B4's stored curves", "",
          "`auto`'s pick and the candidate rule's (see the script) on every range-test curve B4 "
          "stored; no training. `*`: the rule acted.", "",
          "| setting | grid's best LR | picks: auto → rule, per seed | changed |",
          "|---|---:|---|---:|"]
    by: dict[str, list[dict]] = {}
    for r in rows:
        by.setdefault(r["setting"], []).append(r)
    for name, rs in by.items():
        cells = ", ".join(
            "none" if r["auto"] is None else
            f"{r['auto']:.3g}" + (f" → {r['rule']:.3g}*" if r["triggered"] else "") for r in rs)
        md.append(f"| {name} | {rs[0]['best_lr']:.3g} | {cells} | "
                  f"{sum(r['triggered'] for r in rs)} of {len(rs)} |")
    for arch in sorted({r["arch"] for r in rows}):
        rs = [r for r in rows if r["arch"] == arch]
        md.append(f"\n`{arch}`: the rule acts on {sum(r['triggered'] for r in rs)} of {len(rs)} curves.")
    b1p = Path(RESULTS_DIR) / "b1.json"  # B1's ten MLP curves: does the rule widen the spread?
    b1: dict[str, list] = {}
    if b1p.exists():
        runs = json.loads(b1p.read_text())["runs"]
        b1 = {"auto": [sg.suggest(r["lrs"], r["losses"], "auto").lr for r in runs],
                 "rule": [recover_rule(r["lrs"], r["losses"])[0] for r in runs],
                 f"rule capped at {bl.RECOVER_CAP:g}x auto (the B4 prototype)":
                     [bl.proto_recover_rule(r["lrs"], r["losses"]) for r in runs]}
        md += ["", f"B1's {len(runs)} MLP range tests (seeds 0–{len(runs) - 1}): standard deviation of "
               "log10(pick) over seeds, and the seeds whose pick the rule moves:", ""]
        for k, v in b1.items():
            sd = statistics.stdev(math.log10(x) for x in v)
            moved = sum(abs(x - a) > 1e-12 * a for x, a in zip(v, b1["auto"]))
            md.append(f"* {k}: {sd:.3f} (a factor {10 ** sd:.2f}); moved on {moved} of {len(v)} seeds")
    write("finder_recover", {"rows": rows, "b1_picks": b1,
                             "min_recovered": sg.RECOVERED_POINTS,
                             "step_back": bl.RECOVER_STEP_BACK},
          "\n".join(md))


if __name__ == "__main__":
    main()
