"""The LR range test: :func:`lr_find` checks everything, snapshots the state, runs the
sweep (:mod:`onecycle.finder.sweep`, once or ``repeats`` times) and puts the state back.

Example:
    >>> import torch
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> x = torch.randn(256, 4); y = x @ torch.tensor([1.0, -2.0, 0.5, 3.0])
    >>> data = [(x[i:i + 32], y[i:i + 32]) for i in range(0, 256, 32)]
    >>> model = torch.nn.Linear(4, 1)
    >>> opt = torch.optim.SGD(model.parameters(), lr=0.1)
    >>> res = lr_find(model, opt, lambda out, t: ((out.squeeze(1) - t) ** 2).mean(), data,
    ...               start_lr=1e-4, end_lr=10, num_iter=50, progress=False)
    >>> res.diverged, opt.param_groups[0]["lr"]
    (True, 0.1)
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import torch

from .. import _validate as check
from .._rng import seed_everything
from .._threads import torch_threads
from ..hyper import get_hyper, optimizer_family
from ..progress import Progress
from ..step import Numerics, StepFn, model_device, resolve_step
from .grid import check_mode, lr_grid
from .options import FinderOptions, resolve
from .result import LRFinderResult
from .state import StateSnapshot
from .sweep import DivergenceRule, SweepPlan, cache_validation, run_sweep

__all__ = ["lr_find", "lr_grid", "DivergenceRule", "FinderOptions", "plan_sweep"]


# ----------------------------------------------------------------------------- validate


def _check_model_and_optimizer(model: Any, optimizer: Any) -> list[float]:
    """The optimizer's group LRs, once model and optimizer are known to fit together."""
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not hasattr(optimizer, "param_groups") or not hasattr(optimizer, "step"):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
    trainable = {id(p) for p in model.parameters() if p.requires_grad}
    if not trainable:
        raise ValueError("the model has no trainable parameters (requires_grad is False for "
                         "every one): the range test would train nothing")
    held = {id(p) for g in optimizer.param_groups for p in g["params"]}
    if not trainable & held:
        raise ValueError(
            "the optimizer holds none of the model's trainable parameters, so the range test "
            "would train nothing and record a flat curve: build the optimizer from this "
            "model's parameters, e.g. torch.optim.SGD(model.parameters(), lr=0.1)"
        )
    init_lrs = get_hyper(optimizer, "lr")
    for g, v in enumerate(init_lrs):
        if not (math.isfinite(v) and v > 0):
            raise ValueError(
                f"optimizer param group {g} has lr={v!r}; every group needs a finite lr > 0 "
                "(the sweep keeps the groups' lr ratios to group 0)"
            )
    return init_lrs


def plan_sweep(
    model: torch.nn.Module, optimizer: torch.optim.Optimizer, loss_fn: Any, *,
    step_fn: StepFn | None = None, start_lr: float = 1e-7, end_lr: float = 10.0,
    num_iter: int = 100, mode: str = "exp", numerics: Numerics | None = None,
    options: FinderOptions | None = None, **keywords: Any,
) -> SweepPlan:
    """Check every argument of :func:`lr_find` (raising before anything is touched) and
    return the :class:`~onecycle.finder.sweep.SweepPlan` it runs.

    >>> m = torch.nn.Linear(2, 2); opt = torch.optim.SGD(m.parameters(), lr=0.1)
    >>> plan = plan_sweep(m, opt, torch.nn.functional.cross_entropy, num_iter=5)
    >>> len(plan.grid), plan.numerics.device.type
    (5, 'cpu')
    """
    init_lrs = _check_model_and_optimizer(model, optimizer)
    step = resolve_step(loss_fn, step_fn)
    start = check.positive("start_lr", start_lr)
    end = check.positive("end_lr", end_lr)
    if not start < end:
        raise ValueError(f"start_lr must be < end_lr, got start_lr={start_lr!r}, end_lr={end_lr!r}")
    num_iter = check.integer("num_iter", num_iter, least=2)
    check_mode(mode)
    opts, num = resolve(options, numerics, keywords)
    if num.device is None:
        num = dataclasses.replace(num, device=model_device(model))
    ratios = [v / init_lrs[0] for v in init_lrs]
    config: dict[str, Any] = {
        "start_lr": start, "end_lr": end, "num_iter": num_iter, "mode": mode,
        "smooth": opts.smooth, "diverge": opts.diverge,
        "accumulation_steps": num.accumulation_steps, "amp": num.amp,
        "grad_clip": num.grad_clip, "repeats": opts.repeats, "seed": opts.seed,
        "group_ratios": ratios, "optimizer": type(optimizer).__name__,
        "family": optimizer_family(optimizer),
    }
    return SweepPlan(lr_grid(start, end, num_iter, mode), ratios, step,
                     "step_fn" if step_fn is not None else "loss_fn", num, opts, mode, config)


# ----------------------------------------------------------------------------- snapshot / restore


@contextmanager
def _isolated(model: torch.nn.Module, optimizer: torch.optim.Optimizer, plan: SweepPlan,
              loaders: Iterable[Any]) -> Iterator[StateSnapshot | None]:
    """Snapshot on entry; on exit (also by an exception) put the state back as
    ``restore`` asks, and every sub-module's train/eval mode in every case."""
    where = plan.options.restore_where
    modes = [(m, m.training) for m in model.modules()]
    needed = where is not None or plan.options.repeats > 1  # repeats restart from it
    snap = StateSnapshot(model, optimizer, where=where or "memory") if needed else None
    # loaders that count epochs on iteration (onecycle.data.TensorLoader) are put back
    # too, so a training loop after the test sees the data order it would have seen
    epochs = [(ld, ld.epoch) for ld in loaders
              if ld is not None and isinstance(getattr(ld, "epoch", None), int)
              and callable(getattr(ld, "set_epoch", None))]
    try:
        yield snap
    finally:
        try:
            if snap is not None and where is not None:
                snap.restore()
                for ld, ep in epochs:
                    ld.set_epoch(ep)
        finally:
            if snap is not None:
                snap.close()
            for m, flag in modes:
                m.training = flag


# ----------------------------------------------------------------------------- run


def _run(model: torch.nn.Module, optimizer: torch.optim.Optimizer, loader: Iterable[Any],
         plan: SweepPlan, snap: StateSnapshot | None) -> LRFinderResult:
    """Every repeat of the sweep, each from the snapshot, as one result."""
    opts = plan.options
    if not model.training:
        model.train()
    val_cache = cache_validation(opts.val_loader, plan)
    seed = opts.seed
    if opts.repeats > 1 and seed is None:
        seed = int(torch.randint(0, 2**31 - 1, (1,)).item())
        plan.config["seed"] = seed
    runs: list[LRFinderResult] = []
    with Progress(len(plan.grid) * opts.repeats, "lr_find", progress=opts.progress) as bar:
        for r in range(opts.repeats):
            if r > 0:
                assert snap is not None
                snap.restore()
                if not model.training:
                    model.train()
            run_seed = None if seed is None else seed + r
            if run_seed is not None:
                seed_everything(run_seed)
            runs.append(run_sweep(model, optimizer, loader, plan, val_cache, bar, run_seed))
    return runs[0] if len(runs) == 1 else LRFinderResult.from_runs(runs, plan.config)


def lr_find(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    loss_fn: Callable[..., Any] | None,
    train_loader: Iterable[Any],
    *,
    start_lr: float = 1e-7,
    end_lr: float = 10.0,
    num_iter: int = 100,
    mode: str = "exp",
    step_fn: StepFn | None = None,
    numerics: Numerics | None = None,
    options: FinderOptions | None = None,
    **keywords: Any,
) -> LRFinderResult:
    """Run Leslie Smith's LR range test and return the curve.

    The LR of parameter group 0 sweeps ``start_lr -> end_lr`` over ``num_iter``
    iterations (``mode="exp"``: geometric, ``"linear"``: evenly spaced); every other group
    ``g`` gets ``lr * initial_lr_g / initial_lr_0``, so per-group ratios (discriminative
    LRs) are kept (``res.config["group_ratios"]``; :func:`onecycle.finder.choose_max_lr`
    keeps them in the peak it picks). ``res.lrs`` records group 0's LR. The loader is
    restarted (a new epoch) whenever it runs out before ``num_iter`` iterations.

    Args:
        model: the model, on its device; it is run in train mode (and put back in the
            mode it was in, per sub-module, afterwards: eval-mode models are fine).
        optimizer: any torch optimizer over the model's trainable parameters; every
            group's lr must be > 0 (the ratios are taken from them).
        loss_fn: ``loss_fn(model(inputs), targets) -> scalar`` for ``(inputs, targets)``
            batches; may be None with ``step_fn``.
        train_loader: any re-iterable of batches (a DataLoader, a list, ...).
        start_lr, end_lr: the sweep, ``0 < start_lr < end_lr``, both finite.
        num_iter: optimizer steps in the sweep (>= 2); the test may stop earlier.
        mode: ``"exp"`` or ``"linear"``.
        step_fn: ``step_fn(model, batch)`` for other batches or forward passes, as in
            :mod:`onecycle.step`: it returns the loss tensor, a dict with ``"loss"`` or
            an object with ``.loss`` (a Hugging Face output). It only computes the loss:
            the finder moves the batch to the device, sets the LR, backpropagates,
            clips and steps. It also computes the validation losses (no_grad, eval mode).
        numerics: a :class:`onecycle.step.Numerics` -- ``amp`` (None, ``"bf16"``,
            ``"fp16"`` with a GradScaler), ``grad_clip``, ``accumulation_steps``,
            ``device`` (default: the model's) -- the same object the Trainer fits with.
        options: a :class:`~onecycle.finder.FinderOptions` (smoothing, stop rule,
            validation subset, restore, repeats, seed, progress, threads).
        **keywords: any field of either group by name, as before:
            ``smooth, diverge, val_loader, val_every, val_batches, val_samples, restore,
            repeats, seed, progress, threads, amp, grad_clip, accumulation_steps,
            device``; a keyword overrides the group's field.

    Stopping, smoothing and the recorded points are described in
    :mod:`onecycle.finder.sweep`. With ``grad_clip`` the gradient norm before clipping is
    recorded per iteration (``res.grad_norms``); steps fp16's scaler skipped are counted
    in ``res.config["skipped_steps"]``. Distributed: when ``torch.distributed`` is
    initialized each iteration's loss (and each validation loss) is averaged over the
    ranks, so every rank records the same curve and stops at the same step.

    Returns:
        :class:`LRFinderResult`: ``res.lrs``, ``res.losses``, ``res.suggest()``,
        ``res.plot()``.

    Example:
        >>> import torch
        >>> model = torch.nn.Linear(3, 2)
        >>> opt = torch.optim.Adam(model.parameters())
        >>> data = [(torch.randn(8, 3), torch.randint(0, 2, (8,))) for _ in range(4)]
        >>> res = lr_find(model, opt, torch.nn.functional.cross_entropy, data,
        ...               num_iter=20, grad_clip=1.0, progress=False)
        >>> len(res.lrs) <= 20, len(res.grad_norms) == len(res.lrs), opt.param_groups[0]["lr"]
        (True, True, 0.001)
    """
    plan = plan_sweep(model, optimizer, loss_fn, step_fn=step_fn, start_lr=start_lr,
                      end_lr=end_lr, num_iter=num_iter, mode=mode, numerics=numerics,
                      options=options, **keywords)
    loaders = (train_loader, plan.options.val_loader)
    with torch_threads(plan.options.threads), _isolated(model, optimizer, plan, loaders) as snap:
        return _run(model, optimizer, train_loader, plan, snap)
