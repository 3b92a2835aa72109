"""B1 finder cost and repeatability: MLP on MNIST, a 100-iteration range test, many seeds.

For every seed (model initialisation and data order):

* ``onecycle.lr_find`` (start 1e-5, end 10, 100 iterations, exp, the library's
  defaults otherwise: the divergence stop is on, state restored afterwards) and, right
  after it (order alternating), 100 plain training iterations of the same model,
  optimizer and data (zero_grad / forward / backward / step / ``loss.item()``, the LR,
  0.01, set every step): wall-time ratio finder / plain, also per iteration actually run (the
  finder stops early when the loss diverges);
* every suggestion method on the finder's curve (``auto``, ``valley``, ``steep``,
  ``minimum``, ``slide``), and the real ``torch_lr_finder`` package (same sweep) as an
  outside reference;

then: std of log10(suggested LR) across seeds per method, and the rate of degenerate
suggestions (no suggestion, or a point in the first/last 5 % of the recorded sweep).

    python benchmarks/b1_finder.py [--quick] [--seeds N]
"""

from __future__ import annotations

import os

# Idle OpenMP threads sleep instead of spinning: on a shared machine a spinning thread that
# waits for a descheduled sibling makes 2 threads up to 7x slower than 1 (measured).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_lib as bl  # noqa: E402
from common import median, setup_threads, write  # noqa: E402
from onecycle.finder import lr_find  # noqa: E402
from onecycle.finder.engine import lr_grid  # noqa: E402

METHODS = ["auto", "valley", "steep", "minimum", "slide"]
START, END, NUM_ITER = 1e-5, 10.0, 100
PLAIN_LR = 0.01


def plain_iterations(m, opt, loader, lrs) -> float:
    """Wall time of len(lrs) plain training iterations (LR set before each step)."""
    it = iter(loader)
    t0 = time.perf_counter()
    for lr in lrs:
        try:
            x, y = next(it)
        except StopIteration:
            it = iter(loader)
            x, y = next(it)
        for g in opt.param_groups:
            g["lr"] = float(lr)
        loss = F.cross_entropy(m(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        loss.item()
    return time.perf_counter() - t0


def run_seed(b, seed: int, batch: int, with_tlf: bool, reps: int) -> dict:
    tr, _ = bl.loaders(b, batch, seed)
    out: dict = {"seed": seed, "finder_times": [], "plain_times": []}
    grid = lr_grid(START, END, NUM_ITER)
    # throw-away warm-ups so the first measurement does not pay for lazy initialisation
    m = bl.model("mlp", b, seed)
    plain_iterations(m, bl.sgd(m, 0.01), tr, grid[:5])
    lr_find(m, bl.sgd(m, 0.01), F.cross_entropy, tr, num_iter=5, progress=False)
    order = ("finder", "plain") if seed % 2 == 0 else ("plain", "finder")
    for which in order * reps:
        m = bl.model("mlp", b, seed)
        opt = bl.sgd(m, 0.01)
        if which == "finder":
            t0 = time.perf_counter()
            res = lr_find(m, opt, F.cross_entropy, tr, start_lr=START, end_lr=END,
                          num_iter=NUM_ITER, seed=seed, progress=False)
            out["finder_times"].append(time.perf_counter() - t0)
            if "lrs" in out:
                continue
            out["finder_iters"] = len(res.lrs)
            out["stop_reason"] = res.stop_reason
            out["lrs"], out["losses"] = res.lrs.tolist(), res.losses.tolist()
            sug = {}
            for meth in METHODS:
                s = res.suggest(meth)
                sug[meth] = {"lr": s.lr, "confidence": s.confidence,
                             "degenerate": bl.degenerate(res.lrs, s.lr)}
            out["suggestions"] = sug
        else:
            # plain training at a sane LR: iterations at LRs past the divergence point
            # run on blown-up (inf/NaN) weights and would distort the reference
            out["plain_times"].append(plain_iterations(m, opt, tr, [PLAIN_LR] * NUM_ITER))
    out["finder_time"] = median(out["finder_times"])
    out["plain_time"] = median(out["plain_times"])
    if with_tlf:
        m = bl.model("mlp", b, seed)
        opt = bl.sgd(m, START)
        torch.manual_seed(seed)
        lr, info = bl.torch_lr_finder_suggest(m, opt, tr, start_lr=START, end_lr=END,
                                              num_iter=NUM_ITER)
        out["suggestions"]["torch-lr-finder"] = {
            "lr": lr, "confidence": None,
            "degenerate": bl.degenerate(info["lrs"], lr),
        }
        out["tlf_time"], out["tlf_iters"] = info["time"], info["iterations"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--seeds", type=int, default=None)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=None, help="timing pairs per seed")
    args = ap.parse_args()
    setup_threads(args.threads)
    warnings.filterwarnings("ignore")
    seeds = args.seeds or (3 if args.quick else 10)
    try:
        import torch_lr_finder  # noqa: F401
        with_tlf = True
    except ImportError:
        with_tlf = False
    t_all = time.perf_counter()
    b = bl.bundle("mnist")
    runs = []
    for s in range(seeds):
        r = run_seed(b, s, args.batch, with_tlf, args.reps or (1 if args.quick else 3))
        runs.append(r)
        print(f"seed {s}: finder {r['finder_time']:.2f}s ({r['finder_iters']} it, {r['stop_reason']}), "
              f"plain {r['plain_time']:.2f}s; auto={r['suggestions']['auto']['lr']}", flush=True)
    wall = time.perf_counter() - t_all

    ratio = [r["finder_time"] / r["plain_time"] for r in runs]
    ratio_it = [(r["finder_time"] / r["finder_iters"]) / (r["plain_time"] / NUM_ITER) for r in runs]
    methods = METHODS + (["torch-lr-finder"] if with_tlf else [])
    rows = []
    for meth in methods:
        lrs = [r["suggestions"][meth]["lr"] for r in runs]
        got = [v for v in lrs if v is not None]
        logs = np.log10(got) if got else np.array([])
        deg = sum(r["suggestions"][meth]["degenerate"] for r in runs)
        rows.append({
            "method": meth,
            "n": len(got),
            "geomean_lr": bl.geomean(got),
            "min_lr": min(got) if got else None,
            "max_lr": max(got) if got else None,
            "std_log10": float(np.std(logs, ddof=1)) if len(got) > 1 else float("nan"),
            "degenerate": deg,
            "degenerate_rate": deg / len(runs),
            "none": len(runs) - len(got),
        })
    conf = [r["suggestions"]["auto"]["confidence"] for r in runs]
    stops = {k: sum(r["stop_reason"] == k for r in runs) for k in {r["stop_reason"] for r in runs}}

    md = [
        "## B1 finder cost and repeatability",
        "",
        f"MLP (784-256-128-10) on MNIST (54k training images, batch {args.batch}), SGD momentum 0.9, "
        f"WD 5e-4; range test {START:g} → {END:g}, {NUM_ITER} iterations (exp), "
        f"{seeds} seeds (initialisation + data order); plain iterations at LR {PLAIN_LR:g}; "
        "timings: finder and plain runs "
        "alternated, median of the repetitions per seed, then over seeds. "
        f"Total run time {wall:.0f} s.",
        "",
        "### Cost",
        "",
        "| | median | mean ± std | min | max |",
        "|---|---:|---:|---:|---:|",
        f"| finder wall time / 100 plain iterations | **{median(ratio):.2f}×** | {bl.pm(ratio)} | "
        f"{min(ratio):.2f} | {max(ratio):.2f} |",
        f"| per iteration run (finder stops early on divergence) | **{median(ratio_it):.2f}×** | "
        f"{bl.pm(ratio_it)} | {min(ratio_it):.2f} | {max(ratio_it):.2f} |",
        "",
        f"Finder: {bl.pm([r['finder_time'] for r in runs], 3)} s for "
        f"{bl.pm([r['finder_iters'] for r in runs], 1)} iterations (stop: "
        + ", ".join(f"{k} {v}" for k, v in sorted(stops.items())) + "); 100 plain iterations: "
        f"{bl.pm([r['plain_time'] for r in runs], 3)} s."
        + (f" torch-lr-finder: {bl.pm([r['tlf_time'] for r in runs], 3)} s for "
           f"{bl.pm([r['tlf_iters'] for r in runs], 1)} iterations." if with_tlf else ""),
        "Target (B5 table): finder ≤ 1.2× plain iterations — "
        + ("**met**" if median(ratio_it) <= 1.2 else "**missed**") + " (per iteration run).",
        "",
        "### Repeatability of the suggestions",
        "",
        "| method | suggestions | geometric mean LR | range | std of log10(LR) | degenerate (none or first/last 5 %) |",
        "|---|---:|---:|---|---:|---:|",
    ]
    for r in rows:
        rng = "–" if r["min_lr"] is None else f"{r['min_lr']:.3g} – {r['max_lr']:.3g}"
        md.append(
            f"| {r['method']} | {r['n']}/{seeds} | {r['geomean_lr']:.3g} | {rng} | "
            f"**{r['std_log10']:.3f}** | {r['degenerate']}/{seeds} ({100 * r['degenerate_rate']:.0f} %) |"
        )
    md += [
        "",
        f"`auto` confidence: {bl.pm([c for c in conf if c is not None], 2)}. "
        "A std of 0.1 in log10 is a factor 1.26 between seeds; 0.3 is a factor 2.",
        "torch-lr-finder is the PyPI package `torch-lr-finder` (its `plot(suggest_lr=True)` "
        "steepest-gradient rule on its own EMA-smoothed curve), run on the same model, data and sweep.",
    ]
    write("b1", {"seeds": seeds, "batch": args.batch, "quick": args.quick,
                 "ratio": ratio, "ratio_per_iter": ratio_it, "methods": rows,
                 "runs": runs, "wall_s": wall}, "\n".join(md))


if __name__ == "__main__":
    main()
