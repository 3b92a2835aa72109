"""B0 conformance: our three 1cycle styles against their references, step for step.

* torch style vs ``torch.optim.lr_scheduler.OneCycleLR`` (the real class), for the
  defaults, ``three_phase=True``, ``anneal_strategy="linear"`` and a custom config,
  SGD (momentum) and Adam (beta1), many step counts.
* fastai style vs fastai v2's ``fit_one_cycle`` formula (``combined_cos``), written out
  independently in float64; also the gap to fastai's own float32 phase table.
* smith style vs Smith's definition written as Caffe's triangular formula.

Target: max abs difference <= 1e-12 everywhere.

    python benchmarks/b0_conformance.py [--quick]
"""

from __future__ import annotations

import argparse
import math
import sys
import warnings
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import setup_threads, write  # noqa: E402
from onecycle.schedule import OneCycleSchedule  # noqa: E402


def torch_reference(T, opt_name, kw):
    p = torch.nn.Parameter(torch.zeros(1))
    opt = (
        torch.optim.SGD([p], lr=0.1, momentum=0.9)
        if opt_name == "sgd"
        else torch.optim.Adam([p], lr=0.1)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sch = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.8, total_steps=T, **kw)
        lr, mom = [], []
        for i in range(T):
            g = opt.param_groups[0]
            lr.append(g["lr"])
            mom.append(g["momentum"] if opt_name == "sgd" else g["betas"][0])
            opt.step()
            if i < T - 1:
                sch.step()
    return np.array(lr), np.array(mom)


def fastai_reference(T, lr_max, float32_table=False):
    div, div_final, pct = 25.0, 1e5, 0.25
    pcts = [0.0, pct, 1.0]
    if float32_table:  # fastai keeps its phase table in a float32 tensor
        pcts = [float(v) for v in torch.tensor([0.0, pct, 1 - pct]).cumsum(0)]

    def cos(start, end, pos):
        return start + (1 + math.cos(math.pi * (1 - pos))) * (end - start) / 2

    def combined(pos, a, b, c):
        idx = 0 if pos < pcts[1] else 1
        act = (pos - pcts[idx]) / (pcts[idx + 1] - pcts[idx])
        return cos(a, b, act) if idx == 0 else cos(b, c, act)

    lr = [combined(i / T, lr_max / div, lr_max, lr_max / div_final) for i in range(T)]
    mom = [combined(i / T, 0.95, 0.85, 0.95) for i in range(T)]
    return np.array(lr), np.array(mom)


def smith_reference(T, mx, div=10.0, final_div=1000.0, ann=0.1, mom=(0.95, 0.85)):
    """Caffe-style triangle: stepsize iterations up, stepsize down, then annihilation."""
    base = mx / div
    up_end = (1 - ann) / 2 * T
    down_end = (1 - ann) * T
    last = T - 1
    lr, m = [], []
    for i in range(T):
        if i <= up_end:
            f = i / up_end
            lr.append(base + (mx - base) * f)
            m.append(mom[0] + (mom[1] - mom[0]) * f)
        elif i <= down_end:
            f = (i - up_end) / (down_end - up_end)
            lr.append(mx + (base - mx) * f)
            m.append(mom[1] + (mom[0] - mom[1]) * f)
        else:
            f = (i - down_end) / (last - down_end)
            lr.append(base + (mx / final_div - base) * f)
            m.append(mom[0])
    return np.array(lr), np.array(m)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    setup_threads(2)
    steps = [1, 2, 3, 5, 10, 100, 1000] if args.quick else [1, 2, 3, 4, 5, 7, 10, 33, 100, 250, 1000, 4999]
    rows = []
    worst_all = 0.0
    configs = {
        "defaults": {},
        "three_phase=True": {"three_phase": True},
        'anneal_strategy="linear"': {"anneal_strategy": "linear"},
        "pct_start=0.1, div=10, final_div=100": {"pct_start": 0.1, "div_factor": 10.0, "final_div_factor": 100.0},
    }
    for cname, kw in configs.items():
        for opt_name in ("sgd", "adam"):
            worst, n, skipped = 0.0, 0, []
            for T in steps:
                try:
                    ref_lr, ref_m = torch_reference(T, opt_name, kw)
                except ZeroDivisionError:
                    skipped.append(T)
                    continue
                s = OneCycleSchedule(
                    T, 0.8, style="torch", three_phase=kw.get("three_phase"),
                    anneal=kw.get("anneal_strategy"), pct_start=kw.get("pct_start"),
                    div=kw.get("div_factor"), final_div=kw.get("final_div_factor"),
                ).preview()
                worst = max(worst, float(np.max(np.abs(s["lr"] - ref_lr))),
                            float(np.max(np.abs(s["momentum"] - ref_m))))
                n += T
            worst_all = max(worst_all, worst)
            note = f" (torch raises ZeroDivisionError at T={skipped}; ours is finite)" if skipped else ""
            rows.append((f"torch `OneCycleLR` {cname}, {opt_name.upper()}", n, worst, note))
    for label, f32 in (("fastai v2 formula (float64)", False), ("fastai's float32 phase table (informational)", True)):
        worst, n = 0.0, 0
        for T in steps:
            ref_lr, ref_m = fastai_reference(T, 3e-3, float32_table=f32)
            s = OneCycleSchedule(T, 3e-3, style="fastai").preview()
            worst = max(worst, float(np.max(np.abs(s["lr"] - ref_lr))), float(np.max(np.abs(s["momentum"] - ref_m))))
            n += T
        if not f32:
            worst_all = max(worst_all, worst)
        rows.append((label, n, worst, ""))
    worst, n = 0.0, 0
    for T in [s for s in steps if s >= 100]:
        ref_lr, ref_m = smith_reference(T, 0.8)
        s = OneCycleSchedule(T, 0.8).preview()
        worst = max(worst, float(np.max(np.abs(s["lr"] - ref_lr))), float(np.max(np.abs(s["momentum"] - ref_m))))
        n += T
    worst_all = max(worst_all, worst)
    rows.append(("smith definition (Caffe triangle + annihilation)", n, worst, ""))
    ok = worst_all <= 1e-12
    md = ["## B0 conformance", "",
          f"Target: max abs difference ≤ 1e-12 for every step. **{'PASS' if ok else 'FAIL'}** "
          f"(worst {worst_all:.3g}).", "",
          "| reference | steps compared | max abs diff (lr, momentum) | note |", "|---|---:|---:|---|"]
    for label, n, w, note in rows:
        md.append(f"| {label} | {n} | {w:.3g} | {note} |")
    md.append("")
    md.append("Step counts: " + ", ".join(map(str, steps)) + ".")
    write("b0", {"rows": [dict(reference=r[0], steps=r[1], max_abs_diff=r[2], note=r[3]) for r in rows],
                 "worst": worst_all, "pass": ok}, "\n".join(md))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
