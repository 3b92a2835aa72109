"""One pass of the LR range test: the loop, the stop rule, the validation subset.

One iteration: set the LR (every param group keeps its ratio to group 0), run
``accumulation_steps`` micro-batches through the step contract of :mod:`onecycle.step`
(the batch moved to the device, ``step_fn(model, batch)`` under autocast, its loss read
by ``read_output`` and backpropagated by :class:`~onecycle.step.OptimizerStep`), average
their losses (and across ranks when ``torch.distributed`` is initialized), record,
decide whether to stop, and only then clip and step the optimizer.

Stopping. The raw losses are smoothed by a bias-corrected EMA,
``avg = beta * avg + (1 - beta) * loss``, ``smoothed = avg / (1 - beta ** (i + 1))`` with
``beta = smooth``. The test stops at the first NaN/Inf loss (``"non-finite"``), or when the
smoothed loss has clearly diverged (``"diverged"``)::

    smoothed[i] - best > (diverge - 1) * max(ref - best, noise0)

where ``best`` is the lowest smoothed loss so far, ``ref`` the smoothed loss after the
first ``w = max(5, ceil(5% of num_iter))`` iterations (the initial level), and ``noise0``
the robust spread of the raw losses (``median |diff| / (0.6745 * sqrt 2)``) over those
``w`` iterations or over every iteration so far, whichever is larger. In words: the loss
has climbed back above its best by ``diverge - 1`` times the descent achieved so far (or
times the batch-to-batch noise when there was no descent). The noise is re-estimated as
the sweep goes because five batches can happen to agree: on small, noisy data (a
regression on a few hundred samples) a spread measured on them alone let ordinary batch
noise look like a divergence after a dozen iterations. Only differences of losses enter the rule, so it works the same
for negative losses and does not move when every loss is shifted by a constant (or
scaled by a positive factor). The check starts after ``w`` iterations. The point that
triggered the stop is recorded and flagged (``res.stop_index``); the optimizer does not
step on it. ``diverge=math.inf`` disables the divergence stop.

Example:
    >>> rule = DivergenceRule(diverge=4.0, warmup=5)
    >>> [rule.update(v, v) for v in [2.0, 2.0, 1.9, 1.5, 1.0, 1.0, 4.5]]
    [False, False, False, False, False, False, True]
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..hyper import set_hyper
from ..step import Numerics, OptimizerStep, StepFn, batch_size, head, read_output, to_device
from .options import FinderOptions
from .result import LRFinderResult

__all__ = ["DivergenceRule", "SweepPlan", "run_sweep", "cache_validation", "BatchCycler"]


class DivergenceRule:
    """The stop rule of the range test (see the module docstring), fed one point at a time.

    ``update(raw, smoothed)`` returns True when the point just added shows divergence.

    >>> rule = DivergenceRule(diverge=4.0, warmup=5)
    >>> [rule.update(v, v) for v in [2.0, 2.0, 1.9, 1.5, 1.0, 1.0, 4.5]]
    [False, False, False, False, False, False, True]
    """

    def __init__(self, diverge: float = 4.0, warmup: int = 5) -> None:
        self.diverge = float(diverge)
        self.warmup = max(1, int(warmup))
        self.best = math.inf
        self.ref = math.nan
        self.noise0 = 0.0
        self._diffs: list[float] = []
        self._last = math.nan
        self.count = 0

    def _spread(self) -> float:
        if not self._diffs:
            return 0.0
        return float(np.median(self._diffs)) / (0.6745 * math.sqrt(2.0))

    def update(self, raw: float, smoothed: float) -> bool:
        """Add one point; True when the curve has diverged at this point."""
        i = self.count
        self.count += 1
        if i > 0:
            self._diffs.append(abs(raw - self._last))
        self._last = raw
        self.best = min(self.best, smoothed)
        if i == self.warmup - 1:
            self.ref = smoothed
            self.noise0 = self._spread()
        if i < self.warmup or not math.isfinite(self.diverge):
            return False
        # floor at the rounding level of the numbers involved, so that a constant loss
        # (whose EMA wobbles in the last bits) never "diverges"
        eps = 64 * sys.float_info.epsilon * max(abs(self.ref), abs(self.best), abs(smoothed))
        scale = max(self.ref - self.best, self.noise0, self._spread(), eps)
        return smoothed - self.best > (self.diverge - 1.0) * scale


@dataclass(frozen=True)
class SweepPlan:
    """A checked range test, ready to run: the LR grid, group ratios, step and settings.

    ``numerics.device`` is resolved (the model's device unless one was given);
    ``config`` is what the result records about the test.
    """

    grid: np.ndarray
    ratios: list[float]
    step: StepFn
    source: str
    numerics: Numerics
    options: FinderOptions
    mode: str
    config: dict[str, Any]

    @property
    def val_every(self) -> int:
        """Iterations between two validation passes."""
        every = self.options.val_every
        return max(1, len(self.grid) // 20) if every is None else every


class BatchCycler:
    """Endless batches from a loader: restarts it (a new epoch) when it runs out.

    >>> c = BatchCycler([1, 2], "train_loader"); [c.next() for _ in range(5)]
    [1, 2, 1, 2, 1]
    """

    def __init__(self, loader: Iterable[Any], name: str) -> None:
        self.loader = loader
        self.name = name
        self.it: Iterator[Any] = iter(loader)
        self.count = 0  # batches served in the current pass

    def next(self) -> Any:
        """The next batch (the loader restarted when it ran out)."""
        try:
            b = next(self.it)
        except StopIteration:
            if self.count == 0:
                raise ValueError(f"{self.name} yielded no batches: it is empty") from None
            served, self.count = self.count, 0
            self.it = iter(self.loader)
            try:
                b = next(self.it)
            except StopIteration:
                raise ValueError(
                    f"{self.name} yielded nothing when restarted after {served} batches (a "
                    "one-shot iterator such as a generator?): pass a re-iterable loader or "
                    "a smaller num_iter"
                ) from None
        self.count += 1
        return b


# ----------------------------------------------------------------------------- ranks


def _world() -> int:
    d = torch.distributed
    if d.is_available() and d.is_initialized():
        return d.get_world_size()
    return 1


def _all_mean(value: float, device: torch.device) -> float:
    """Average a float over all ranks (identity when not distributed), so every rank
    records the same curve and stops at the same step."""
    world = _world()
    if world == 1:
        return value
    dev = device
    if torch.distributed.get_backend() == "nccl" and dev.type != "cuda":
        dev = torch.device("cuda", torch.cuda.current_device())
    t = torch.tensor([value], dtype=torch.float64, device=dev)
    torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.SUM)
    return float(t.item()) / world


# ----------------------------------------------------------------------------- validation


def cache_validation(loader: Iterable[Any] | None, plan: SweepPlan) -> list[Any] | None:
    """The fixed validation subset, on the device: the first ``val_batches`` batches,
    cut to ``val_samples`` samples (None without a loader)."""
    if loader is None:
        return None
    opts, device = plan.options, plan.numerics.device
    cache: list[Any] = []
    kept = 0
    for b in loader:
        n = batch_size(b)
        if opts.val_samples is not None and n is not None and kept + n > opts.val_samples:
            b, n = head(b, opts.val_samples - kept), opts.val_samples - kept
        cache.append(to_device(b, device))
        kept += n or 0
        if len(cache) >= opts.val_batches or (
                opts.val_samples is not None and kept >= opts.val_samples):
            break
    if not cache:
        raise ValueError("val_loader yielded no batches: it is empty")
    return cache


def _evaluate(model: torch.nn.Module, cache: list[Any], plan: SweepPlan) -> float:
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    total = 0.0
    device = plan.numerics.device or torch.device("cpu")
    try:
        with torch.no_grad(), plan.numerics.autocast(device):
            for b in cache:
                loss = read_output(plan.step(model, b), source=plan.source).loss
                device = loss.device
                total += float(loss.detach())
    finally:
        for m, flag in modes:
            m.training = flag
    return _all_mean(total / len(cache), device)


# ----------------------------------------------------------------------------- the curve


class _Curve:
    """What one pass records, point by point, and the stop decision on each point."""

    def __init__(self, plan: SweepPlan) -> None:
        n = len(plan.grid)
        self.plan = plan
        self.beta = plan.options.smooth
        self.rule = DivergenceRule(plan.options.diverge, min(n, max(5, math.ceil(0.05 * n))))
        self.lrs: list[float] = []
        self.raw: list[float] = []
        self.smoothed: list[float] = []
        self.norms: list[float] = []
        self.val_lrs: list[float] = []
        self.val_losses: list[float] = []
        self.avg = 0.0
        self.stop_reason = "completed"
        self.stop_index: int | None = None

    def add(self, lr: float, value: float) -> float:
        """Record one point; its smoothed loss."""
        i = len(self.raw)
        self.lrs.append(lr)
        self.raw.append(value)
        if math.isfinite(value):
            self.avg = self.beta * self.avg + (1.0 - self.beta) * value
            sm = self.avg / (1.0 - self.beta ** (i + 1))
        else:
            sm = math.nan
        self.smoothed.append(sm)
        return sm

    def stops(self, value: float, sm: float) -> bool:
        """True (and the reason recorded) when the point just added ends the test."""
        if not math.isfinite(value):
            self.stop_reason = "non-finite"
        elif self.rule.update(value, sm):
            self.stop_reason = "diverged"
        else:
            return False
        self.stop_index = len(self.raw) - 1
        return True

    def result(self, seed: int | None, skipped: int) -> LRFinderResult:
        clipping = self.plan.numerics.for_range_test().grad_clip is not None
        norms = self.norms + [math.nan] * (len(self.lrs) - len(self.norms)) if clipping else []
        return LRFinderResult(
            lrs=np.array(self.lrs), losses=np.array(self.raw),
            smoothed=np.array(self.smoothed), mode=self.plan.mode,
            diverged=self.stop_reason != "completed", stop_reason=self.stop_reason,
            stop_index=self.stop_index, val_lrs=np.array(self.val_lrs),
            val_losses=np.array(self.val_losses), grad_norms=np.array(norms, dtype=float),
            config={**self.plan.config, "seed": seed, "skipped_steps": skipped},
        )


# ----------------------------------------------------------------------------- one pass


def _point_loss(model: torch.nn.Module, runner: OptimizerStep, batches: BatchCycler,
                plan: SweepPlan) -> float:
    """Forward and backward over one optimizer step's micro-batches; their mean loss."""
    num = plan.numerics
    total = 0.0
    device = num.device or torch.device("cpu")
    for _ in range(num.accumulation_steps):
        batch = to_device(batches.next(), num.device)
        with num.autocast(num.device):
            loss = read_output(plan.step(model, batch), training=True, source=plan.source).loss
        device = loss.device
        runner.backward(loss)
        total += float(loss.detach())
    return _all_mean(total / num.accumulation_steps, device)


def run_sweep(
    model: torch.nn.Module, optimizer: torch.optim.Optimizer, loader: Iterable[Any],
    plan: SweepPlan, val_cache: list[Any] | None, progress: Any, seed: int | None = None,
) -> LRFinderResult:
    """One pass over the plan's LR grid (see the module docs); ``progress`` is an
    :class:`onecycle.progress.Progress` advanced once per iteration."""
    batches = BatchCycler(loader, "train_loader")
    runner = OptimizerStep(model, optimizer, plan.numerics.for_range_test(),
                           device=plan.numerics.device)
    curve = _Curve(plan)
    last = len(plan.grid) - 1
    for i, lr in enumerate(plan.grid.tolist()):
        set_hyper(optimizer, "lr", [lr * q for q in plan.ratios])
        optimizer.zero_grad(set_to_none=True)
        value = _point_loss(model, runner, batches, plan)
        sm = curve.add(lr, value)
        progress.update(1, lr=lr, loss=sm)
        if curve.stops(value, sm):
            break
        report = runner.step()
        curve.norms.append(math.nan if report.grad_norm is None else report.grad_norm)
        if val_cache is not None and ((i + 1) % plan.val_every == 0 or i == last):
            curve.val_lrs.append(lr)
            curve.val_losses.append(_evaluate(model, val_cache, plan))
    return curve.result(seed, runner.skipped)
