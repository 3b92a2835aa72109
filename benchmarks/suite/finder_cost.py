"""Finder cost: what does a range test cost, and does it pick the same LR on every seed?

Protocol: an MLP (784-256-128-10) on full MNIST (54k training images), batch 128, SGD
momentum 0.9, weight decay 5e-4, one torch thread. For every seed (initialisation and
data order; 10 seeds, 3 with ``--quick``):

* ``onecycle.lr_find`` with the library's defaults (1e-5 -> 10, 100 iterations, exp, the
  divergence stop on, state restored afterwards) and 100 plain training iterations of
  the same model, optimizer and data at LR 0.01 (zero_grad / forward / backward / step /
  ``loss.item()``), alternated (3 pairs per seed, 1 with ``--quick``), medians. The
  figure is the finder's time per iteration it ran over a plain iteration's (the
  finder stops early once the loss diverges, so its total time flatters it);
* every suggestion method on the finder's curve, and the real ``torch-lr-finder``
  package (same sweep, its own range test) as an outside reference: the standard
  deviation of log10(suggested LR) across seeds, and the degenerate picks (none, or a
  point in the first or last 5 % of the recorded sweep).

Target (BENCHMARKS.md): finder time <= 1.2x the same number of plain iterations.

    python -m benchmarks.suite run finder_cost [--quick]
"""

from __future__ import annotations

import contextlib
import io
import math
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from onecycle._format import fmt_lr

from . import core, workload
from .workload import ratio_cell, verdict

NAME = "finder_cost"
TITLE = "Finder cost"
METHODS = ("auto", "valley", "steep", "minimum", "slide")
START, END, NUM_ITER = 1e-5, 10.0, 100
PLAIN_LR = 0.01
BATCH = 128
TARGET = 1.2


def degenerate(lrs: Sequence[float], lr: float | None, frac: float = 0.05) -> bool:
    """No suggestion, or one in the first/last ``frac`` of the recorded sweep."""
    if lr is None or not math.isfinite(lr):
        return True
    a = np.log(np.asarray(lrs, dtype=float))
    i = int(np.argmin(np.abs(a - math.log(lr))))
    k = max(1, math.ceil(frac * len(a)))
    return i < k or i > len(a) - 1 - k


def torch_lr_finder(m: torch.nn.Module, opt: torch.optim.Optimizer, loader: Any
                    ) -> tuple[float | None, list[float]] | None:
    """The real ``torch_lr_finder`` pick (its steepest-gradient rule) and its LRs; None
    when the package is not installed."""
    try:
        from torch_lr_finder import LRFinder, TrainDataLoaderIter
    except ImportError:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        finder = LRFinder(m, opt, F.cross_entropy)
        finder.range_test(TrainDataLoaderIter(loader), start_lr=START, end_lr=END,
                          num_iter=NUM_ITER)
        try:
            _ax, lr = finder.plot(suggest_lr=True)
        except (RuntimeError, ValueError):  # too few points
            lr = None
        plt.close("all")
    return (None if lr is None else float(lr)), [float(v) for v in finder.history["lr"]]


def run_seed(b: Any, seed: int, reps: int) -> dict[str, Any]:
    from onecycle import lr_find

    tr, _ = workload.loaders(b, BATCH, seed)
    out: dict[str, Any] = {"seed": seed, "finder_times": [], "plain_times": []}
    # throw-away warm-ups: the first measurement must not pay for lazy initialisation
    m = workload.model("mlp", b, seed)
    workload.plain_iterations(m, workload.sgd(m, PLAIN_LR), tr, [PLAIN_LR] * 5)
    lr_find(m, workload.sgd(m, PLAIN_LR), F.cross_entropy, tr, num_iter=5, progress=False)
    order = ("finder", "plain") if seed % 2 == 0 else ("plain", "finder")
    for which in order * reps:
        m = workload.model("mlp", b, seed)
        opt = workload.sgd(m, PLAIN_LR)
        if which == "plain":
            # at a sane LR: iterations past the divergence point would run on inf/NaN
            # weights and distort the reference
            out["plain_times"].append(workload.plain_iterations(m, opt, tr,
                                                                [PLAIN_LR] * NUM_ITER))
            continue
        t0 = time.perf_counter()
        res = lr_find(m, opt, F.cross_entropy, tr, start_lr=START, end_lr=END,
                      num_iter=NUM_ITER, seed=seed, progress=False)
        out["finder_times"].append(time.perf_counter() - t0)
        if "lrs" not in out:
            out.update(finder_iters=len(res.lrs), stop_reason=res.stop_reason,
                       lrs=res.lrs.tolist(), losses=res.losses.tolist())
            out["suggestions"] = {}
            for meth in METHODS:
                s = res.suggest(meth)
                out["suggestions"][meth] = {"lr": s.lr, "confidence": s.confidence,
                                            "degenerate": degenerate(res.lrs, s.lr)}
    out["finder_time"] = core.median(out["finder_times"])
    out["plain_time"] = core.median(out["plain_times"])
    m = workload.model("mlp", b, seed)
    torch.manual_seed(seed)
    tlf = torch_lr_finder(m, workload.sgd(m, START), tr)
    if tlf is not None:
        lr, lrs = tlf
        out["suggestions"]["torch-lr-finder"] = {"lr": lr, "confidence": None,
                                                 "degenerate": degenerate(lrs, lr)}
    return out


def method_rows(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for meth in runs[0]["suggestions"]:
        got = [r["suggestions"][meth]["lr"] for r in runs if r["suggestions"][meth]["lr"]]
        logs = np.log10(got) if got else np.array([])
        rows.append({"method": meth, "n": len(got),
                     "geomean_lr": float(10 ** logs.mean()) if got else None,
                     "min_lr": min(got) if got else None, "max_lr": max(got) if got else None,
                     "std_log10": float(np.std(logs, ddof=1)) if len(got) > 1 else None,
                     "degenerate": sum(r["suggestions"][meth]["degenerate"] for r in runs)})
    return rows


def run(quick: bool, workers: int, say: Callable[[str], None],
        only: tuple[str, ...] = ()) -> dict[str, Any]:
    t0 = time.perf_counter()
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    seeds, reps = (3, 1) if quick else (10, 3)
    b = workload.bundle("mnist")
    runs = []
    for s in range(seeds):
        r = run_seed(b, s, reps)
        runs.append(r)
        say(f"  seed {s}: finder {r['finder_time']:.2f} s ({r['finder_iters']} it, "
            f"{r['stop_reason']}), plain {r['plain_time']:.2f} s, "
            f"auto {fmt_lr(r['suggestions']['auto']['lr'])}")
    ratio = [r["finder_time"] / r["plain_time"] for r in runs]
    per_iter = [(r["finder_time"] / r["finder_iters"]) / (r["plain_time"] / NUM_ITER)
                for r in runs]
    data = {"seeds": seeds, "reps": reps, "batch": BATCH, "quick": quick, "ratio": ratio,
            "ratio_per_iter": per_iter, "methods": method_rows(runs), "runs": runs}
    core.save(NAME, data, quick=quick, started=t0)
    return data


def summarize(data: dict[str, Any]) -> tuple[list[core.Row], str]:
    runs, seeds = data["runs"], data["seeds"]
    per_iter, ratio = data["ratio_per_iter"], data["ratio"]
    methods = {r["method"]: r for r in data["methods"]}
    auto = methods["auto"]
    out = [core.Row("range test time / plain iterations (per iteration run)", "≤ 1.2×",
                    ratio_cell(core.median(per_iter)),
                    verdict(core.median(per_iter) <= TARGET)),
           core.Row(f"repeatability of `auto`: std of log10(LR) over {seeds} seeds", "—",
                    "—" if auto["std_log10"] is None else f"{auto['std_log10']:.3f}", "—")]
    stops: dict[str, int] = {}
    for r in runs:
        stops[r["stop_reason"]] = stops.get(r["stop_reason"], 0) + 1
    cost = core.table(["", "median", "mean ± std", "min", "max"], [
        ["finder wall time / 100 plain iterations", ratio_cell(core.median(ratio)),
         core.pm(ratio), f"{min(ratio):.2f}", f"{max(ratio):.2f}"],
        ["per iteration run (the finder stops early on divergence)",
         ratio_cell(core.median(per_iter)), core.pm(per_iter), f"{min(per_iter):.2f}",
         f"{max(per_iter):.2f}"]])
    body = []
    for r in data["methods"]:
        rng = "—" if r["min_lr"] is None else f"{r['min_lr']:.3g} – {r['max_lr']:.3g}"
        body.append([r["method"], f"{r['n']}/{seeds}",
                     "—" if r["geomean_lr"] is None else f"{r['geomean_lr']:.3g}", rng,
                     "—" if r["std_log10"] is None else f"{r['std_log10']:.3f}",
                     f"{r['degenerate']}/{seeds}"])
    md = [cost, "",
          f"Finder {core.pm([r['finder_time'] for r in runs], 3)} s for "
          f"{core.pm([r['finder_iters'] for r in runs], 1)} iterations (stop: "
          + ", ".join(f"{k} {v}" for k, v in sorted(stops.items())) + "); 100 plain "
          f"iterations {core.pm([r['plain_time'] for r in runs], 3)} s; {data['reps']} "
          "alternated pairs per seed, medians.", "",
          core.table(["method", "suggestions", "geometric mean LR", "range",
                      "std of log10(LR)", "degenerate (none, or first/last 5 %)"], body), "",
          "A std of 0.1 in log10 is a factor 1.26 between seeds; 0.3 is a factor 2. "
          "torch-lr-finder is the PyPI package (its `plot(suggest_lr=True)` steepest-gradient "
          "rule on its own EMA-smoothed curve), on the same model, data and sweep."]
    return out, "\n".join(md)
