"""Distributed: do two ranks under torchrun see one schedule, one stop step and one curve?

Protocol: two CPU processes (gloo) launched with ``python -m torch.distributed.run
--standalone --nproc_per_node=2``, one thread each, an MLP on an MNIST subset (25,600
training images; 6,400 with ``--quick``), global batch 128, compared with one process:

* schedule: ``Trainer.fit_one_cycle(2, max_lr=0.1)`` (1 epoch with ``--quick``; DDP,
  batches split round robin) records the LR and momentum it applied at every
  iteration; they must be identical on both ranks and equal (<= 1e-12) to the
  single-process ``OneCycleSchedule`` of the same length, and the logged (all-reduced)
  losses identical;
* stop step: a second fit at a far too high ``max_lr`` (50) diverges; the divergence
  guard, which sees the all-reduced loss, must stop both ranks at the same step;
* finder: ``lr_find`` (1e-5 -> 10, 100 iterations; 60 with ``--quick``) on a DDP model
  where every global batch is split in two equal halves (rows ``rank::2``). The finder
  averages the loss over the ranks and DDP the gradients, so with a mean-reduced loss
  the distributed run computes the single-process full-batch quantities up to float32
  summation order: the same LRs, length and stop step, losses within a relative 1e-4 of
  the single-process curve at every point, the same ``auto`` pick.

Target (BENCHMARKS.md): identical schedules and stop step on every rank, the curve equal
to single-process within tolerance.

    python -m benchmarks.suite run distributed [--quick]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from onecycle._format import fmt_lr

from . import core, workload

NAME = "distributed"
TITLE = "Distributed"
GLOBAL_BATCH = 128
REL_TOL = 1e-4
BAD_LR = 50.0


class HalfLoader:
    """The global batches of ``loader``, each cut to this rank's half (rows rank::world)."""

    def __init__(self, loader: Any, rank: int, world: int) -> None:
        self.loader, self.rank, self.world = loader, rank, world

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for x, y in self.loader:
            yield x[self.rank :: self.world], y[self.rank :: self.world]


def finder_run(model: torch.nn.Module, loader: Any, num_iter: int) -> dict[str, Any]:
    from onecycle import lr_find

    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    t0 = time.perf_counter()
    res = lr_find(model, opt, F.cross_entropy, loader, start_lr=1e-5, end_lr=10.0,
                  num_iter=num_iter, seed=0, progress=False)
    return {"lrs": res.lrs.tolist(), "losses": res.losses.tolist(),
            "stop_reason": res.stop_reason, "stop_index": res.stop_index,
            "auto": res.suggest().lr, "time": time.perf_counter() - t0,
            "lr_after": opt.param_groups[0]["lr"]}


def _data(quick: bool) -> Any:
    return workload.bundle("mnist", train=6400 if quick else 25600, test=1000)


def _plan(quick: bool) -> tuple[int, int]:
    """``(epochs, finder iterations)``."""
    return (1, 60) if quick else (2, 100)


# ----------------------------------------------------------------------------- worker


def worker(out_dir: str, quick: bool) -> None:
    """One rank: the three parts, written to ``out_dir/rank<r>.json``."""
    import torch.distributed as dist

    import onecycle as oc

    warnings.filterwarnings("ignore")
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    torch.set_num_threads(1)
    epochs, num_iter = _plan(quick)
    b = _data(quick)
    out: dict[str, Any] = {"rank": rank, "world": world}
    tr, _ = workload.loaders(b, GLOBAL_BATCH // world, seed=0)
    m = workload.model("mlp", b, 0)
    trainer = oc.Trainer(m, F.cross_entropy, workload.sgd(m, 0.1), tr, progress=False, seed=0)
    h = trainer.fit_one_cycle(epochs, max_lr=0.1)
    out["fit"] = {"lr": list(h.lr), "momentum": list(h.momentum), "loss": list(h.loss),
                  "steps_per_epoch": len(trainer.train_loader), "iterations": h.iterations}
    m = workload.model("mlp", b, 1)
    trainer = oc.Trainer(m, F.cross_entropy, workload.sgd(m, 0.1), tr, progress=False, seed=1)
    h = trainer.fit_one_cycle(epochs, max_lr=BAD_LR)
    out["diverge"] = {"stopped": h.meta.get("stopped") or {}, "iterations": len(h.loss)}
    gtr, _ = workload.loaders(b, GLOBAL_BATCH, seed=0)
    ddp = torch.nn.parallel.DistributedDataParallel(workload.model("mlp", b, 0))
    out["finder"] = finder_run(ddp, HalfLoader(gtr, rank, world), num_iter)
    Path(out_dir, f"rank{rank}.json").write_text(json.dumps(out))
    dist.barrier()
    dist.destroy_process_group()
    # torch 2.13's gloo can abort at interpreter shutdown even after the group was
    # destroyed (docs/training.md); the results are written, so skip that teardown
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


# ----------------------------------------------------------------------------- driver


def _launch(quick: bool, tmp: str) -> float:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "benchmarks.suite.distributed", "--worker", "--out", tmp]
    cmd += ["--quick"] if quick else []
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE",
           "PYTHONWARNINGS": "ignore"}
    t0 = time.perf_counter()
    p = subprocess.run(cmd, cwd=core.ROOT, capture_output=True, text=True, env=env, timeout=900)
    if p.returncode != 0:
        raise RuntimeError(f"torch.distributed.run failed with exit code {p.returncode}:\n"
                           f"{p.stdout[-3000:]}\n{p.stderr[-3000:]}")
    return time.perf_counter() - t0


def checks(r0: dict[str, Any], r1: dict[str, Any], ref: dict[str, Any]) -> list[dict[str, Any]]:
    from onecycle import OneCycleSchedule

    out: list[dict[str, Any]] = []

    def check(name: str, ok: bool, detail: str = "") -> None:
        out.append({"check": name, "pass": bool(ok), "detail": detail})

    f0, f1 = r0["fit"], r1["fit"]
    total = f0["iterations"]
    pre = OneCycleSchedule(total, 0.1).preview()
    check("LR and momentum sequences identical on both ranks (bit for bit)",
          f0["lr"] == f1["lr"] and f0["momentum"] == f1["momentum"],
          f"{total} iterations, {f0['steps_per_epoch']} per epoch per rank")
    d = max(float(np.max(np.abs(np.array(f0["lr"]) - pre["lr"]))),
            float(np.max(np.abs(np.array(f0["momentum"]) - pre["momentum"]))))
    check("... equal to the single-process `OneCycleSchedule` of the same length", d <= 1e-12,
          f"max abs diff {d:.1e}")
    check("logged (all-reduced) training losses identical on both ranks",
          f0["loss"] == f1["loss"])
    s0, s1 = r0["diverge"]["stopped"].get("step"), r1["diverge"]["stopped"].get("step")
    check(f"max_lr={BAD_LR:g}: the divergence guard stops both ranks at the same step",
          s0 is not None and s0 == s1
          and r0["diverge"]["iterations"] == r1["diverge"]["iterations"],
          f"rank 0 step {s0}, rank 1 step {s1} (of {total})")
    q0, q1 = r0["finder"], r1["finder"]
    check("finder: identical curve, stop step and restored LR on both ranks",
          q0["lrs"] == q1["lrs"] and q0["losses"] == q1["losses"]
          and q0["stop_index"] == q1["stop_index"] and q0["lr_after"] == q1["lr_after"],
          f"{len(q0['lrs'])} points, stop {q0['stop_reason']} at {q0['stop_index']}")
    check("finder: same LRs, length and stop step as one process on the global batches",
          len(q0["lrs"]) == len(ref["lrs"]) and q0["stop_index"] == ref["stop_index"]
          and q0["lrs"] == ref["lrs"][: len(q0["lrs"])],
          f"distributed {len(q0['lrs'])} points / stop {q0['stop_index']}, single "
          f"{len(ref['lrs'])} / stop {ref['stop_index']}")
    n = min(len(q0["losses"]), len(ref["losses"]))
    a, r = np.array(q0["losses"][:n]), np.array(ref["losses"][:n])
    fin = np.isfinite(a) & np.isfinite(r)
    rel = np.abs(a - r)[fin] / np.maximum(np.abs(r[fin]), 1e-12)
    worst = float(rel.max()) if len(rel) else math.nan
    body = float(rel[:-5].max()) if len(rel) > 5 else worst
    check(f"finder: losses equal to the single-process curve within relative {REL_TOL:g}",
          worst <= REL_TOL, f"worst relative difference {worst:.1e} (before the last 5 "
          f"points: {body:.1e})")
    check("finder: the same `auto` suggestion",
          q0["auto"] is not None and ref["auto"] is not None
          and math.isclose(q0["auto"], ref["auto"], rel_tol=1e-9),
          f"distributed {fmt_lr(q0['auto'])}, single {fmt_lr(ref['auto'])}")
    out[-2]["worst_rel"] = worst
    return out


def run(quick: bool, workers: int, say: Callable[[str], None],
        only: tuple[str, ...] = ()) -> dict[str, Any]:
    t0 = time.perf_counter()
    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)
    epochs, num_iter = _plan(quick)
    b = _data(quick)
    finder_run(workload.model("mlp", b, 0), workload.loaders(b, GLOBAL_BATCH, 0)[0], 5)
    gtr, _ = workload.loaders(b, GLOBAL_BATCH, seed=0)  # fresh: a loader's order advances
    ref = finder_run(workload.model("mlp", b, 0), gtr, num_iter)
    with tempfile.TemporaryDirectory() as tmp:
        t_dist = _launch(quick, tmp)
        r0, r1 = (json.loads(Path(tmp, f"rank{r}.json").read_text()) for r in range(2))
    result = checks(r0, r1, ref)
    ok = all(c["pass"] for c in result)
    say(f"  distributed: {sum(c['pass'] for c in result)}/{len(result)} checks pass")
    data = {"quick": quick, "epochs": epochs, "num_iter": num_iter, "train": len(b.train),
            "checks": result, "pass": ok, "single_finder_s": ref["time"],
            "distributed_s": t_dist, "rank0": r0, "rank1": r1, "single_finder": ref}
    core.save(NAME, data, quick=quick, started=t0)
    return data


def summarize(data: dict[str, Any]) -> tuple[list[core.Row], str]:
    cs = data["checks"]
    passed = sum(c["pass"] for c in cs)
    out = [core.Row("two gloo ranks: identical schedules and stop step, finder curve as one "
                    "process", "all checks pass", f"{passed}/{len(cs)} checks",
                    "met" if data["pass"] else "missed")]
    md = [f"MLP on an MNIST subset ({data['train']} training images), global batch "
          f"{GLOBAL_BATCH} ({GLOBAL_BATCH // 2} per rank); `fit_one_cycle({data['epochs']}, "
          f"max_lr=0.1)`; finder {data['num_iter']} iterations 1e-5 → 10.", "",
          core.table(["check", "result", "detail"],
                     [[c["check"], "pass" if c["pass"] else "**FAIL**", c["detail"]]
                      for c in cs]), "",
          f"Finder alone: one process {data['single_finder_s']:.1f} s, each rank "
          f"{data['rank0']['finder']['time']:.1f} s; the distributed run (2 ranks × 1 "
          f"thread, all three parts and start-up) {data['distributed_s']:.1f} s."]
    return out, "\n".join(md)


def main(argv: list[str] | None = None) -> None:
    """The rank process torchrun starts (``--worker --out DIR [--quick]``)."""
    ap = argparse.ArgumentParser(description="one rank of the distributed benchmark")
    ap.add_argument("--worker", action="store_true", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    worker(args.out, args.quick)


if __name__ == "__main__":
    main()
