"""``compare``: is 1cycle worth it here? Every alternative, same weights, same batches.

For each seed: the initial model is built once and every run starts from a copy of it,
on loaders that replay the same batch order; the LR range test runs once, on another
copy, and its wall time is counted in every alternative whose LR came from it. For each
budget the range test's pick (:func:`onecycle.finder.choose_max_lr`, budget-aware when
that rule takes the budget) goes through each alternative's :class:`LRRule`; with
``tune="grid"`` the tunable ones also run at the grid's factors around it and keep the
best on the validation split, every grid run's time counted. Every run is a
:class:`~onecycle.train.Trainer` fit, judged on the test split (else the validation
split) with the task's headline; schedule-free is judged in its averaged weights.

Example:
    >>> import onecycle as oc
    >>> r = oc.compare("mlp", "digits", budgets=[1], seeds=[0], progress=False,
    ...                alternatives=["linear_decay"])
    >>> r.alternatives, r.verdicts()[0].alternative
    (['ours', 'linear_decay'], 'linear_decay')
"""

from __future__ import annotations

import copy
import time
import warnings
from dataclasses import dataclass
from typing import Any

from .._threads import torch_threads
from ..progress import Progress
from ..train import Callback, DivergenceWarning, Trainer
from .alternatives import Alternative, LRPick, optimizer_family, select
from .options import CompareOptions
from .result import CompareReport, RunRecord
from .store import (
    load_range_test,
    load_run,
    open_steps,
    range_test_step,
    run_step,
    save_range_test,
    save_run,
)
from .verdict import epochs_text
from .workload import Workload, resolve_workload

__all__ = ["compare", "budget_choice", "LRRecorder", "MAX_CURVE_POINTS"]

#: the LR curves kept in a report are thinned to at most this many points
MAX_CURVE_POINTS = 500


def budget_choice(result: Any, total_steps: int) -> Any:
    """:func:`onecycle.finder.choose_max_lr` for a cycle of ``total_steps`` steps (the
    budget-aware pick: docs/finder.md, "The training budget").

    >>> import numpy as np
    >>> from onecycle.finder import LRFinderResult
    >>> lrs = np.geomspace(1e-4, 1, 40); losses = (np.log10(lrs) + 2) ** 2
    >>> budget_choice(LRFinderResult(lrs, losses, losses), 100).lr > 0
    True
    """
    from ..finder import choose_max_lr

    return choose_max_lr(result, total_steps=total_steps)


class LRRecorder(Callback):
    """Records ``read(trainer)`` after every optimizer step: the LR each step used.

    >>> LRRecorder(lambda t: 0.1).values
    []
    """

    def __init__(self, read: Any) -> None:
        self.read = read
        self.values: list[float] = []

    def on_batch_end(self, trainer: Any, step: int, loss: float) -> None:
        self.values.append(self.read(trainer))


@dataclass
class _Seed:
    """What every run of one seed shares."""

    seed: int
    model: Any  # the initial weights (never trained)
    loaders: tuple[Any, Any, Any]
    family: str


def _trainer(work: Workload, model: Any, optimizer: Any, s: _Seed, opts: CompareOptions,
             callbacks: list[Callback] | None = None) -> Trainer:
    t = work.task
    return Trainer(model, t.loss_fn, optimizer, s.loaders[0], s.loaders[1], step_fn=t.step_fn,
                   metrics=dict(t.metrics) or None, seed=s.seed, progress=False,
                   device=opts.device, threads=opts.threads, grad_clip=opts.grad_clip,
                   callbacks=callbacks or [])


def _range_test(work: Workload, s: _Seed, opts: CompareOptions) -> tuple[dict[int, LRPick], dict]:
    """The LR picks per budget, and the record of the range test (time, picks)."""
    from ..finder import NoUsableLR
    from ..finder.choose import group_ratios

    model = copy.deepcopy(s.model)
    optimizer = work.optimizer(model)
    lrs0 = [float(g["lr"]) for g in optimizer.param_groups]
    if opts.max_lr is not None:
        pick = LRPick(tuple(opts.max_lr * v / lrs0[0] for v in lrs0), None, "given")
        return {b: pick for b in opts.budgets}, {"seed": s.seed, "time_s": 0.0,
                                                  "max_lr": {str(b): pick.max_lr[0]
                                                             for b in opts.budgets}}
    trainer = _trainer(work, model, optimizer, s, opts)
    t0 = time.perf_counter()
    res = trainer.lr_find(**dict(opts.lr_find_kw))
    elapsed = time.perf_counter() - t0
    low = res.suggest("minimum").lr
    minimum = None if low is None else tuple(low * q for q in group_ratios(res))
    picks, info = {}, {"seed": s.seed, "time_s": elapsed, "minimum": low, "max_lr": {}}
    for b in opts.budgets:
        try:
            choice = budget_choice(res, trainer.steps_for(b))
        except NoUsableLR as exc:  # still a NoUsableLR (a ValueError), saying where
            what = exc.suggestion if exc.suggestion is not None else exc.reason
            raise NoUsableLR(what, f"seed {s.seed} of compare: give compare max_lr= to "
                                   "compare every alternative at that LR, or widen the "
                                   "sweep with lr_find_kw") from exc
        picks[b] = LRPick(tuple(choice.per_group), minimum)
        info["max_lr"][str(b)] = choice.lr
        info.update(method=choice.method, reason=choice.reason)
    return picks, info


def _train_once(work: Workload, alt: Alternative, lrs: list[float], budget: int, s: _Seed,
                opts: CompareOptions) -> dict[str, Any]:
    model = copy.deepcopy(s.model)
    template = work.optimizer(model)
    train, val, test = s.loaders
    total = budget * len(train)
    optimizer = template if alt.make_optimizer is None else alt.make_optimizer(template, lrs, total)
    rec = LRRecorder(alt.read_lr)
    trainer = _trainer(work, model, optimizer, s, opts, [rec])
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DivergenceWarning)  # recorded as diverged below
        hist = alt.fit(trainer, budget, lrs)
    train_s = time.perf_counter() - t0
    task = work.task
    out: dict[str, Any] = {"train_s": train_s, "steps": hist.iterations, "curve": rec.values,
                           "first_loss": hist.loss[0] if hist.loss else None,
                           "diverged": bool(hist.meta.get("diverged")), "val_loss": None,
                           "val_headline": None}
    if val is not None:
        ev = trainer.evaluate(val)
        out["val_loss"] = ev.pop("loss")
        out["val_headline"] = task.score(out["val_loss"], ev)
    if test is not None:
        ev = trainer.evaluate(test)
        out["loss"] = ev.pop("loss")
        out["headline"] = task.score(out["loss"], ev)
    else:
        out["loss"], out["headline"] = out["val_loss"], out["val_headline"]
    return out


def _best(work: Workload, runs: list[tuple[float, dict[str, Any]]]) -> int:
    """Index of the grid run with the best validation headline (a run without one
    comes last)."""
    task = work.task

    def key(i: int) -> tuple[int, float]:
        v = runs[i][1]["val_headline"]
        if v is None:
            return (1, 0.0)
        return (0, -v if task.higher_is_better else v)

    return min(range(len(runs)), key=key)


def _run(work: Workload, alt: Alternative, pick: LRPick, budget: int, s: _Seed,
         opts: CompareOptions, rt_time: float) -> tuple[RunRecord, list[float]]:
    lrs = alt.rule.lrs(pick, s.family)
    fixed = alt.rule.base_for(s.family) == "fixed" or pick.source == "given"
    tuning = 0.0 if fixed else rt_time  # an LR from the range test carries its cost
    grid = None
    if opts.tune == "grid" and alt.rule.tunable:
        runs = [(f, _train_once(work, alt, [f * v for v in lrs], budget, s, opts))
                for f in opts.grid]
        best = _best(work, runs)
        grid = [{"factor": f, "lr": f * lrs[0], "val_headline": o["val_headline"],
                 "train_s": o["train_s"]} for f, o in runs]
        tuning += sum(o["train_s"] for i, (_f, o) in enumerate(runs) if i != best)
        factor, out = runs[best]
        lrs = [factor * v for v in lrs]
    else:
        out = _train_once(work, alt, lrs, budget, s, opts)
    record = RunRecord(alt.name, budget, s.seed, lrs, out["headline"], out["loss"],
                       out["val_loss"], out["val_headline"], out["train_s"], tuning,
                       out["steps"], out["diverged"], grid, out["first_loss"])
    return record, out["curve"]


def _thin(curve: list[float]) -> list[float]:
    k = -(-len(curve) // MAX_CURVE_POINTS)
    return [float(v) for v in curve[::k]] if curve else []


def _workload_info(work: Workload, family: str, s: _Seed) -> dict[str, Any]:
    t = work.task
    _train, val, test = s.loaders
    return {"dataset": work.dataset, "model": work.model_name, "optimizer": work.optimizer_name,
            "family": family, "task": t.name, "headline": t.headline,
            "higher_is_better": t.higher_is_better, "unit": t.unit, "chance": t.chance,
            "split": "test" if test is not None else "validation",
            "steps_per_epoch": len(s.loaders[0])}


def compare(model: Any = None, data: Any = None, optimizer: Any = None, *,
            options: CompareOptions | None = None, **keywords: Any) -> CompareReport:
    """Train ours and every alternative from the same initial weights and batch order,
    for each budget and seed, and judge them (see the module docs and docs/compare.md).

    Args:
        model: a registered model name, an ``nn.Module``, or a factory (zero arguments,
            or ``(input_shape, num_classes)`` with a dataset); ``None``: the dataset's
            default model.
        data: a dataset name or path (default ``"digits"``), a ``DatasetBundle``,
            ``(train, val[, test])`` loaders or a function ``seed -> loaders``.
        optimizer: ``"sgd"`` (default), ``"adam"``, ``"adamw"`` or
            ``make_optimizer(model)``; its family picks schedule-free SGD or AdamW and
            whether Prodigy runs.
        options: a :class:`CompareOptions`; **keywords: its fields, overriding it
            (``budgets``, ``seeds``, ``alternatives``, ``tune``, ``max_lr``, ...).

    Returns:
        a :class:`CompareReport` (``.verdict_text()``, ``.summary_table()``,
        ``.write(dir)``).
    """
    opts = CompareOptions.build(options, keywords)
    work = resolve_workload(model, data, optimizer, batch_size=opts.batch_size, task=opts.task,
                            loss_fn=opts.loss_fn, step_fn=opts.step_fn, metrics=opts.metrics)
    t_start = time.perf_counter()
    with torch_threads(opts.threads):
        family = optimizer_family(work.optimizer(work.make_model(opts.seeds[0])))
        alts, skipped = select(opts.alternatives, family)
        report = CompareReport({}, list(opts.budgets), list(opts.seeds),
                               [a.name for a in alts], skipped, [],
                               rules={a.name: a.rule.describe(family) for a in alts},
                               options=opts.to_dict())
        steps = open_steps(opts, {"dataset": work.dataset, "model": work.model_name,
                                  "optimizer": work.optimizer_name})
        n = len(opts.seeds) * len(opts.budgets) * len(alts)
        with Progress(n, "compare", progress=opts.progress) as bar:
            for seed in opts.seeds:
                _one_seed(work, alts, seed, family, opts, report, bar, steps)
    report.meta.update(created=time.strftime("%Y-%m-%d %H:%M:%S"),
                       wall_time_s=time.perf_counter() - t_start)
    if steps is not None and steps.reused:
        report.meta["resumed_steps"] = len(steps.reused)
    return report


def _step(steps: Any, name: str, compute: Any, save: Any, load: Any) -> Any:
    """``compute()``, or its finished result from the step store when there is one."""
    return compute() if steps is None else steps.step(name, compute, save, load)


def _one_seed(work: Workload, alts: list[Alternative], seed: int, family: str,
              opts: CompareOptions, report: CompareReport, bar: Progress,
              steps: Any = None) -> None:
    loaders = work.loaders(seed)
    if opts.tune == "grid" and loaders[1] is None:
        raise ValueError("tune='grid' keeps the grid's best run on the validation split: "
                         "give a validation loader")
    s = _Seed(seed, work.make_model(seed), loaders, family)
    if not report.workload:
        report.workload = _workload_info(work, family, s)
    picks, info = _step(steps, range_test_step(seed), lambda: _range_test(work, s, opts),
                        save_range_test, load_range_test)
    report.range_tests.append(info)
    first = seed == opts.seeds[0]
    for b in opts.budgets:
        for alt in alts:
            def one(alt: Alternative = alt, b: int = b) -> tuple[RunRecord, list[float]]:
                record, curve = _run(work, alt, picks[b], b, s, opts, info["time_s"])
                return record, _thin(curve)

            name = run_step(seed, b, alt.name)
            record, curve = _step(steps, name, one, save_run, load_run)
            report.runs.append(record)
            if first:
                report.lr_curves.setdefault(alt.name, {})[str(b)] = curve
            bar.update(1)
            again = " (finished before)" if steps is not None and name in steps.reused else ""
            bar.note(f"seed {seed}, {epochs_text(b)}, {alt.label}: "
                     f"{work.task.show(record.headline)}{again}")
