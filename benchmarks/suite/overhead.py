"""Overhead: what does onecycle's machinery cost per step, against doing it by hand?

Protocol (one torch thread; every comparison interleaves its two sides, medians):

* scheduler: ``OneCycle.step()`` (style ``torch``) against
  ``torch.optim.lr_scheduler.OneCycleLR.step()`` on the same optimizer shape (1 and 4
  parameter groups, SGD and AdamW), 15 repetitions of 10,000 steps (5 x 2,000 with
  ``--quick``). Target <= 1.0x.
* trainer: ``Trainer.fit_one_cycle`` (its defaults: divergence guard on, no validation,
  no progress bar) against a hand-written loop (zero_grad / forward / backward / step /
  ``OneCycle.step()`` / ``loss.item()``) over the same MLP, MNIST data (batch 128, one
  epoch), SGD and schedule; 9 repetitions (3 on 12,800 images with ``--quick``).
  Throughput ratio Trainer / hand loop; target >= 0.97x.
* finder time: ``lr_find`` with 100 iterations over a sweep low enough (1e-6 -> 1e-2,
  divergence stop off) that both sides run exactly 100 iterations, state snapshot and
  restore included, against 100 plain iterations setting the LR each step; 11
  repetitions (3). Target <= 1.2x.
* finder memory: the peak RSS above the level right before the call (``VmHWM`` after
  resetting it through ``/proc/self/clear_refs``) and the tracemalloc peak of
  Python-level allocations, each probe in a fresh subprocess (3 each, 1 with
  ``--quick``): ``lr_find`` against the same plain iterations. No target: the finder's
  extra should be its state snapshot (a copy of the weights and momentum buffers).

    python -m benchmarks.suite run overhead [--quick]
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from . import core, workload
from .workload import ratio_cell, verdict

NAME = "overhead"
TITLE = "Overhead"
BATCH = 128
#: the finder sweep of the overhead measurement: low enough that the loss never blows
#: up, so the finder runs every iteration (an early stop would flatter the ratio)
LO, HI = 1e-6, 1e-2
N_ITER = 100


# ----------------------------------------------------------------------------- scheduler


def bench_scheduler(reps: int, steps: int, groups: int, opt_name: str) -> dict[str, Any]:
    import onecycle as oc

    def make_opt() -> torch.optim.Optimizer:
        ps = [{"params": [torch.nn.Parameter(torch.zeros(1))]} for _ in range(groups)]
        if opt_name == "sgd":
            return torch.optim.SGD(ps, lr=0.1, momentum=0.9)
        return torch.optim.AdamW(ps, lr=0.1)

    times: dict[str, list[float]] = {"torch": [], "ours": []}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for r in range(reps):
            for which in (("torch", "ours") if r % 2 == 0 else ("ours", "torch")):
                opt = make_opt()
                s: Any = (torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.8,
                                                              total_steps=steps + 1)
                          if which == "torch"
                          else oc.OneCycle(opt, max_lr=0.8, total_steps=steps + 1, style="torch"))
                gc.collect()
                t0 = time.perf_counter()
                for _ in range(steps):
                    s.step()
                times[which].append((time.perf_counter() - t0) / steps * 1e6)
    ratios = [o / t for o, t in zip(times["ours"], times["torch"])]
    return {"groups": groups, "optimizer": opt_name, "steps": steps, "reps": reps,
            "torch_us": core.median(times["torch"]), "ours_us": core.median(times["ours"]),
            "ratio": core.median(ratios)}


# ----------------------------------------------------------------------------- trainer


def _hand_loop(m: torch.nn.Module, opt: torch.optim.Optimizer, loader: Any, max_lr: float
               ) -> float:
    import onecycle as oc

    sched = oc.OneCycle(opt, max_lr=max_lr, total_steps=len(loader))
    losses = []
    t0 = time.perf_counter()
    m.train()
    for x, y in loader:
        loss = F.cross_entropy(m(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())  # what any real loop logs
    return time.perf_counter() - t0


def _trainer_fit(m: torch.nn.Module, opt: torch.optim.Optimizer, loader: Any, max_lr: float
                 ) -> float:
    import onecycle as oc

    trainer = oc.Trainer(m, F.cross_entropy, opt, loader, progress=False)
    t0 = time.perf_counter()
    trainer.fit_one_cycle(1, max_lr=max_lr)
    return time.perf_counter() - t0


def bench_trainer(quick: bool) -> dict[str, Any]:
    reps = 3 if quick else 9
    b = workload.bundle("mnist", train=12800 if quick else None)
    tr, _ = workload.loaders(b, BATCH, 0)
    max_lr = 0.1
    for fn in (_hand_loop, _trainer_fit):  # warm both paths up once
        m = workload.model("mlp", b, 0)
        fn(m, workload.sgd(m, max_lr), [next(iter(tr))] * 8, max_lr)
    t: dict[str, list[float]] = {"hand": [], "trainer": []}
    for r in range(reps):
        for which in (("hand", "trainer") if r % 2 == 0 else ("trainer", "hand")):
            m = workload.model("mlp", b, r)
            opt = workload.sgd(m, max_lr)
            gc.collect()
            fn = _hand_loop if which == "hand" else _trainer_fit
            t[which].append(fn(m, opt, tr, max_lr))
    ratios = [h / x for h, x in zip(t["hand"], t["trainer"])]  # throughput trainer / hand
    iters = len(tr)
    return {"reps": reps, "iterations": iters, "samples": len(b.train), "hand_s": t["hand"],
            "trainer_s": t["trainer"], "pairs": ratios, "ratio": core.median(ratios),
            "hand_it_per_s": iters / core.median(t["hand"]),
            "trainer_it_per_s": iters / core.median(t["trainer"])}


# ----------------------------------------------------------------------------- finder


def _finder(m: torch.nn.Module, opt: torch.optim.Optimizer, loader: Any, n: int) -> float:
    from onecycle import lr_find

    t0 = time.perf_counter()
    res = lr_find(m, opt, F.cross_entropy, loader, start_lr=LO, end_lr=HI, num_iter=n,
                  diverge=math.inf, progress=False)
    dt = time.perf_counter() - t0
    if len(res.lrs) != n:
        raise RuntimeError(f"the finder stopped after {len(res.lrs)} of {n} iterations")
    return dt


def bench_finder_time(quick: bool) -> dict[str, Any]:
    from onecycle.finder import lr_grid

    reps = 3 if quick else 11
    b = workload.bundle("mnist")
    tr, _ = workload.loaders(b, BATCH, 0)
    grid = lr_grid(LO, HI, N_ITER)
    m = workload.model("mlp", b, 0)
    workload.plain_iterations(m, workload.sgd(m, 0.01), tr, grid[:5])
    _finder(m, workload.sgd(m, 0.01), tr, 5)
    t: dict[str, list[float]] = {"finder": [], "plain": []}
    for r in range(reps):
        for which in (("finder", "plain") if r % 2 == 0 else ("plain", "finder")):
            m = workload.model("mlp", b, r)
            opt = workload.sgd(m, 0.01)
            gc.collect()
            t[which].append(_finder(m, opt, tr, N_ITER) if which == "finder"
                            else workload.plain_iterations(m, opt, tr, grid))
    ratios = [f / p for f, p in zip(t["finder"], t["plain"])]
    return {"reps": reps, "iterations": N_ITER, "finder_s": t["finder"], "plain_s": t["plain"],
            "ratio": core.median(ratios),
            "params": sum(p.numel() for p in m.parameters())}


def _status_kb(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return -1


def memory_probe(which: str, n: int) -> dict[str, Any]:
    """Peak memory of one finder run or ``n`` plain iterations, in this (fresh) process."""
    import tracemalloc

    from onecycle.finder import lr_grid

    b = workload.bundle("mnist")  # the data load's transient peak comes before the reset
    tr, _ = workload.loaders(b, BATCH, 0)
    m = workload.model("mlp", b, 0)
    workload.plain_iterations(m, workload.sgd(m, 0.01), tr, [1e-5] * 2)  # grads, buffers
    m = workload.model("mlp", b, 0)
    opt = workload.sgd(m, 0.01)
    gc.collect()
    try:
        Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
        reset = True
    except OSError:
        reset = False
    base = _status_kb("VmRSS")
    tracemalloc.start()
    if which == "finder":
        _finder(m, opt, tr, n)
    else:
        workload.plain_iterations(m, opt, tr, lr_grid(LO, HI, n))
    _, py_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    peak = _status_kb("VmHWM")
    return {"which": which, "rss_base_kb": base, "rss_peak_kb": peak,
            "rss_delta_kb": peak - base if reset else None, "py_peak_kb": py_peak / 1024}


def _probe_in_subprocess(which: str) -> dict[str, Any]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE"}
    out = subprocess.run([sys.executable, "-m", "benchmarks.suite.overhead", "--mem", which,
                          "--n", str(N_ITER)], cwd=core.ROOT, capture_output=True, text=True,
                         env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def bench_finder_memory(quick: bool) -> dict[str, Any]:
    reps = 1 if quick else 3
    probes: dict[str, list[dict[str, Any]]] = {"finder": [], "plain": []}
    for _ in range(reps):
        for which in ("plain", "finder"):
            probes[which].append(_probe_in_subprocess(which))

    def mb(which: str, key: str) -> float:
        return core.median([p[key] or 0 for p in probes[which]]) / 1024

    return {"reps": reps, "probes": probes, "rss_delta_finder_mb": mb("finder", "rss_delta_kb"),
            "rss_delta_plain_mb": mb("plain", "rss_delta_kb"),
            "py_peak_finder_mb": mb("finder", "py_peak_kb"),
            "py_peak_plain_mb": mb("plain", "py_peak_kb"),
            "rss_base_mb": mb("plain", "rss_base_kb")}


# ----------------------------------------------------------------------------- runner


def run(quick: bool, workers: int, say: Callable[[str], None],
        only: tuple[str, ...] = ()) -> dict[str, Any]:
    t0 = time.perf_counter()
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    reps, steps = (5, 2000) if quick else (15, 10000)
    data: dict[str, Any] = {"quick": quick}
    data["scheduler"] = [bench_scheduler(reps, steps, g, o) for g in (1, 4)
                         for o in ("sgd", "adamw")]
    say("  scheduler: " + ", ".join(f"{r['ratio']:.2f}x" for r in data["scheduler"]))
    data["trainer"] = bench_trainer(quick)
    say(f"  trainer: {data['trainer']['ratio']:.3f}x")
    data["finder"] = bench_finder_time(quick)
    say(f"  finder: {data['finder']['ratio']:.3f}x")
    data["memory"] = bench_finder_memory(quick)
    say(f"  memory: finder +{data['memory']['rss_delta_finder_mb']:.1f} MB, plain "
        f"+{data['memory']['rss_delta_plain_mb']:.1f} MB")
    core.save(NAME, data, quick=quick, started=t0)
    return data


def summarize(data: dict[str, Any]) -> tuple[list[core.Row], str]:
    sch, tr, fi, mem = data["scheduler"], data["trainer"], data["finder"], data["memory"]
    worst = max(r["ratio"] for r in sch)
    snapshot_mb = 2 * 4 * fi["params"] / 2**20
    out = [core.Row("scheduler `step()` cost vs `OneCycleLR` (worst configuration)",
                    "≤ 1.0×", ratio_cell(worst), verdict(worst <= 1.0)),
           core.Row("Trainer throughput vs a hand-written loop", "≥ 0.97×",
                    ratio_cell(tr["ratio"], 3), verdict(tr["ratio"] >= 0.97)),
           core.Row("finder time vs the same number of plain iterations", "≤ 1.2×",
                    ratio_cell(fi["ratio"], 3), verdict(fi["ratio"] <= 1.2)),
           core.Row("finder peak memory above plain training (MB, CPU)", "—",
                    f"{mem['rss_delta_finder_mb'] - mem['rss_delta_plain_mb']:+.1f}", "—")]
    md = [
        "### Scheduler `step()` vs `OneCycleLR.step()`", "",
        f"{sch[0]['reps']} interleaved repetitions of {sch[0]['steps']} steps; medians.", "",
        core.table(["param groups", "optimizer", "OneCycleLR µs/step", "OneCycle µs/step",
                    "ratio (ours / torch)"],
                   [[r["groups"], r["optimizer"], f"{r['torch_us']:.2f}", f"{r['ours_us']:.2f}",
                     ratio_cell(r["ratio"])] for r in sch]), "",
        "### Trainer vs a hand-written loop", "",
        f"MLP on MNIST ({tr['samples']} images, batch {BATCH}, {tr['iterations']} iterations), "
        "SGD momentum 0.9, `OneCycle` (smith, max_lr 0.1) stepped every iteration in both; "
        f"{tr['reps']} interleaved repetitions.", "",
        core.table(["loop", "it/s (median)", "wall s (median)"],
                   [["hand-written", f"{tr['hand_it_per_s']:.1f}",
                     f"{core.median(tr['hand_s']):.2f}"],
                    ["`Trainer.fit_one_cycle`", f"{tr['trainer_it_per_s']:.1f}",
                     f"{core.median(tr['trainer_s']):.2f}"]]), "",
        f"Throughput ratio Trainer / hand, median of the paired ratios: "
        f"**{tr['ratio']:.3f}×** (pairs: {', '.join(f'{v:.3f}' for v in tr['pairs'])}).", "",
        "### Finder vs plain iterations", "",
        f"`lr_find` with {fi['iterations']} iterations ({LO:g} → {HI:g}, divergence stop off) "
        f"vs {fi['iterations']} plain iterations; {fi['reps']} interleaved repetitions; MLP "
        f"with {fi['params']} parameters.", "",
        core.table(["", "median s", "mean ± std s"],
                   [["`lr_find`", f"{core.median(fi['finder_s']):.3f}", core.pm(fi["finder_s"], 3)],
                    ["plain iterations", f"{core.median(fi['plain_s']):.3f}",
                     core.pm(fi["plain_s"], 3)]]), "",
        f"Ratio (median of paired ratios): **{fi['ratio']:.3f}×**.", "",
        "### Finder peak memory", "",
        f"A fresh subprocess per probe ({mem['reps']} each, medians), the process at "
        f"{mem['rss_base_mb']:.0f} MB with MNIST loaded.", "",
        core.table(["", "peak RSS increase MB", "tracemalloc peak MB"],
                   [[f"`lr_find` ({N_ITER} it)", f"{mem['rss_delta_finder_mb']:.1f}",
                     f"{mem['py_peak_finder_mb']:.2f}"],
                    [f"{N_ITER} plain iterations", f"{mem['rss_delta_plain_mb']:.1f}",
                     f"{mem['py_peak_plain_mb']:.2f}"]]), "",
        f"Expected extra for the finder: its state snapshot (weights and momentum buffers, "
        f"{snapshot_mb:.1f} MB) and the recorded curve.",
    ]
    return out, "\n".join(md)


def main(argv: list[str] | None = None) -> None:
    """The memory probe a subprocess runs (``--mem finder|plain``), printed as JSON."""
    ap = argparse.ArgumentParser(description="one memory probe of the overhead benchmark")
    ap.add_argument("--mem", choices=("finder", "plain"), required=True)
    ap.add_argument("--n", type=int, default=N_ITER)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    print(json.dumps(memory_probe(args.mem, args.n)))


if __name__ == "__main__":
    main()
