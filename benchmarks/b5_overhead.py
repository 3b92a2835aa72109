"""B5 overhead: what the machinery costs per step.

* scheduler: ``OneCycle.step()`` vs ``torch.optim.lr_scheduler.OneCycleLR.step()``
  (same optimizer shape, interleaved repetitions, median ratio). Target <= 1.0x.
* trainer: ``Trainer.fit_one_cycle`` throughput vs a hand-written loop with the same
  model, data, optimizer and scheduler. Target >= 0.97x.
* finder: ``lr_find`` wall time vs the same number of plain training iterations, and
  peak memory (tracemalloc, CPU) of both. Target <= 1.2x.

    python benchmarks/b5_overhead.py [--quick] [--only scheduler,trainer,finder]
"""

from __future__ import annotations

import os

# Idle OpenMP threads sleep instead of spinning: on a shared machine a spinning thread that
# waits for a descheduled sibling makes 2 threads up to 7x slower than 1 (measured).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import gc
import sys
import time
import warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import onecycle as oc  # noqa: E402
from common import median, setup_threads, write  # noqa: E402


def bench_scheduler(reps: int, steps: int, groups: int, opt_name: str) -> dict:
    def make_opt():
        ps = [{"params": [torch.nn.Parameter(torch.zeros(1))]} for _ in range(groups)]
        if opt_name == "sgd":
            return torch.optim.SGD(ps, lr=0.1, momentum=0.9)
        return torch.optim.AdamW(ps, lr=0.1)

    t_torch, t_ours = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for r in range(reps):
            for which in (("torch", "ours") if r % 2 == 0 else ("ours", "torch")):
                opt = make_opt()
                if which == "torch":
                    s = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.8, total_steps=steps + 1)
                else:
                    s = oc.OneCycle(opt, max_lr=0.8, total_steps=steps + 1, style="torch")
                gc.collect()
                t0 = time.perf_counter()
                for _ in range(steps):
                    s.step()
                dt = (time.perf_counter() - t0) / steps * 1e6
                (t_torch if which == "torch" else t_ours).append(dt)
    ratios = [o / t for o, t in zip(t_ours, t_torch)]
    return {
        "groups": groups, "optimizer": opt_name, "steps": steps, "reps": reps,
        "torch_us": median(t_torch), "ours_us": median(t_ours), "ratio": median(ratios),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", default="scheduler,trainer,finder")
    args = ap.parse_args()
    setup_threads(2)
    only = set(args.only.split(","))
    data: dict = {}
    md = ["## B5 overhead", ""]
    if "scheduler" in only:
        reps, steps = (5, 2000) if args.quick else (15, 10000)
        rows = [bench_scheduler(reps, steps, g, o) for g in (1, 4) for o in ("sgd", "adamw")]
        data["scheduler"] = rows
        md += ["### Scheduler `step()` cost vs `OneCycleLR.step()` (target ≤ 1.0×)", "",
               f"{rows[0]['reps']} interleaved repetitions of {rows[0]['steps']} steps each; medians.", "",
               "| param groups | optimizer | OneCycleLR µs/step | OneCycle µs/step | ratio (ours/torch) |",
               "|---:|---|---:|---:|---:|"]
        for r in rows:
            md.append(f"| {r['groups']} | {r['optimizer']} | {r['torch_us']:.2f} | {r['ours_us']:.2f} | "
                      f"**{r['ratio']:.2f}×** |")
        md.append("")
    if "trainer" in only or "finder" in only:
        try:
            from b5_training import bench_finder, bench_trainer  # noqa: PLC0415
        except ImportError as e:  # the Trainer/finder lines live in their own module
            md.append(f"_trainer/finder lines not run: {e}_")
        else:
            if "trainer" in only:
                t = bench_trainer(quick=args.quick)
                data["trainer"] = t
                md += t.pop("markdown")
            if "finder" in only:
                f = bench_finder(quick=args.quick)
                data["finder"] = f
                md += f.pop("markdown")
    write("b5", data, "\n".join(md))


if __name__ == "__main__":
    main()
