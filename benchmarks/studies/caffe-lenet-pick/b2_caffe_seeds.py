"""Caffe's LeNet on more seeds: is the paper's 0.1 safe, or is the finder's low pick right?

``b2_caffe_check.py`` (seeds 0-2) found the 2-epoch cycle a point better at the paper's
hand-picked 0.1 than at the finder's ``auto`` pick (0.02-0.03), and ``b2_sweep_check.py``
saw 0.108 diverge on seed 1. This runs the same two cycles (B2's protocol, no inv
baseline) on further seeds, to tell whether 0.1 is a better default peak for this
network or a lucky one. Results go to ``results/b2_caffe_seeds.{md,json}``.

    python benchmarks/b2_caffe_seeds.py [--first-seed 3] [--seeds 5]
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import importlib  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402

cc = importlib.import_module("benchmarks.studies.caffe-lenet-pick.b2_caffe_check")
from benchmarks.studies.legacy import bench_lib as bl  # noqa: E402
from benchmarks.studies.legacy.common import write  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--first-seed", type=int, default=3)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    jobs = ([("finder+cycle", s, cc.EPOCHS, None) for s in seeds]
            + [("cycle", s, cc.EPOCHS, cc.PAPER_LR) for s in seeds])
    t0 = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as ex:
        out = list(ex.map(cc._job, jobs))
    wall = time.perf_counter() - t0
    n = len(seeds)
    auto, paper = out[:n], [o["cycle"] for o in out[n:]]
    md = [f"## Caffe LeNet, 2 epochs: the finder's pick against the paper's 0.1, seeds {seeds[0]}–{seeds[-1]}",
          "",
          f"B2's protocol on `{cc.ARCH}` (full MNIST, batch 512, Smith-style cycle, momentum 0.95 → 0.85, "
          f"WD 5e-4), seeds not used by `b2_caffe_check.py`. Test accuracy %. Run time {wall / 60:.1f} min.",
          "", "| seed | `auto` pick | at `auto` | at 0.1 | diverged at 0.1 |", "|---:|---:|---:|---:|---|"]
    for s, a, p in zip(seeds, auto, paper):
        md.append(f"| {s} | {a['finder']['auto']:.3g} | {a['cycle']['final_acc']:.2f} | "
                  f"{p['final_acc']:.2f} | {'yes' if p['diverged'] else 'no'} |")
    acc_a = [a["cycle"]["final_acc"] for a in auto]
    acc_p = [p["final_acc"] for p in paper]
    d = [p - a for a, p in zip(acc_a, acc_p)]
    md += [f"| mean ± std | | {bl.pm(acc_a)} | {bl.pm(acc_p)} | {sum(p['diverged'] for p in paper)} of {n} |",
           "", f"0.1 minus `auto`, paired: mean {statistics.fmean(d):+.2f}, median "
           f"{statistics.median(d):+.2f} points, ahead on {sum(v > 0 for v in d)} of {n} seeds."]
    write("b2_caffe_seeds",
          {"arch": cc.ARCH, "seeds": seeds, "paper_lr": cc.PAPER_LR,
           "auto": [{"finder": a["finder"], "cycle": cc.b2.brief(a["cycle"])} for a in auto],
           "paper": [cc.b2.brief(p) for p in paper], "wall_s": wall},
          "\n".join(md))


if __name__ == "__main__":
    main()
