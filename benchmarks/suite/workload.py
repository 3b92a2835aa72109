"""The small workloads the cost and scale benchmarks time, built from onecycle's public API.

``finder_cost``, ``overhead``, ``distributed`` and ``superconvergence`` train reference
models on in-memory MNIST (``onecycle.data`` bundles and their ``TensorLoader``: no
DataLoader workers, so a timing measures the training step, not data loading). What
they share is here, once: the cached bundles, a seeded model, the SGD optimizer of the
old benchmarks (momentum 0.9, weight decay 5e-4), plain training iterations (the
reference a range test is timed against) and an accuracy evaluation.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any

import torch
import torch.nn.functional as F

_BUNDLES: dict[tuple[Any, ...], Any] = {}


def bundle(name: str = "mnist", train: int | None = None, test: int | None = None) -> Any:
    """A dataset bundle (cached per process), optionally a stratified subset (seed 0)."""
    key = (name, train, test)
    if key not in _BUNDLES:
        from onecycle import data

        full = _BUNDLES.get((name, None, None))
        if full is None:
            full = _BUNDLES[(name, None, None)] = data.load(name)
        _BUNDLES[key] = full if train is None and test is None else full.subset(
            train=train, test=test, seed=0)
    return _BUNDLES[key]


def loaders(b: Any, batch_size: int, seed: int) -> tuple[Any, Any]:
    """``(train, test)`` loaders: training batches shuffled in an order seeded by ``seed``."""
    tr, _val, te = b.loaders(batch_size, seed=seed, eval_batch_size=1000)
    return tr, te


def model(arch: str, b: Any, seed: int) -> torch.nn.Module:
    """A freshly initialised reference model: the same ``seed`` gives the same weights."""
    from onecycle import models

    torch.manual_seed(seed)
    return models.create(arch, b.input_shape, b.num_classes)


def sgd(m: torch.nn.Module, lr: float, momentum: float = 0.9,
        weight_decay: float = 5e-4) -> torch.optim.SGD:
    return torch.optim.SGD(m.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)


def plain_iterations(m: torch.nn.Module, opt: torch.optim.Optimizer, loader: Iterable[Any],
                     lrs: Sequence[float]) -> float:
    """Wall time of ``len(lrs)`` plain training iterations (the LR set before each step,
    ``loss.item()`` read as any real loop logs it), restarting the loader when it ends."""
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


@torch.no_grad()
def evaluate(m: torch.nn.Module, loader: Iterable[Any]) -> tuple[float, float]:
    """``(mean loss, accuracy %)``; a blown-up model scores its real (chance) accuracy."""
    was = m.training
    m.eval()
    loss_sum, correct, n = 0.0, 0, 0
    try:
        for x, y in loader:
            out = m(x)
            loss_sum += float(F.cross_entropy(out, y, reduction="sum"))
            correct += int((out.argmax(1) == y).sum())
            n += len(y)
    finally:
        m.train(was)
    return loss_sum / n, 100.0 * correct / n


def ratio_cell(x: float, digits: int = 2) -> str:
    """A ratio as the summary table shows it: ``1.05×``."""
    return f"{x:.{digits}f}×"


def verdict(ok: bool) -> str:
    return "met" if ok else "missed"
