"""B2's budget-aware baseline at LRs off its grid: is k against it robust to the grid?

B2 tunes linear decay on the grid 0.01, 0.03, 0.1 (first seed) and reports
k > 1.5 at 4 epochs because linear decay at 6 epochs stays below 1cycle at 4. This
script runs the same linear-decay task (B2's own code: LeNet, batch 512, full MNIST,
one thread per worker, two workers) at other LRs and seeds, so the claim can be
checked against a finer grid. Results go to
``results/b2_linear_check_<dataset>_e<epochs>.{md,json}``.

    python benchmarks/b2_linear_check.py --epochs 6 --lrs 0.0178,0.05 --seeds 0,1,2
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402

from benchmarks.studies.legacy import b2_superconvergence as b2  # noqa: E402
from benchmarks.studies.legacy import bench_lib as bl  # noqa: E402
from benchmarks.studies.legacy.common import write  # noqa: E402


def _one(job: tuple[str, int, int, float]) -> tuple[int, float, float]:
    dataset, seed, epochs, lr = job
    b2._init_worker(dataset, False, 1)
    return seed, lr, b2._task("linear", seed, epochs, lr)["final_acc"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", default="mnist", choices=("mnist", "fashion-mnist"))
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--lrs", default="0.0178,0.05")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    lrs = [float(v) for v in args.lrs.split(",")]
    seeds = [int(v) for v in args.seeds.split(",")]
    jobs = [(args.dataset, s, args.epochs, lr) for lr in lrs for s in seeds]
    t0 = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as ex:
        got = list(ex.map(_one, jobs))
    wall = time.perf_counter() - t0
    acc = {lr: [a for s, v, a in got if v == lr] for lr in lrs}
    md = [
        f"## B2 budget-aware baseline off its grid ({args.dataset}, {args.epochs} epochs)",
        "",
        f"Linear decay, B2's task and settings, seeds {seeds}; test accuracy % per seed and "
        f"mean ± std. Run time {wall / 60:.1f} min.",
        "",
        "| lr | " + " | ".join(f"seed {s}" for s in seeds) + " | mean ± std |",
        "|---|" + "---:|" * (len(seeds) + 1),
    ]
    for lr in lrs:
        md.append(f"| {lr:g} | " + " | ".join(f"{a:.2f}" for a in acc[lr]) + f" | {bl.pm(acc[lr])} |")
    write(f"b2_linear_check_{args.dataset}_e{args.epochs}",
          {"dataset": args.dataset, "epochs": args.epochs, "seeds": seeds,
           "acc": {str(k): v for k, v in acc.items()}, "wall_s": wall}, "\n".join(md))


if __name__ == "__main__":
    main()
