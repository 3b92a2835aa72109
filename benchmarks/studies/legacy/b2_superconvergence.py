"""The tasks of the old B2/B3 script, kept for the studies that run them.

The super-convergence benchmark (B2 on MNIST, B3 on Fashion-MNIST) is now
``benchmarks/suite/superconvergence.py``: the same protocol (LeNet-5, batch 512, SGD
momentum 0.9, weight decay 5e-4; the finder's ``auto`` pick as every cycle's peak; Caffe
``inv``; constant LR; budget-aware linear decay), through the suite's runner, and its
results (``benchmarks/results/superconvergence.json``) are this script's runs, read
unchanged. What stays here is what the cross-check studies import: one measured run
(``_task``: the finder, a 1cycle in a given style, inv, constant, linear decay, in a
worker set up by ``_init_worker``), ``k_ratio`` and the constants. The script's driver,
its analysis and its ``--proto`` prototype rule are in git history (commit f8abdb7,
``benchmarks/b2_superconvergence.py``).
"""

from __future__ import annotations

import os

# Idle OpenMP threads sleep instead of spinning: on a shared machine a spinning thread that
# waits for a descheduled sibling makes 2 threads up to 7x slower than 1 (measured).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import math
import time
import warnings

import torch

import onecycle as oc  # noqa: E402
from benchmarks.studies.legacy import bench_lib as bl  # noqa: E402
from benchmarks.studies.legacy.common import setup_threads  # noqa: E402
from onecycle.finder import lr_find  # noqa: E402

ARCH = "lenet"
BATCH = 512
WD = 5e-4
MOM = 0.9
FINDER = {"start_lr": 1e-5, "end_lr": 10.0, "num_iter": 100}
STYLES = ("smith", "torch", "fastai")
#: extra grid points the budget-aware baseline may add when its best LR is at an edge
MAX_GRID_EXTENSIONS = 2
LABEL = {"smith": "onecycle (smith, finder LR)", "torch": "torch OneCycleLR defaults",
         "fastai": "fastai defaults (style=fastai)"}


def make_sched(kind: str, opt, total: int, lr: float):
    if kind == "smith":
        return oc.OneCycle(opt, max_lr=lr, total_steps=total, style="smith")
    if kind == "fastai":
        return oc.OneCycle(opt, max_lr=lr, total_steps=total, style="fastai")
    if kind == "torch":
        return torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=total)
    raise ValueError(kind)


def run(b, seed, epochs, sched_fn, lr0, eval_every=True):
    tr, te = bl.loaders(b, BATCH, seed)
    m = bl.model(ARCH, b, seed)
    opt = bl.sgd(m, lr0, MOM, WD)
    sched = sched_fn(opt, epochs * len(tr))
    return bl.train(m, opt, tr, epochs, sched, te, eval_every_epoch=eval_every)


def brief(h):
    return {k: h[k] for k in ("test_acc", "test_loss", "train_loss", "iteration", "samples",
                              "train_time", "eval_time", "diverged", "final_acc", "iterations")}


def k_ratio(base_epochs, base_accs, target_accs, E):
    """Smallest baseline epoch count whose mean accuracy reaches the target's mean
    within one standard error of the difference; k = that / E (None + bound if never).

    Returns ``(k, epochs, open, k_low)``: when the baseline was not measured at the epoch
    counts just below the one that reached the target (the first measured count above 1
    included), the true k lies in ``(k_low, k]``; ``k_low == k`` when there is no such
    gap (or ``open``: k is a lower bound).
    """
    tm, _, tse = bl.mean_std_se(target_accs)
    prev = 0
    for e, accs in zip(base_epochs, base_accs):
        bm, _, bse = bl.mean_std_se(accs)
        if bm >= tm - math.hypot(tse, bse):
            return e / E, e, False, (prev / E if prev < e - 1 else e / E)
        prev = e
    return max(base_epochs) / E, None, True, max(base_epochs) / E


def k_entry(accs, E, inv_ep, inv_accs, lin_ep, lin_accs) -> dict:
    k_inv, e_inv, open_inv, _ = k_ratio(inv_ep, inv_accs, accs, E)
    k_lin, e_lin, open_lin, k_lin_low = (k_ratio(lin_ep, lin_accs, accs, E) if lin_ep
                                         else (None, None, True, None))
    below1 = False
    if E in lin_ep:
        lm, _, lse = bl.mean_std_se(lin_accs[lin_ep.index(E)])
        om, _, ose = bl.mean_std_se(accs)
        below1 = lm > om + math.hypot(lse, ose)
    return {"k_inv": k_inv, "e_inv": e_inv, "open_inv": open_inv,
            "k_lin": k_lin, "e_lin": e_lin, "open_lin": open_lin, "k_lin_low": k_lin_low,
            "below1": below1}


# ------------------------------------------------------------------ the measured runs
# Every run is a task: (kind, seed, epochs, argument). With --workers 2 the tasks run in
# two processes of one thread each: LeNet's small convolutions do not split well over
# two threads, so on this 2-core machine two 1-thread processes finished B2 in 7.8 min
# where one 2-thread process took 11.4 (JOURNAL.md). Each run is seeded on its own, so the schedule of the
# tasks does not change any number (the thread count can, in the last float bits).
_WORKER: dict = {}


def _init_worker(dataset: str, quick: bool, threads: int) -> None:
    setup_threads(threads)
    warnings.filterwarnings("ignore")
    _WORKER["b"] = bl.bundle(dataset, train=10240 if quick else None, test=2000 if quick else None)


def _task(kind: str, seed: int, epochs: int, arg) -> dict:
    """One measured run (the finder, a 1cycle, inv, constant, linear decay)."""
    b = _WORKER["b"]
    if kind == "finder":
        tr, _ = bl.loaders(b, BATCH, seed)
        m = bl.model(ARCH, b, seed)
        opt = bl.sgd(m, 0.01, MOM, WD)
        t0 = time.perf_counter()
        res = lr_find(m, opt, torch.nn.functional.cross_entropy, tr, seed=seed, progress=False,
                      **FINDER)
        t_find = time.perf_counter() - t0
        sug = {meth: res.suggest(meth) for meth in ("auto", "minimum", "valley", "steep")}
        return {
            "seed": seed, "time": t_find, "iterations": len(res.lrs), "stop": res.stop_reason,
            "auto": sug["auto"].lr, "confidence": sug["auto"].confidence,
            "minimum": sug["minimum"].lr, "valley": sug["valley"].lr, "steep": sug["steep"].lr,
            "reason": sug["auto"].reason,
        }
    if kind == "cycle":
        st, lr = arg
        return brief(run(b, seed, epochs, lambda o, T: make_sched(st, o, T, lr), lr))
    if kind == "inv":
        return brief(run(b, seed, epochs, lambda o, T: bl.LambdaSchedule(o, bl.caffe_inv(0.01)), 0.01))
    if kind == "const":
        return brief(run(b, seed, epochs, lambda o, T: bl.LambdaSchedule(o, bl.constant(arg)), arg))
    if kind == "linear":
        return brief(run(b, seed, epochs, lambda o, T: bl.LambdaSchedule(o, bl.linear_decay(arg, T)),
                         arg, eval_every=False))
    raise ValueError(kind)
