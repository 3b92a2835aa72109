"""B2's 1cycle schedules at one budget over more seeds than B2 can afford.

B2 (3 seeds, ≤ 10 min) finds fastai's schedule ahead of our Smith-style cycle at
2 epochs, at the same finder LR, because one seed of three starts slowly. This script
runs only that comparison (B2's own finder and 1cycle tasks: LeNet, batch 512, full
MNIST, one thread per worker, two workers) on more seeds, to tell a systematic gap
from a seed. Results go to ``results/b2_styles_<dataset>_e<epochs>.{md,json}``.

    python benchmarks/b2_styles_check.py --epochs 2 --seeds 10
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402

from benchmarks.studies.legacy import b2_superconvergence as b2  # noqa: E402
from benchmarks.studies.legacy import bench_lib as bl  # noqa: E402
from benchmarks.studies.legacy.common import write  # noqa: E402


def _seed(job: tuple[str, int, int]) -> dict:
    """The finder's pick for one seed, then every style trained at it."""
    dataset, seed, epochs = job
    b2._init_worker(dataset, False, 1)
    f = b2._task("finder", seed, 0, None)
    out = {"seed": seed, "lr": f["auto"]}
    for st in b2.STYLES:
        out[st] = b2._task("cycle", seed, epochs, (st, f["auto"]))["final_acc"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", default="mnist", choices=("mnist", "fashion-mnist"))
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    t0 = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as ex:
        rows = list(ex.map(_seed, [(args.dataset, s, args.epochs) for s in range(args.seeds)]))
    wall = time.perf_counter() - t0
    styles = b2.STYLES
    md = [
        f"## B2's schedules over {args.seeds} seeds ({args.dataset}, {args.epochs} epochs)",
        "",
        f"B2's finder (`auto`) and 1cycle runs, per seed; test accuracy %. Run time {wall / 60:.1f} min.",
        "",
        "| seed | max_lr | " + " | ".join(b2.LABEL[st] for st in styles) + " |",
        "|---:|---:|" + "---:|" * len(styles),
    ]
    for r in rows:
        md.append(f"| {r['seed']} | {r['lr']:.3g} | " + " | ".join(f"{r[st]:.2f}" for st in styles) + " |")
    md.append("| mean ± std | | " + " | ".join(bl.pm([r[st] for r in rows]) for st in styles) + " |")
    md.append("| median | | " + " | ".join(f"{statistics.median(r[st] for r in rows):.2f}" for st in styles) + " |")
    diffs = {st: [r["smith"] - r[st] for r in rows] for st in styles if st != "smith"}
    md += ["", "Paired, ours (smith) minus each peer: " + "; ".join(
        f"{st}: mean {statistics.fmean(d):+.2f}, median {statistics.median(d):+.2f}, "
        f"ahead on {sum(v > 0 for v in d)} of {len(d)}" for st, d in diffs.items()) + "."]
    write(f"b2_styles_{args.dataset}_e{args.epochs}",
          {"dataset": args.dataset, "epochs": args.epochs, "rows": rows, "wall_s": wall},
          "\n".join(md))


if __name__ == "__main__":
    main()
