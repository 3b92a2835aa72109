"""One trial of a benchmark, run in a worker process: a range test, or one training run.

Trials are JSON-plain dicts (see :mod:`benchmarks.suite.pool`); everything is built from
the setting's description with onecycle's public API, seeded by the trial's seed (model
initialisation and data order), so a trial's result is a function of its description.
"""

from __future__ import annotations

import contextlib
import io
import math
import time
import warnings
from typing import Any

import torch

from .settings import SETTINGS, Setting

#: bump when the protocol of a trial changes, so cached results are not reused
VERSION = 1

_BUNDLES: dict[str, Any] = {}


def bundle(s: Setting) -> Any:
    """The setting's data (cached per process)."""
    if s.name not in _BUNDLES:
        from onecycle import data

        b = data.load(s.dataset, **s.data_options)
        if s.train is not None or s.test is not None:
            b = b.subset(train=s.train, test=s.test, seed=0)
        _BUNDLES[s.name] = b
    return _BUNDLES[s.name]


def build(s: Setting, seed: int, lr: float) -> tuple[Any, Any, Any, Any, Any]:
    """``(model, optimizer, train_loader, test_loader, task)`` for one seed."""
    from onecycle import models, tasks

    b = bundle(s)
    task = tasks.task_for(b)
    torch.manual_seed(seed)
    model = models.create(s.model, b.input_shape, b.num_classes, **s.model_options)
    if s.optimizer == "sgd":
        opt: Any = torch.optim.SGD(model.parameters(), lr=lr, momentum=s.momentum,
                                   weight_decay=s.weight_decay)
    else:
        opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(s.momentum, 0.999),
                                weight_decay=s.weight_decay)
    train, _val, test = b.loaders(s.batch_size, seed=seed)
    return model, opt, train, test, task


def steps_per_epoch(s: Setting) -> int:
    _m, _o, train, _t, _task = build(s, 0, 1e-3)
    return len(train)


def range_test(trial: dict[str, Any]) -> dict[str, Any]:
    """One 100-iteration range test (1e-5 -> 10 for SGD, 1e-6 -> 1 for AdamW) on the
    fresh model, and the real torch-lr-finder's pick where its API fits the batches."""
    from onecycle import lr_find

    s = SETTINGS[trial["setting"]]
    start, end = (1e-5, 10.0) if s.optimizer == "sgd" else (1e-6, 1.0)
    model, opt, train, _test, task = build(s, trial["seed"], start)
    t0 = time.perf_counter()
    res = lr_find(model, opt, task.loss_fn, train, step_fn=task.step_fn, start_lr=start,
                  end_lr=end, num_iter=100, seed=trial["seed"], progress=False)
    out: dict[str, Any] = {"result": res.to_dict(), "time": time.perf_counter() - t0}
    out["torch_lr_finder"] = None
    if task.step_fn is None:
        out["torch_lr_finder"] = _torch_lr_finder(s, trial["seed"], start, end)
    return out


def _torch_lr_finder(s: Setting, seed: int, start: float, end: float) -> float | None:
    try:
        from torch_lr_finder import LRFinder, TrainDataLoaderIter
    except ImportError:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    model, opt, train, _test, task = build(s, seed, start)
    torch.manual_seed(seed)
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        finder = LRFinder(model, opt, task.loss_fn)
        finder.range_test(TrainDataLoaderIter(train), start_lr=start, end_lr=end, num_iter=100)
        try:
            _ax, lr = finder.plot(suggest_lr=True)
        except (RuntimeError, ValueError):
            lr = None
        plt.close("all")
    return None if lr is None else float(lr)


def train(trial: dict[str, Any]) -> dict[str, Any]:
    """Train one 1cycle run (``trial["lr"]`` peak, ``trial["budget"]`` epochs; the
    Trainer's ``grad_clip`` from ``trial["grad_clip"]``, unclipped without it) and score
    the test split with the task's headline."""
    from onecycle import Trainer

    s = SETTINGS[trial["setting"]]
    lr = float(trial["lr"])
    model, opt, train_loader, test, task = build(s, trial["seed"], lr / 10)
    trainer = Trainer(model, task.loss_fn, opt, train_loader, step_fn=task.step_fn,
                      metrics=dict(task.metrics), progress=False, seed=trial["seed"],
                      grad_clip=trial.get("grad_clip"))
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hist = trainer.fit_one_cycle(trial["budget"], max_lr=lr)
    wall = time.perf_counter() - t0
    ev = trainer.evaluate(test)
    loss = ev.pop("loss")
    score = task.score(loss, ev)
    return {"headline": _finite(score), "loss": _finite(loss), "time": wall,
            "diverged": bool(hist.meta.get("diverged")), "steps": hist.iterations,
            "clipped_steps": int(hist.meta.get("clipped_steps", 0))}


def _finite(v: Any) -> float | None:
    return float(v) if v is not None and math.isfinite(float(v)) else None
