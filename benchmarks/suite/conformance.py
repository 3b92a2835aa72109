"""Conformance: are our three 1cycle styles the schedules they claim to be, step for step?

Protocol: for every step count in ``STEPS`` (``QUICK_STEPS`` with ``--quick``), the LR
and momentum of every step of ``onecycle.OneCycleSchedule(...).preview()`` against

* ``style="torch"``: the real ``torch.optim.lr_scheduler.OneCycleLR`` driving an SGD
  (momentum) and an Adam (beta1) optimizer, for its defaults, ``three_phase=True``,
  ``anneal_strategy="linear"`` and a custom ``pct_start``/``div``/``final_div``;
* ``style="fastai"``: fastai v2's ``fit_one_cycle`` formula (``combined_cos``) written
  out here in float64; and, for information only, fastai's own float32 phase table;
* ``style="smith"`` (the default): Smith's definition written as Caffe's triangle
  (stepsize iterations up, stepsize down) plus the annihilation phase.

The figure is the largest absolute difference over every step, LR and momentum.
Target: <= 1e-12 (torch, smith, and fastai against its float64 formula).

    python -m benchmarks.suite run conformance [--quick]
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from . import core
from .workload import verdict

NAME = "conformance"
TITLE = "Conformance"
TOL = 1e-12
STEPS = (1, 2, 3, 4, 5, 7, 10, 33, 100, 250, 1000, 4999)
QUICK_STEPS = (1, 2, 3, 5, 10, 100, 1000)
TORCH_CONFIGS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "three_phase=True": {"three_phase": True},
    'anneal_strategy="linear"': {"anneal_strategy": "linear"},
    "pct_start=0.1, div=10, final_div=100": {"pct_start": 0.1, "div_factor": 10.0,
                                             "final_div_factor": 100.0},
}
#: OneCycleLR keyword -> our OneCycleSchedule keyword
TORCH_NAMES = {"three_phase": "three_phase", "anneal_strategy": "anneal",
               "pct_start": "pct_start", "div_factor": "div", "final_div_factor": "final_div"}


def torch_reference(total: int, opt_name: str, kw: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """LR and momentum (beta1 for Adam) that ``OneCycleLR`` applies at every step."""
    p = torch.nn.Parameter(torch.zeros(1))
    opt = (torch.optim.SGD([p], lr=0.1, momentum=0.9) if opt_name == "sgd"
           else torch.optim.Adam([p], lr=0.1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.8, total_steps=total, **kw)
        lr, mom = [], []
        for i in range(total):
            g = opt.param_groups[0]
            lr.append(g["lr"])
            mom.append(g["momentum"] if opt_name == "sgd" else g["betas"][0])
            opt.step()
            if i < total - 1:
                sched.step()
    return np.array(lr), np.array(mom)


def fastai_reference(total: int, lr_max: float, float32_table: bool = False
                     ) -> tuple[np.ndarray, np.ndarray]:
    """fastai v2 ``fit_one_cycle``: cosine div=25 -> max over 25 %, then to max / 1e5."""
    div, div_final, pct = 25.0, 1e5, 0.25
    pcts = [0.0, pct, 1.0]
    if float32_table:  # fastai keeps its phase table in a float32 tensor
        pcts = [float(v) for v in torch.tensor([0.0, pct, 1 - pct]).cumsum(0)]

    def cos(start: float, end: float, pos: float) -> float:
        return start + (1 + math.cos(math.pi * (1 - pos))) * (end - start) / 2

    def combined(pos: float, a: float, b: float, c: float) -> float:
        idx = 0 if pos < pcts[1] else 1
        act = (pos - pcts[idx]) / (pcts[idx + 1] - pcts[idx])
        return cos(a, b, act) if idx == 0 else cos(b, c, act)

    lr = [combined(i / total, lr_max / div, lr_max, lr_max / div_final) for i in range(total)]
    mom = [combined(i / total, 0.95, 0.85, 0.95) for i in range(total)]
    return np.array(lr), np.array(mom)


def smith_reference(total: int, mx: float, div: float = 10.0, final_div: float = 1000.0,
                    ann: float = 0.1, mom: tuple[float, float] = (0.95, 0.85)
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Caffe-style triangle: stepsize iterations up, stepsize down, then annihilation."""
    base = mx / div
    up_end = (1 - ann) / 2 * total
    down_end = (1 - ann) * total
    last = total - 1
    lr, m = [], []
    for i in range(total):
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


def _worst(ours: dict[str, np.ndarray], ref: tuple[np.ndarray, np.ndarray]) -> float:
    return max(float(np.max(np.abs(ours["lr"] - ref[0]))),
               float(np.max(np.abs(ours["momentum"] - ref[1]))))


def _compare(steps: tuple[int, ...], ours: Callable[[int], dict[str, np.ndarray]],
             ref: Callable[[int], tuple[np.ndarray, np.ndarray]]) -> dict[str, Any]:
    worst, n, skipped = 0.0, 0, []
    for total in steps:
        try:
            r = ref(total)
        except ZeroDivisionError:  # OneCycleLR cannot build some tiny schedules
            skipped.append(total)
            continue
        worst = max(worst, _worst(ours(total), r))
        n += total
    return {"steps": n, "max_abs_diff": worst, "skipped": skipped}


def measure(steps: tuple[int, ...]) -> list[dict[str, Any]]:
    from onecycle import OneCycleSchedule

    rows = []
    for cname, kw in TORCH_CONFIGS.items():
        ours_kw = {TORCH_NAMES[k]: v for k, v in kw.items()}
        for opt_name in ("sgd", "adam"):
            r = _compare(steps, lambda T, o=ours_kw: OneCycleSchedule(
                T, 0.8, style="torch", **o).preview(),
                lambda T, o=opt_name, k=kw: torch_reference(T, o, k))
            rows.append({"style": "torch", "reference": f"`OneCycleLR` {cname}, "
                         f"{opt_name.upper()}", "judged": True, **r})
    for label, f32 in (("fastai v2 formula (float64)", False),
                       ("fastai's float32 phase table (information)", True)):
        r = _compare(steps, lambda T: OneCycleSchedule(T, 3e-3, style="fastai").preview(),
                     lambda T, f=f32: fastai_reference(T, 3e-3, float32_table=f))
        rows.append({"style": "fastai", "reference": label, "judged": not f32, **r})
    long = tuple(s for s in steps if s >= 100)  # the triangle needs room for its phases
    r = _compare(long, lambda T: OneCycleSchedule(T, 0.8).preview(),
                 lambda T: smith_reference(T, 0.8))
    rows.append({"style": "smith", "reference": "Smith's definition (Caffe triangle + "
                 "annihilation)", "judged": True, **r})
    return rows


def run(quick: bool, workers: int, say: Callable[[str], None],
        only: tuple[str, ...] = ()) -> dict[str, Any]:
    t0 = time.perf_counter()
    steps = QUICK_STEPS if quick else STEPS
    rows = measure(steps)
    worst = max(r["max_abs_diff"] for r in rows if r["judged"])
    say(f"conformance: worst difference {worst:.3g} over {len(rows)} references")
    data = {"step_counts": list(steps), "rows": rows, "worst": worst, "tolerance": TOL,
            "quick": quick}
    core.save(NAME, data, quick=quick, started=t0)
    return data


def summarize(data: dict[str, Any]) -> tuple[list[core.Row], str]:
    rows = data["rows"]
    out = []
    for style in ("torch", "smith", "fastai"):
        mine = [r for r in rows if r["style"] == style and r["judged"]]
        w = max(r["max_abs_diff"] for r in mine)
        ref = {"torch": "`OneCycleLR`", "smith": "Smith's definition",
               "fastai": "fastai's formula"}[style]
        out.append(core.Row(f"`{style}` style vs {ref}, max abs difference", "≤ 1e-12",
                            f"{w:.2g}", verdict(w <= data["tolerance"])))
    body = []
    for r in rows:
        note = (f"OneCycleLR raises ZeroDivisionError at {r['skipped']} steps; ours is finite"
                if r["skipped"] else "" if r["judged"] else "not judged")
        body.append([r["style"], r["reference"], r["steps"], f"{r['max_abs_diff']:.3g}", note])
    md = (core.table(["style", "reference", "steps compared", "max abs diff (lr, momentum)",
                      "note"], body)
          + "\n\nStep counts: " + ", ".join(map(str, data["step_counts"])) + ".")
    return out, md
