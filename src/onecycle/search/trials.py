"""Trials: one setting tried from the same start, in this process or in workers.

Every search runs *trials*. A trial starts from a private deep copy of the same initial
model (the caller's model is never touched), builds a fresh optimizer with
``make_optimizer``, applies the setting under test (a weight decay, a dropout
probability, a momentum pair, ...), and then runs either an LR range test
(:func:`onecycle.finder.lr_find`) or a short training
(:meth:`onecycle.train.Trainer.fit_one_cycle`, ``fit`` or ``fit_tail``). Every trial
uses the same seed and the same data order, so the settings are compared on a paired
basis.

Trials run one after the other (``workers=1``) or in separate processes
(``workers=N``, a ``ProcessPoolExecutor`` with the ``spawn`` start method). Results do
not depend on the number of workers: each trial is a pure function of its inputs.

:func:`guarded` puts the global RNG states (python, numpy, torch) and the loaders'
epoch counters back after a search, so running one does not change what the caller's
code does next.

Example:
    >>> import torch
    >>> data = [(torch.randn(8, 3), torch.randint(0, 2, (8,))) for _ in range(3)]
    >>> ctx = TrialContext(torch.nn.Linear(3, 2), lambda m: torch.optim.SGD(m.parameters(), lr=0.1),
    ...                    torch.nn.functional.cross_entropy, data)
    >>> out = run_trials(ctx, [Trial("finder", "lr", None, options={"num_iter": 5})])
    >>> len(out[0]["curve"].lrs)
    5
"""

from __future__ import annotations

import copy
import os
import pickle
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch

from .._validate import integer
from ..step import model_device
from .factories import build_optimizer
from .setters import apply_setter

__all__ = ["TrialContext", "Trial", "run_trial", "run_trials", "guarded"]


@contextmanager
def guarded(*loaders: Any) -> Iterator[None]:
    """Put back the global RNGs and the loaders' epoch counters afterwards.

    >>> import random
    >>> random.seed(1); a = random.random(); random.seed(1)
    >>> with guarded():
    ...     _ = random.random()
    >>> random.random() == a
    True
    """
    from ..finder.state import rng_state, set_rng_state

    saved = rng_state()
    epochs = [(ld, getattr(ld, "epoch", None)) for ld in loaders if ld is not None]
    try:
        yield
    finally:
        set_rng_state(saved)
        for ld, ep in epochs:
            if ep is not None and hasattr(ld, "set_epoch"):
                ld.set_epoch(ep)


@dataclass
class TrialContext:
    """What every trial of one search shares (sent once to each worker process).

    ``optimizer_state`` is loaded into each fresh optimizer before the setting (the
    restarts of the snapshot search); ``loader_epoch`` is the epoch every trial starts
    the training loader at (None: as it is); ``step_fn`` is the step of every range test
    and training (None: the default step over ``loss_fn``).
    """

    model: torch.nn.Module
    make_optimizer: Any
    loss_fn: Any
    train_loader: Any
    val_loader: Any = None
    seed: int = 0
    metrics: Any = None
    grad_clip: float | str | None = None
    loader_epoch: int | None = None
    optimizer_state: dict[str, Any] | None = None
    step_fn: Any = None


@dataclass
class Trial:
    """One setting to try, and how: ``kind`` is "finder", "cycle" or "restart".

    ``setters`` are ``(param, setter, value)`` applied to the fresh model/optimizer;
    ``options`` go to the range test (finder) or the fit (``epochs``, ``max_lr`` /
    ``lr``, schedule options).
    """

    kind: str
    param: str
    value: Any
    setters: list[tuple[str, Callable[..., Any], Any]] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)


def _prepare(ctx: TrialContext, trial: Trial) -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    model = copy.deepcopy(ctx.model)
    opt = build_optimizer(ctx.make_optimizer, model)
    if ctx.optimizer_state is not None:
        opt.load_state_dict(copy.deepcopy(ctx.optimizer_state))
    for pname, setter, value in trial.setters:
        apply_setter(setter, model, opt, pname, value)
    if ctx.loader_epoch is not None and hasattr(ctx.train_loader, "set_epoch"):
        ctx.train_loader.set_epoch(ctx.loader_epoch)
    return model, opt


def _fit(trainer: Any, kind: str, options: dict[str, Any]) -> Any:
    opts = dict(options)
    epochs = opts.pop("epochs")
    if kind == "cycle":
        return trainer.fit_one_cycle(epochs, opts.pop("max_lr"), **opts)
    if kind == "restart":
        how = opts.pop("schedule", "constant")
        lr = opts.pop("lr")
        return trainer.fit_tail(epochs, start_lr=lr) if how == "tail" else trainer.fit(epochs, lr=lr)
    raise ValueError(f"unknown trial kind {kind!r}")  # pragma: no cover - internal


def run_trial(ctx: TrialContext, trial: Trial, progress: Any = False) -> dict[str, Any]:
    """Run one trial; returns plain data (picklable, JSON-able apart from the curve):
    ``{"curve", "wall_time"}`` for a range test, ``{"history", "final", "diverged",
    "wall_time"}`` for a training. ``progress`` is the range test's or the training's
    own (see :mod:`onecycle.progress`)."""
    from ..finder import lr_find
    from ..train import DivergenceGuard, DivergenceWarning, Trainer

    model, opt = _prepare(ctx, trial)
    t0 = time.perf_counter()
    if trial.kind == "finder":
        res = lr_find(model, opt, ctx.loss_fn, ctx.train_loader, val_loader=ctx.val_loader,
                      seed=ctx.seed, restore=False, progress=progress, step_fn=ctx.step_fn,
                      **trial.options)
        return {"curve": res, "wall_time": time.perf_counter() - t0}
    trainer = Trainer(
        model, ctx.loss_fn, opt, ctx.train_loader, val_loader=ctx.val_loader,
        metrics=ctx.metrics, grad_clip=ctx.grad_clip, device=model_device(model),
        progress=progress, seed=ctx.seed, divergence_guard=DivergenceGuard(action="warn"),
        step_fn=ctx.step_fn,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DivergenceWarning)
        hist = _fit(trainer, trial.kind, trial.options)
    return {
        "history": hist.to_dict(),
        "final": dict(hist[-1]) if len(hist) else {},
        "diverged": bool(hist.meta.get("diverged")),
        "wall_time": time.perf_counter() - t0,
    }


# worker-process side: the context arrives once through the initializer
_WORKER_CTX: TrialContext | None = None


def _init_worker(ctx: TrialContext, threads: int) -> None:
    global _WORKER_CTX
    torch.set_num_threads(max(1, threads))
    _WORKER_CTX = ctx


def _worker_trial(trial: Trial) -> dict[str, Any]:
    assert _WORKER_CTX is not None, "worker not initialised"
    return run_trial(_WORKER_CTX, trial)


def _check_picklable(items: Sequence[tuple[str, Any]]) -> None:
    for name, obj in items:
        if obj is None:
            continue
        try:
            pickle.dumps(obj)
        except Exception as exc:
            raise TypeError(
                f"workers > 1 runs trials in separate processes, so {name} must be "
                f"picklable (a module-level function, class or functools.partial, not a "
                f"lambda or a local function); pickling {obj!r} failed: {exc}. Use "
                "workers=1 to run the trials in this process"
            ) from None


def _run_in_pool(ctx: TrialContext, trials: Sequence[Trial], workers: int,
                 done: Callable[[], None]) -> list[dict[str, Any]]:
    _check_picklable(
        [("make_optimizer", ctx.make_optimizer), ("loss_fn", ctx.loss_fn),
         ("step_fn", ctx.step_fn), ("metrics", ctx.metrics)]
        + [(f"the setter for {p}", s) for t in trials for p, s, _ in t.setters]
    )
    import concurrent.futures as cf
    import multiprocessing as mp

    nproc = min(workers, len(trials))
    threads = max(1, (os.cpu_count() or 1) // nproc)
    results: list[dict[str, Any] | None] = [None] * len(trials)
    with cf.ProcessPoolExecutor(
        max_workers=nproc, mp_context=mp.get_context("spawn"),
        initializer=_init_worker, initargs=(ctx, threads),
    ) as pool:
        futures = {pool.submit(_worker_trial, t): i for i, t in enumerate(trials)}
        try:
            for fut in cf.as_completed(futures):
                results[futures[fut]] = fut.result()
                done()
        except BaseException:
            for f in futures:
                f.cancel()
            raise
    return [r for r in results if r is not None]


def run_trials(
    ctx: TrialContext,
    trials: Sequence[Trial],
    *,
    workers: int = 1,
    progress: Any = None,
    desc: str = "search",
) -> list[dict[str, Any]]:
    """Run ``trials`` (in order, or on ``workers`` spawn processes); results in order.

    ``progress`` follows :mod:`onecycle.progress`: one unit per trial, or a single
    trial's own progress (its range test's iterations, its training's steps).
    """
    from ..progress import Progress

    workers = integer("workers", workers, least=1)
    if len(trials) == 1:
        return [run_trial(ctx, trials[0], progress)]
    with Progress(len(trials), desc, progress=progress) as bar:
        if workers == 1:
            out = []
            for t in trials:
                out.append(run_trial(ctx, t))
                bar.update(1)
            return out
        return _run_in_pool(ctx, trials, workers, lambda: bar.update(1))
