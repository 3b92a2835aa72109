"""Does the range test's length move B2's pick? 100 against 300 iterations, two networks.

On Caffe's LeNet B2's finder (1e-5 -> 10 in 100 iterations) picks 0.02-0.03, and the
2-epoch cycle at that LR trails the paper's hand-picked 0.1 by a point
(``b2_caffe_check.py``). Its range-test curve shows why: the loss spikes at about 0.04,
recovers, and only diverges for good near 0.15; ``auto`` stops at the spike. This
script runs, per network and seed, B2's finder with ``num_iter`` 100 and 300 (the same
LR range, so 3x the points per decade and 3x the training before each LR), then B2's
Smith-style cycle at each ``auto`` pick, on B2's LeNet-5 and on Caffe's LeNet. Same
protocol and seeds as B2 (full MNIST, batch 512, SGD momentum 0.9, WD 5e-4), two
1-thread workers. Results go to ``results/b2_sweep_mnist.{md,json}``.

    python benchmarks/b2_sweep_check.py [--seeds 3]
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from pathlib import Path  # noqa: E402

from benchmarks.studies.legacy import b2_superconvergence as b2  # noqa: E402
from benchmarks.studies.legacy import bench_lib as bl  # noqa: E402
from benchmarks.studies.legacy.common import RESULTS_DIR, write  # noqa: E402

SWEEPS = (100, 300)
#: 1cycle budgets per network: B2's two for LeNet-5; 2 epochs (the only budget where
#: k >= 8 against 16 epochs of inv is possible) for Caffe's LeNet, which costs ~5x more
BUDGETS = {"lenet": (2, 4), "caffe_lenet": (2,)}


def _job(job: tuple) -> dict:
    arch, seed, num_iter = job
    if "b" not in b2._WORKER:
        b2._init_worker("mnist", False, 1)
    b2.ARCH = arch
    b2.FINDER = {**b2.FINDER, "num_iter": num_iter}
    f = b2._task("finder", seed, 0, None)
    acc = {E: b2._task("cycle", seed, E, ("smith", f["auto"]))["final_acc"] for E in BUDGETS[arch]}
    return {"arch": arch, "seed": seed, "num_iter": num_iter, "lr": f["auto"],
            "finder_s": f["time"], "stop": f["stop"], "iterations": f["iterations"], "acc": acc}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    seeds = list(range(args.seeds))
    jobs = [(a, s, n) for a in ("caffe_lenet", "lenet") for n in SWEEPS for s in seeds]
    t0 = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as ex:
        rows = list(ex.map(_job, jobs))
    wall = time.perf_counter() - t0
    # Caffe inv per epoch from b2_caffe_check.py, LeNet-5 inv from B2 (the same seeds)
    inv = {}
    # (B2's runs are the suite's superconvergence results: its mnist dataset, read unchanged)
    suite = Path(__file__).resolve().parents[2] / "results" / "superconvergence.json"
    for arch, p in (("caffe_lenet", Path(RESULTS_DIR) / "b2_caffe_mnist.json"), ("lenet", suite)):
        if p.exists():
            d = json.loads(p.read_text())
            d = d.get("datasets", {}).get("mnist", d)
            runs = d.get("inv", d.get("results", {}).get("inv", []))[: len(seeds)]
            if len(runs) == len(seeds):
                n_ep = len(runs[0]["test_acc"])
                inv[arch] = (list(range(1, n_ep + 1)),
                             [[h["test_acc"][e] for h in runs] for e in range(n_ep)])
    md = [
        "## B2's finder: 100 against 300 range-test iterations (mnist)",
        "",
        f"B2's protocol (full MNIST, batch 512, SGD momentum 0.9 cycled 0.95 → 0.85, WD 5e-4, "
        f"seeds {seeds[0]}–{seeds[-1]}); finder 1e-5 → 10 with `num_iter` 100 or 300, its `auto` "
        f"pick trained in a Smith-style 1cycle. Test accuracy %, mean ± std; k against the "
        f"same seeds' Caffe inv runs (B2's for `lenet`, `b2_caffe_check.py`'s for "
        f"`caffe_lenet`). Run time {wall / 60:.1f} min (2 worker processes × 1 thread).",
        "",
        "| network | finder iterations | picks (seeds) | finder s | epochs | test acc % | per seed | k vs Caffe inv |",
        "|---|---:|---|---:|---:|---:|---|---|",
    ]
    for arch in ("lenet", "caffe_lenet"):
        for n in SWEEPS:
            rs = [r for r in rows if r["arch"] == arch and r["num_iter"] == n]
            picks = ", ".join(f"{r['lr']:.3g}" for r in rs)
            fs = bl.mean_std_se([r["finder_s"] for r in rs])[0]
            for E in BUDGETS[arch]:
                accs = [r["acc"][E] for r in rs]
                kt = "–"
                if arch in inv:
                    k, e, open_, _ = b2.k_ratio(*inv[arch], accs, E)
                    kt = f"> {k:.2f}" if open_ else f"{k:.2f} (inv needs {e})"
                md.append(f"| `{arch}` | {n} | {picks} | {fs:.0f} | {E} | {bl.pm(accs)} | "
                          f"{', '.join(f'{a:.2f}' for a in accs)} | {kt} |")
    write("b2_sweep_mnist", {"seeds": seeds, "sweeps": list(SWEEPS), "rows": rows, "wall_s": wall},
          "\n".join(md))


if __name__ == "__main__":
    main()
