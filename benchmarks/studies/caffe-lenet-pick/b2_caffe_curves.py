"""The range-test curves behind ``b2_caffe_check.py``: Caffe's LeNet, 100 and 300 iterations.

B2's finder (1e-5 -> 10, full MNIST, batch 512, SGD momentum 0.9, WD 5e-4) on Caffe's
LeNet for seeds 0-2 with ``num_iter`` 100 (B2's) and 300, the raw curves saved and
plotted with ``auto``'s pick and the paper's peak LR (0.1) marked. Shows the spike that
stops ``auto`` at 0.02-0.03 in the short test. Results go to
``results/b2_caffe_curves.{md,json,png}``.

    python benchmarks/b2_caffe_curves.py [--seeds 3]
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from benchmarks.studies.legacy import b2_superconvergence as b2  # noqa: E402
from benchmarks.studies.legacy import bench_lib as bl  # noqa: E402
from benchmarks.studies.legacy.common import RESULTS_DIR, write  # noqa: E402
from onecycle.finder import lr_find  # noqa: E402

ARCH = "caffe_lenet"
SWEEPS = (100, 300)
PAPER_LR = 0.1


def _curve(job: tuple[int, int]) -> dict:
    seed, num_iter = job
    if "b" not in b2._WORKER:
        b2._init_worker("mnist", False, 1)
    b = b2._WORKER["b"]
    tr, _ = bl.loaders(b, b2.BATCH, seed)
    m = bl.model(ARCH, b, seed)
    opt = bl.sgd(m, 0.01, b2.MOM, b2.WD)
    res = lr_find(m, opt, torch.nn.functional.cross_entropy, tr, seed=seed, progress=False,
                  **{**b2.FINDER, "num_iter": num_iter})
    return {"seed": seed, "num_iter": num_iter, "lrs": [float(v) for v in res.lrs],
            "losses": [float(v) for v in res.losses], "stop": res.stop_reason,
            "auto": res.suggest("auto").lr}


def _plot(curves: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(SWEEPS), figsize=(11, 4), sharey=True)
    for ax, n in zip(axes, SWEEPS):
        for c in (c for c in curves if c["num_iter"] == n):
            x, y = np.asarray(c["lrs"]), np.asarray(c["losses"])
            ok = np.isfinite(y)
            (line,) = ax.plot(x[ok], y[ok], lw=1.2, label=f"seed {c['seed']} (auto {c['auto']:.2g})")
            if c["auto"]:
                i = int(np.argmin(np.abs(np.log(x[ok] / c["auto"]))))
                ax.plot([x[ok][i]], [y[ok][i]], "o", color=line.get_color(), markeredgecolor="k")
        ax.axvline(PAPER_LR, color="grey", ls="--", lw=1, label=f"paper's peak {PAPER_LR:g}")
        ax.set_xscale("log")
        ax.set_xlim(1e-3, 1)
        ax.set_ylim(0, 5)
        ax.set_xlabel("learning rate")
        ax.set_title(f"Caffe LeNet, MNIST, batch 512: {n} iterations")
        ax.legend(fontsize=8)
    axes[0].set_ylabel("training loss (raw, per iteration)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    jobs = [(s, n) for n in SWEEPS for s in range(args.seeds)]
    t0 = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as ex:
        curves = list(ex.map(_curve, jobs))
    wall = time.perf_counter() - t0
    png = Path(RESULTS_DIR) / "b2_caffe_curves.png"
    _plot(curves, png)
    md = ["## B2's finder on Caffe's LeNet: the curves", "",
          f"Raw range-test losses, seeds 0–{args.seeds - 1}, 100 and 300 iterations over 1e-5 → 10; "
          f"dots: `auto`'s pick; dashed: the paper's peak LR. Run time {wall / 60:.1f} min.", "",
          f"![Caffe LeNet range tests](results/{png.name})", "",
          "| iterations | seed | `auto` | stop |", "|---:|---:|---:|---|"]
    md += [f"| {c['num_iter']} | {c['seed']} | {c['auto']:.3g} | {c['stop']} |" for c in curves]
    write("b2_caffe_curves", {"arch": ARCH, "curves": curves, "wall_s": wall}, "\n".join(md))


if __name__ == "__main__":
    main()
