"""B5 overhead, the training side (used by ``b5_overhead.py``).

* :func:`bench_trainer`: ``Trainer.fit_one_cycle`` throughput vs a hand-written loop
  over the same model, data, optimizer and ``OneCycle`` schedule (stepped every
  iteration); interleaved repetitions, median ratio. Target >= 0.97x.
* :func:`bench_finder`: ``lr_find`` wall time vs the same number of plain training
  iterations (same model, data, optimizer, the LR set every step), interleaved,
  median ratio (target <= 1.2x); and the peak memory of each, measured in a fresh
  subprocess (peak RSS above the level right before the call, via ``VmHWM`` after
  resetting it through ``/proc/self/clear_refs``; plus the tracemalloc peak of
  Python-level allocations).

    python benchmarks/b5_overhead.py [--quick] --only trainer,finder
    python benchmarks/b5_training.py --mem finder|plain   # one memory probe (internal)
"""

from __future__ import annotations

import os

# Idle OpenMP threads sleep instead of spinning: on a shared machine a spinning thread that
# waits for a descheduled sibling makes 2 threads up to 7x slower than 1 (measured).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import gc
import json
import math
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import bench_lib as bl  # noqa: E402
from common import median  # noqa: E402

BATCH = 128
#: sweep of the overhead measurement: low enough that the loss never blows up, so the
#: finder runs every iteration (a NaN would stop it early and flatter the ratio)
LO, HI = 1e-6, 1e-2


def _setup(seed: int = 0):
    b = bl.bundle("mnist")
    tr, _ = bl.loaders(b, BATCH, seed)
    return b, tr


# ----------------------------------------------------------------------------- trainer


def _hand_loop(m, opt, loader, epochs: int, max_lr: float) -> float:
    import onecycle as oc

    sched = oc.OneCycle(opt, max_lr=max_lr, total_steps=epochs * len(loader))
    losses = []
    t0 = time.perf_counter()
    m.train()
    for _ in range(epochs):
        for x, y in loader:
            loss = F.cross_entropy(m(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            losses.append(loss.item())  # what any real loop logs
    return time.perf_counter() - t0


def _trainer_fit(m, opt, loader, epochs: int, max_lr: float) -> float:
    import onecycle as oc

    trainer = oc.Trainer(m, F.cross_entropy, opt, loader, progress=False)
    t0 = time.perf_counter()
    trainer.fit_one_cycle(epochs, max_lr=max_lr)
    return time.perf_counter() - t0


def bench_trainer(quick: bool) -> dict:
    warnings.filterwarnings("ignore")
    reps, epochs = (3, 1) if quick else (9, 1)
    b, tr = _setup()
    if quick:
        b = b.subset(train=12800)
        tr, _ = bl.loaders(b, BATCH, 0)
    iters = epochs * len(tr)
    max_lr = 0.1
    # warm-up both paths once
    for fn in (_hand_loop, _trainer_fit):
        m = bl.model("mlp", b, 0)
        fn(m, bl.sgd(m, max_lr), [next(iter(tr))] * 8, 1, max_lr)
    t_hand, t_tr = [], []
    for r in range(reps):
        for which in (("hand", "trainer") if r % 2 == 0 else ("trainer", "hand")):
            m = bl.model("mlp", b, r)
            opt = bl.sgd(m, max_lr)
            gc.collect()
            if which == "hand":
                t_hand.append(_hand_loop(m, opt, tr, epochs, max_lr))
            else:
                t_tr.append(_trainer_fit(m, opt, tr, epochs, max_lr))
    ratios = [h / t for h, t in zip(t_hand, t_tr)]  # throughput trainer / hand
    samples = sum(len(y) for _, y in tr) * epochs
    res = {
        "reps": reps, "epochs": epochs, "iterations": iters, "samples": samples,
        "hand_s": t_hand, "trainer_s": t_tr, "ratio": median(ratios),
        "hand_it_per_s": iters / median(t_hand), "trainer_it_per_s": iters / median(t_tr),
    }
    ok = res["ratio"] >= 0.97
    res["markdown"] = [
        "### Trainer throughput vs a hand-written loop (target ≥ 0.97×)",
        "",
        f"MLP on MNIST ({samples} samples, batch {BATCH}, {iters} iterations = {epochs} epoch), "
        "SGD momentum 0.9, `OneCycle` (smith style, max_lr 0.1) stepped every iteration in both; "
        "the hand loop does zero_grad / forward / backward / step / `sched.step()` / "
        "`loss.item()`; `Trainer.fit_one_cycle` with its defaults (divergence guard on, no "
        f"validation, no progress bar). {reps} interleaved repetitions, medians.",
        "",
        "| loop | it/s (median) | samples/s | wall s (median) |",
        "|---|---:|---:|---:|",
        f"| hand-written | {res['hand_it_per_s']:.1f} | {res['hand_it_per_s'] * samples / iters:.0f} | {median(t_hand):.2f} |",
        f"| `Trainer.fit_one_cycle` | {res['trainer_it_per_s']:.1f} | {res['trainer_it_per_s'] * samples / iters:.0f} | {median(t_tr):.2f} |",
        "",
        f"Throughput ratio Trainer / hand (median of paired ratios): **{res['ratio']:.3f}×** — "
        + ("**met**" if ok else "**missed**") + f" (pairs: {', '.join(f'{v:.3f}' for v in ratios)}).",
        "",
    ]
    return res


# ----------------------------------------------------------------------------- finder


def _plain(m, opt, loader, lrs) -> float:
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


def _finder(m, opt, loader, n: int) -> float:
    from onecycle.finder import lr_find

    t0 = time.perf_counter()
    res = lr_find(m, opt, F.cross_entropy, loader, start_lr=LO, end_lr=HI, num_iter=n,
                  diverge=math.inf, progress=False)
    dt = time.perf_counter() - t0
    assert len(res.lrs) == n, f"the finder stopped after {len(res.lrs)} of {n} iterations"
    return dt


def _mem_probe(which: str, n: int) -> dict:
    """Peak memory of one finder run or ``n`` plain iterations, in this (fresh) process."""
    import tracemalloc

    from onecycle.finder.engine import lr_grid

    bl.bundle("mnist")  # the data load's transient peak happens before the reset
    b, tr = _setup()
    m = bl.model("mlp", b, 0)
    opt = bl.sgd(m, 0.01)
    _plain(m, opt, tr, [1e-5] * 2)  # allocate grads and momentum buffers first
    m = bl.model("mlp", b, 0)
    opt = bl.sgd(m, 0.01)
    gc.collect()

    def status(key: str) -> int:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])  # kB
        return -1

    try:
        Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
        reset = True
    except OSError:
        reset = False
    base = status("VmRSS")
    tracemalloc.start()
    if which == "finder":
        _finder(m, opt, tr, n)
    else:
        _plain(m, opt, tr, lr_grid(LO, HI, n))
    _, py_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    peak = status("VmHWM")
    return {"which": which, "rss_base_kb": base, "rss_peak_kb": peak,
            "rss_delta_kb": peak - base if reset else None, "py_peak_kb": py_peak / 1024,
            "hwm_reset": reset}


def _mem(which: str, n: int, threads: int) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    out = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--mem", which, "--n", str(n),
         "--threads", str(threads)],
        capture_output=True, text=True, env=env, check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def bench_finder(quick: bool) -> dict:
    warnings.filterwarnings("ignore")
    from onecycle.finder.engine import lr_grid

    reps, mem_reps = (3, 1) if quick else (11, 3)
    n = 100
    b, tr = _setup()
    grid = lr_grid(LO, HI, n)
    m = bl.model("mlp", b, 0)
    _plain(m, bl.sgd(m, 0.01), tr, grid[:5])
    _finder(m, bl.sgd(m, 0.01), tr, 5)
    t_f, t_p = [], []
    for r in range(reps):
        for which in (("finder", "plain") if r % 2 == 0 else ("plain", "finder")):
            m = bl.model("mlp", b, r)
            opt = bl.sgd(m, 0.01)
            gc.collect()
            if which == "finder":
                t_f.append(_finder(m, opt, tr, n))
            else:
                t_p.append(_plain(m, opt, tr, grid))
    ratios = [f / p for f, p in zip(t_f, t_p)]
    threads = torch.get_num_threads()
    mem = {"finder": [], "plain": []}
    for _ in range(mem_reps):
        for which in ("plain", "finder"):
            mem[which].append(_mem(which, n, threads))
    d_f = median([x["rss_delta_kb"] or 0 for x in mem["finder"]]) / 1024
    d_p = median([x["rss_delta_kb"] or 0 for x in mem["plain"]]) / 1024
    py_f = median([x["py_peak_kb"] for x in mem["finder"]]) / 1024
    py_p = median([x["py_peak_kb"] for x in mem["plain"]]) / 1024
    base = median([x["rss_base_kb"] for x in mem["plain"]]) / 1024
    n_params = sum(p.numel() for p in m.parameters())
    res = {
        "reps": reps, "iterations": n, "finder_s": t_f, "plain_s": t_p, "ratio": median(ratios),
        "memory": mem, "rss_delta_finder_mb": d_f, "rss_delta_plain_mb": d_p,
        "py_peak_finder_mb": py_f, "py_peak_plain_mb": py_p, "params": n_params,
    }
    ok = res["ratio"] <= 1.2
    res["markdown"] = [
        "### Finder wall time vs plain iterations (target ≤ 1.2×)",
        "",
        f"MLP on MNIST (batch {BATCH}, {n_params} parameters), SGD momentum 0.9: `lr_find` "
        f"with {n} iterations ({LO:g} → {HI:g}, divergence stop off, so both sides run exactly "
        f"{n} iterations; state snapshot and restore included) vs a loop of "
        f"{n} plain iterations setting the LR each step. {reps} interleaved repetitions.",
        "",
        "| | median s | mean ± std s |",
        "|---|---:|---:|",
        f"| `lr_find` | {median(t_f):.3f} | {bl.pm(t_f, 3)} |",
        f"| {n} plain iterations | {median(t_p):.3f} | {bl.pm(t_p, 3)} |",
        "",
        f"Ratio finder / plain (median of paired ratios): **{res['ratio']:.3f}×** — "
        + ("**met**" if ok else "**missed**") + ".",
        "",
        "### Finder peak memory vs plain training",
        "",
        f"Fresh subprocess per probe ({mem_reps} each, medians): peak RSS above the RSS right before the "
        f"call (process at {base:.0f} MB with MNIST loaded), and the tracemalloc peak of Python-level allocations.",
        "",
        "| | peak RSS increase MB | tracemalloc peak MB |",
        "|---|---:|---:|",
        f"| `lr_find` ({n} it) | {d_f:.1f} | {py_f:.2f} |",
        f"| {n} plain iterations | {d_p:.1f} | {py_p:.2f} |",
        "",
        f"Expected extra for the finder: its state snapshot (a copy of the weights and the "
        f"momentum buffers, {2 * 4 * n_params / 2**20:.1f} MB) and the recorded curve.",
        "",
    ]
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mem", choices=("finder", "plain"))
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    if args.mem:
        print(json.dumps(_mem_probe(args.mem, args.n)))


if __name__ == "__main__":
    main()
