"""Training helpers the studies share (from the benchmarks before the suite).

The prototype suggestion rules that used to live here (a tail-cut minimum, a pick raised
on a recovered spike) are gone: ``tail_cut`` and ``spike_recovery`` are library code in
``onecycle.finder.suggest``, and the prototypes themselves are in git history (commit
f8abdb7, ``benchmarks/bench_lib.py``) with their results in ``studies/finder-rules/``.

Everything runs on in-memory tensors (``onecycle.data`` bundles and their
``TensorLoader``), with the scheduler stepped after every optimizer step, and counts
iterations and samples as well as epochs. One hand-written loop (:func:`train`) drives
every schedule (ours, torch's, the baselines), so wall times compare like for like.
"""

from __future__ import annotations

import contextlib
import io
import math
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from benchmarks.suite import workload as _suite_workload
from onecycle import data as oc_data
from onecycle import models as oc_models

_BUNDLES: dict[tuple, Any] = {}


def bundle(name: str, train: int | None = None, test: int | None = None, flatten: bool = False):
    """A cached dataset bundle, optionally a stratified subset (fixed seed 0)."""
    key = (name, train, test, flatten)
    if key not in _BUNDLES:
        base_key = (name, None, None, flatten)
        if base_key not in _BUNDLES:
            _BUNDLES[base_key] = oc_data.load(name, flatten=flatten)
        b = _BUNDLES[base_key]
        if train is not None or test is not None:
            b = b.subset(train=train, test=test, seed=0)
        _BUNDLES[key] = b
    return _BUNDLES[key]


def loaders(b: Any, batch_size: int, seed: int, eval_batch_size: int = 1000):
    """``(train_loader, test_loader)``: shuffled training batches (order seeded by ``seed``)."""
    tr, _va, te = b.loaders(batch_size, seed=seed, eval_batch_size=eval_batch_size)
    return tr, te


def model(arch: str, b: Any, seed: int) -> torch.nn.Module:
    """A freshly initialised reference model; the same ``seed`` gives the same weights."""
    torch.manual_seed(seed)
    return oc_models.create(arch, b.input_shape, b.num_classes)


def sgd(m: torch.nn.Module, lr: float, momentum: float = 0.9, wd: float = 5e-4):
    return torch.optim.SGD(m.parameters(), lr=lr, momentum=momentum, weight_decay=wd)


# the one evaluation loop of the suite (loss and accuracy %, chance for a blown-up model)
evaluate = _suite_workload.evaluate


class LambdaSchedule:
    """A minimal per-iteration scheduler: ``lr = fn(step)`` written to every group.

    Used for the baselines (Caffe ``inv``, linear decay, constant) so that they do not
    depend on the library under test.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, fn: Callable[[int], float]):
        self.optimizer, self.fn, self.last_epoch = optimizer, fn, 0
        self._set()

    def _set(self) -> None:
        v = self.fn(self.last_epoch)
        for g in self.optimizer.param_groups:
            g["lr"] = v

    def step(self) -> None:
        self.last_epoch += 1
        self._set()


def caffe_inv(base_lr: float, gamma: float = 1e-4, power: float = 0.75) -> Callable[[int], float]:
    """Caffe's ``inv`` policy: ``base_lr * (1 + gamma * it) ** -power``."""
    return lambda it: base_lr * (1.0 + gamma * it) ** (-power)


def linear_decay(base_lr: float, total: int) -> Callable[[int], float]:
    """Linear decay from ``base_lr`` to 0 over ``total`` iterations (budget-aware)."""
    return lambda it: base_lr * max(0.0, 1.0 - it / total)


def constant(base_lr: float) -> Callable[[int], float]:
    return lambda it: base_lr


def train(
    m: torch.nn.Module,
    opt: torch.optim.Optimizer,
    train_loader: Any,
    epochs: int,
    sched: Any,
    test_loader: Any | None = None,
    *,
    eval_every_epoch: bool = True,
    record_hypers: bool = False,
    record_losses: bool = False,
) -> dict[str, Any]:
    """Train ``epochs`` epochs, ``sched.step()`` after every ``opt.step()``.

    Stops early on a non-finite (or absurd, > 1e4) training loss: the run is flagged
    ``diverged`` and the model's (chance-level) accuracy is recorded for the remaining
    epochs. Returns per-epoch test accuracy/loss and the counters (``record_losses``:
    also every iteration's training loss, under ``"losses"``).
    """
    spe = len(train_loader)
    hist: dict[str, Any] = {
        "epoch": [], "iteration": [], "samples": [], "test_acc": [], "test_loss": [],
        "train_loss": [], "train_time": 0.0, "eval_time": 0.0, "diverged": False,
        "steps_per_epoch": spe,
    }
    if record_hypers:
        hist["lr"], hist["momentum"] = [], []
    if record_losses:
        hist["losses"] = []
    it = samples = 0
    m.train()
    for ep in range(epochs):
        t0 = time.perf_counter()
        tot, nb = 0.0, 0
        if not hist["diverged"]:
            for x, y in train_loader:
                if record_hypers:
                    g = opt.param_groups[0]
                    hist["lr"].append(float(g["lr"]))
                    hist["momentum"].append(float(g.get("momentum", g.get("betas", (0,))[0])))
                loss = F.cross_entropy(m(x), y)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                lv = loss.item()
                if record_losses:
                    hist["losses"].append(lv)
                it += 1
                samples += len(y)
                tot += lv
                nb += 1
                if not math.isfinite(lv) or lv > 1e4:
                    hist["diverged"] = True
                    break
        hist["train_time"] += time.perf_counter() - t0
        hist["epoch"].append(ep + 1)
        hist["iteration"].append(it)
        hist["samples"].append(samples)
        hist["train_loss"].append(tot / nb if nb else float("nan"))
        if test_loader is not None and (eval_every_epoch or ep == epochs - 1 or hist["diverged"]):
            t1 = time.perf_counter()
            tl, ta = evaluate(m, test_loader)
            hist["eval_time"] += time.perf_counter() - t1
            hist["test_acc"].append(ta)
            hist["test_loss"].append(tl)
        elif test_loader is not None:
            hist["test_acc"].append(float("nan"))
            hist["test_loss"].append(float("nan"))
    hist["final_acc"] = hist["test_acc"][-1] if hist["test_acc"] else float("nan")
    hist["iterations"] = it
    return hist


# ----------------------------------------------------------------------------- statistics


def mean_std_se(xs: Sequence[float]) -> tuple[float, float, float]:
    xs = [float(v) for v in xs]
    if not xs:
        return float("nan"), float("nan"), float("nan")
    if len(xs) == 1:
        return xs[0], 0.0, 0.0
    s = statistics.stdev(xs)
    return statistics.mean(xs), s, s / math.sqrt(len(xs))


def pm(xs: Sequence[float], digits: int = 2) -> str:
    m, s, _ = mean_std_se(xs)
    return f"{m:.{digits}f} ± {s:.{digits}f}"


def geomean(xs: Sequence[float]) -> float:
    xs = [v for v in xs if v is not None and v > 0]
    return float(np.exp(np.mean(np.log(xs)))) if xs else float("nan")


# ----------------------------------------------------------------------------- torch-lr-finder


def torch_lr_finder_suggest(
    m: torch.nn.Module,
    opt: torch.optim.Optimizer,
    train_loader: Any,
    *,
    start_lr: float,
    end_lr: float,
    num_iter: int,
) -> tuple[float | None, dict[str, Any]]:
    """Run the real ``torch_lr_finder.LRFinder`` range test and return its suggestion.

    ``plot(suggest_lr=True)`` returns the LR of the steepest gradient of its (EMA
    smoothed) loss after skipping 10 points at the start and 5 at the end (its defaults).
    Returns ``(lr or None, info)``; the model/optimizer are reset afterwards.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from torch_lr_finder import LRFinder, TrainDataLoaderIter

    info: dict[str, Any] = {}
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        finder = LRFinder(m, opt, F.cross_entropy)
        t0 = time.perf_counter()
        finder.range_test(TrainDataLoaderIter(train_loader), start_lr=start_lr, end_lr=end_lr,
                          num_iter=num_iter)
        info["time"] = time.perf_counter() - t0
        info["iterations"] = len(finder.history["lr"])
        info["lrs"] = list(map(float, finder.history["lr"]))
        info["losses"] = list(map(float, finder.history["loss"]))
        lr: float | None
        try:
            _ax, lr = finder.plot(suggest_lr=True)
            lr = float(lr)
        except (RuntimeError, ValueError) as e:  # too few points
            lr, info["error"] = None, str(e)
        plt.close("all")
        finder.reset()
    return lr, info


def suggestion_index(lrs: Sequence[float], lr: float) -> int:
    """Index of the sweep point nearest to ``lr`` (in log space)."""
    a = np.log(np.asarray(lrs, dtype=float))
    return int(np.argmin(np.abs(a - math.log(lr))))


def degenerate(lrs: Sequence[float], lr: float | None, frac: float = 0.05) -> bool:
    """No suggestion, or one in the first/last ``frac`` of the recorded sweep."""
    if lr is None or not math.isfinite(lr):
        return True
    n = len(lrs)
    k = max(1, math.ceil(frac * n))
    i = suggestion_index(lrs, lr)
    return i < k or i > n - 1 - k
