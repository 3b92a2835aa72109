"""What moves the finder's pick: the range test's momentum and start LR, on both B2 networks.

Why the finder picks 3-5x below the best peak on Caffe's LeNet but not on B2's LeNet-5
(issue 6). B2's finder setting (full MNIST, batch 512, SGD WD 5e-4, 100 iterations,
1e-5 -> 10), seeds 0-4, on each network, varying one thing at a time:

* the SGD momentum during the range test: 0.95 (the cycle's start), 0.9 (B2's, the
  optimizer's default), 0.85 (the cycle's momentum at its peak LR);
* the start LR: 1e-3 instead of 1e-5 (the same 100 iterations, so a denser sweep but
  less training below 1e-3 before the critical region).

No training: the picks are set against the best grid peak of B4's run in the same
setting (``b4_caffe_lenet_b512_e2``, ``b4_lenet_b512_e4``). Results go to
``results/finder_momentum_check.{md,json}``; about 10 minutes.

    python benchmarks/finder_momentum_check.py [--seeds 5]
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402

from benchmarks.studies.legacy import b2_superconvergence as b2  # noqa: E402
from benchmarks.studies.legacy import bench_lib as bl  # noqa: E402
from benchmarks.studies.legacy.common import write  # noqa: E402
from onecycle.finder import lr_find  # noqa: E402

#: name -> (momentum, start_lr)
VARIANTS = {"momentum 0.95": (0.95, 1e-5), "momentum 0.9 (B2)": (0.9, 1e-5),
            "momentum 0.85": (0.85, 1e-5), "momentum 0.9, start 1e-3": (0.9, 1e-3)}
#: where B4's runs are (the finder-rules study)
B4_RESULTS = Path(__file__).resolve().parents[1] / "finder-rules" / "results"
#: network -> the B4 run in B2's setting whose grid gives the best peak
B4_REF = {"caffe_lenet": "b4_caffe_lenet_b512_e2", "lenet": "b4_lenet_b512_e4"}
LABEL = {"caffe_lenet": "Caffe's LeNet (Smith's)", "lenet": "LeNet-5 (B2's)"}


def _curve(job: tuple[str, str, int]) -> dict:
    arch, var, seed = job
    if "b" not in b2._WORKER:
        b2._init_worker("mnist", False, 1)
    b = b2._WORKER["b"]
    mom, start = VARIANTS[var]
    tr, _ = bl.loaders(b, b2.BATCH, seed)
    m = bl.model(arch, b, seed)
    opt = bl.sgd(m, 0.01, mom, b2.WD)
    res = lr_find(m, opt, torch.nn.functional.cross_entropy, tr, seed=seed, progress=False,
                  **{**b2.FINDER, "start_lr": start})
    return {"arch": arch, "variant": var, "seed": seed, "auto": res.suggest("auto").lr,
            "stop": res.stop_reason, "lrs": [float(v) for v in res.lrs],
            "losses": [float(v) for v in res.losses]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    jobs = [(a, v, s) for a in B4_REF for v in VARIANTS for s in range(args.seeds)]
    t0 = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as ex:
        curves = list(ex.map(_curve, jobs))
    wall = time.perf_counter() - t0
    md = ["## What moves the finder's pick: momentum and start LR (both B2 networks)", "",
          f"B2's finder setting (full MNIST, batch 512, 100 iterations, WD 5e-4), seeds "
          f"0–{args.seeds - 1}, one change at a time; `auto`'s picks. No training: the last "
          "columns give the best grid peak of B4's run in the same setting and its grid "
          f"accuracies around it. Run time {wall / 60:.1f} min.", "",
          "| network | range test | `auto` per seed | geometric mean | × B2's | best grid peak (B4) |",
          "|---|---|---|---:|---:|---|"]
    summary = {}
    for arch, ref in B4_REF.items():
        # B4's runs are the finder-rules study's (this study's results only hold its own)
        d = json.loads((B4_RESULTS / f"{ref}.json").read_text())
        grid = {float(k): sum(r["acc"] for r in v) / len(v) for k, v in d["grid_acc"].items()}
        near = ", ".join(f"{lr:.3g}: {acc:.2f} %" for lr, acc in sorted(grid.items())
                         if 0.009 < lr < 0.35)
        base = bl.geomean([c["auto"] for c in curves if c["arch"] == arch
                           and c["variant"] == "momentum 0.9 (B2)"])
        for var in VARIANTS:
            picks = [c["auto"] for c in curves if c["arch"] == arch and c["variant"] == var]
            g = bl.geomean(picks)
            summary[f"{arch} / {var}"] = {"picks": picks, "geomean": g, "vs_b2": g / base}
            md.append(f"| {LABEL[arch]} | {var} | "
                      f"{', '.join(f'{p:.3g}' for p in picks)} | {g:.3g} | {g / base:.2f} | "
                      f"{d['best_lr']:.3g} (`{ref}`; {near}) |")
    write("finder_momentum_check", {"seeds": list(range(args.seeds)), "summary": summary,
                                    "curves": curves, "wall_s": wall}, "\n".join(md))


if __name__ == "__main__":
    main()
