"""The recipe as steps: each one a function that can be called alone and returns a small
dataclass. :func:`onecycle.search.recipe` and ``onecycle run`` (:func:`onecycle.pipeline.run`)
are both these steps in a row::

    problem = Problem(model, make_optimizer, loss_fn, train_loader, val_loader, test_loader)
    first = range_test(problem)                               # RangeTest: curve, max_lr
    wd = weight_decay_step(problem, grid, first=first)        # WeightDecayChoice
    pair = momentum_step(problem, first.max_lr, wd.value)     # MomentumResult (optional)
    run = train_cycle(problem, CyclePlan(epochs, wd.max_lr or first.max_lr, wd.value))
    base = train_constant(problem, epochs, lr, wd.value)      # TrainedRun

Every step starts from the problem's initial weights (a copy: ``problem.model`` is never
trained) with the same seed and the same data order, so the steps compare like with
like and each can be rerun alone with the same result.

Example:
    >>> import torch
    >>> x = torch.randn(64, 4); y = (x[:, 0] > 0).long()
    >>> data = [(x[i:i + 16], y[i:i + 16]) for i in range(0, 64, 16)]
    >>> problem = Problem(torch.nn.Linear(4, 2),
    ...             lambda m: torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9),
    ...             torch.nn.functional.cross_entropy, data, data, progress=False)
    >>> run = train_cycle(problem, CyclePlan(epochs=1, max_lr=0.1))
    >>> len(run.history), run.kind
    (1, '1cycle')
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .._format import fmt_lr
from .factories import WithWeightDecay, build_optimizer
from .options import SearchOptions

__all__ = [
    "Problem",
    "RangeTest",
    "CyclePlan",
    "TrainedRun",
    "range_test",
    "weight_decay_step",
    "momentum_step",
    "train_cycle",
    "train_constant",
]


@dataclass
class Problem:
    """What every step shares.

    Attributes:
        model: the initial model (every step works on a copy; it is never trained).
        make_optimizer: ``make_optimizer(model) -> Optimizer`` (an optimizer class or a
            ``functools.partial`` of one works too); its momentum is the constant
            momentum of the range tests and of the baseline.
        loss_fn: ``loss_fn(outputs, targets) -> scalar`` (None with ``step_fn``).
        train_loader, val_loader, test_loader: loaders of ``(x, y)`` batches, or of any
            batches ``step_fn`` reads (the last two optional).
        seed: the seed of every step; metrics, grad_clip: for the Trainer.
        workers: processes for the trials of the searches; progress: see
            :mod:`onecycle.progress`.
        step_fn: ``step_fn(model, batch) -> loss`` of every range test and training
            (the task's, :attr:`onecycle.tasks.Task.step_fn`; picklable for workers);
            None: the default step over ``loss_fn``.
    """

    model: Any
    make_optimizer: Callable[[Any], Any]
    loss_fn: Callable[..., Any] | None
    train_loader: Any
    val_loader: Any = None
    test_loader: Any = None
    seed: int = 0
    metrics: Any = None
    grad_clip: float | str | None = None
    workers: int = 1
    progress: Any = None
    step_fn: Any = None

    def options(self, given: SearchOptions | None = None, **changes: Any) -> SearchOptions:
        """``given`` (or the defaults) with the problem's seed, metrics, clipping, workers,
        progress and step, and ``changes``."""
        import dataclasses

        base = given if given is not None else SearchOptions()
        return dataclasses.replace(base, seed=self.seed, metrics=self.metrics,
                                   grad_clip=self.grad_clip, workers=self.workers,
                                   progress=self.progress, step_fn=self.step_fn, **changes)

    def trainer(self, model: Any, optimizer: Any, *, progress: Any = None, **kw: Any) -> Any:
        """A :class:`~onecycle.train.Trainer` for ``model`` with the problem's data."""
        from ..step import model_device
        from ..train import Trainer

        return Trainer(model, self.loss_fn, optimizer, self.train_loader, self.val_loader,
                       metrics=self.metrics, grad_clip=self.grad_clip,
                       device=model_device(model), seed=self.seed, step_fn=self.step_fn,
                       progress=self.progress if progress is None else progress, **kw)


# ----------------------------------------------------------------------------- range test


@dataclass
class RangeTest:
    """One LR range test from the problem's initial weights.

    ``max_lr`` is the pick of :func:`onecycle.finder.choose_max_lr` (None when the curve
    has none; ``suggestion`` then says why), at weight decay ``weight_decay`` (None:
    the optimizer's own).
    """

    curve: Any
    suggestion: Any
    max_lr: float | None
    weight_decay: float | None
    settings: dict[str, Any]
    wall_time: float

    def to_dict(self) -> dict[str, Any]:
        """What the summary records (the curve itself is saved on its own)."""
        return {"ran": True, **self.settings, "iterations_run": len(self.curve.lrs),
                "stop_reason": self.curve.stop_reason, "weight_decay": self.weight_decay,
                "suggestion": self.suggestion.to_dict(), "max_lr": self.max_lr,
                "wall_time": self.wall_time}

    def state(self) -> dict[str, Any]:
        """Everything, curve included, as JSON-ready data (:meth:`from_state` reads it)."""
        return {**self.to_dict(), "curve": self.curve.to_dict()}

    @classmethod
    def from_state(cls, d: Mapping[str, Any]) -> RangeTest:
        """Inverse of :meth:`state`.

        >>> import numpy as np
        >>> from onecycle.finder import LRFinderResult, Suggestion
        >>> c = LRFinderResult(np.array([0.1, 1.0]), np.array([1.0, 0.5]), np.array([1.0, 0.7]))
        >>> t = RangeTest(c, Suggestion(0.1), 0.1, None, {"num_iter": 2}, 0.5)
        >>> RangeTest.from_state(t.state()).max_lr
        0.1
        """
        from ..finder import LRFinderResult, Suggestion

        settings = {k: d[k] for k in ("start_lr", "end_lr", "num_iter") if k in d}
        return cls(LRFinderResult.from_dict(d["curve"]), Suggestion.from_dict(d["suggestion"]),
                   d.get("max_lr"), d.get("weight_decay"), settings, float(d["wall_time"]))


def range_test(problem: Problem, options: SearchOptions | None = None, *,
               weight_decay: float | None = None, fallback: Sequence[str] = ()) -> RangeTest:
    """Run the LR range test (``options``: ``num_iter``, ``start_lr``, ``end_lr``,
    ``lr_find_kw``, ``method``) at ``weight_decay`` and read its ``max_lr`` (by
    ``method``, then the ``fallback`` methods).

    >>> import torch
    >>> data = [(torch.randn(16, 4), torch.randint(0, 2, (16,))) for _ in range(4)]
    >>> problem = Problem(torch.nn.Linear(4, 2), lambda m: torch.optim.SGD(m.parameters(), lr=0.1),
    ...             torch.nn.functional.cross_entropy, data)
    >>> len(range_test(problem, SearchOptions(num_iter=20)).curve.lrs) <= 20
    True
    """
    from ..finder import NoUsableLR
    from .setters import set_weight_decay
    from .trials import Trial, TrialContext, guarded, run_trials

    o = problem.options(options)
    setters = [] if weight_decay is None else [("weight_decay", set_weight_decay, weight_decay)]
    lr_kw = o.finder_options(False)
    p = problem
    ctx = TrialContext(p.model, p.make_optimizer, p.loss_fn, p.train_loader, seed=p.seed,
                       loader_epoch=getattr(p.train_loader, "epoch", None), step_fn=p.step_fn)
    t0 = time.perf_counter()
    with guarded(problem.train_loader):
        curve = run_trials(ctx, [Trial("finder", "max_lr", None, setters, lr_kw)],
                           progress=o.progress, desc="LR range test")[0]["curve"]
    try:
        pick = o.pick(curve, fallback=fallback)
        sug, max_lr = pick.suggestion, pick.lr
    except NoUsableLR as err:
        sug, max_lr = err.suggestion or curve.suggest(o.method), None
    settings = {k: lr_kw[k] for k in ("start_lr", "end_lr", "num_iter")}
    return RangeTest(curve, sug, max_lr, weight_decay, settings, time.perf_counter() - t0)


# ----------------------------------------------------------------------------- searches


def weight_decay_step(
    problem: Problem,
    grid: Sequence[float],
    *,
    first: RangeTest | None = None,
    max_lr: float | None = None,
    confirm_epochs: int | None = 1,
    schedule: Mapping[str, Any] | None = None,
    validate_sweeps: bool = True,
    refine: int = 0,
    options: SearchOptions | None = None,
) -> Any:
    """:func:`~onecycle.search.weight_decay.choose_weight_decay` on the problem: range
    tests over ``grid`` (``first`` reused when its weight decay is in it; ``refine``
    bisection rounds), then short 1cycle runs of ``confirm_epochs`` at ``max_lr``
    (default ``first.max_lr``) with ``schedule`` decide below the range tests' bound."""
    from .weight_decay import choose_weight_decay

    if max_lr is None and first is not None:
        max_lr = first.max_lr
    known = None
    if first is not None and first.weight_decay is not None:
        known = {first.weight_decay: first.curve}
    o = problem.options(options, max_lr=max_lr,
                     schedule=None if schedule is None else dict(schedule))
    p = problem
    return choose_weight_decay(p.model, p.make_optimizer, p.loss_fn, p.train_loader,
                               p.val_loader, grid=grid, confirm_epochs=confirm_epochs,
                               validate_sweeps=validate_sweeps, options=o, known=known,
                               refine=refine)


def momentum_step(
    problem: Problem,
    max_lr: float,
    weight_decay: float | None,
    *,
    pairs: Sequence[Any] | None = None,
    epochs: int = 1,
    schedule: Mapping[str, Any] | None = None,
    options: SearchOptions | None = None,
) -> Any:
    """:func:`~onecycle.search.momentum_search` on the problem at ``weight_decay``: short
    1cycle runs of ``epochs`` at ``max_lr``, one per momentum pair."""
    from .momentum import momentum_search

    o = problem.options(options, max_lr=max_lr, epochs=epochs,
                     schedule=None if schedule is None else dict(schedule))
    return momentum_search(problem.model, WithWeightDecay(problem.make_optimizer, weight_decay),
                           problem.loss_fn, problem.train_loader, problem.val_loader, pairs=pairs,
                           options=o)


# ----------------------------------------------------------------------------- training


@dataclass
class CyclePlan:
    """A 1cycle training: ``epochs`` at peak ``max_lr`` with ``weight_decay`` (None: the
    optimizer's) and ``schedule`` (``style``, ``momentum``, ``div``, ...: see
    :class:`onecycle.scheduler.OneCycle`)."""

    epochs: int
    max_lr: float
    weight_decay: float | None = None
    schedule: dict[str, Any] = field(default_factory=dict)


@dataclass
class TrainedRun:
    """A finished training: its history, the LR it used, its wall time and its scores
    on the test loader (empty without one)."""

    kind: str
    history: Any
    lr: float
    wall_time: float
    test: dict[str, float]

    def state(self) -> dict[str, Any]:
        """JSON-ready data (:meth:`from_state` reads it back)."""
        return {"kind": self.kind, "history": self.history.to_dict(), "lr": self.lr,
                "wall_time": self.wall_time, "test": dict(self.test)}

    @classmethod
    def from_state(cls, d: Mapping[str, Any]) -> TrainedRun:
        """Inverse of :meth:`state`.

        >>> from onecycle.train import History
        >>> r = TrainedRun("1cycle", History(), 0.1, 2.0, {"accuracy": 0.9})
        >>> TrainedRun.from_state(r.state()).test
        {'accuracy': 0.9}
        """
        from ..train import History

        return cls(str(d["kind"]), History.from_dict(d["history"]), float(d["lr"]),
                   float(d["wall_time"]), {str(k): float(v) for k, v in d["test"].items()})

    @property
    def final(self) -> dict[str, Any]:
        """The last epoch's losses and accuracy, and the test scores."""
        last = self.history.records[-1] if self.history.records else {}
        out = {k: last.get(k) for k in ("train_loss", "val_loss", "val_accuracy")}
        out["test_loss"] = self.test.get("loss")
        out["test_accuracy"] = self.test.get("accuracy")
        return out

    @property
    def best(self) -> dict[str, Any]:
        """The best validation accuracy and loss over the epochs."""
        def finite(key: str) -> list[float]:
            return [float(r[key]) for r in self.history.records
                    if isinstance(r.get(key), float) and math.isfinite(r[key])]

        accs, losses = finite("val_accuracy"), finite("val_loss")
        return {"val_accuracy": max(accs) if accs else None,
                "val_loss": min(losses) if losses else None}

    @property
    def diverged(self) -> str | None:
        """The divergence guard's message when it stopped the run, else None."""
        d = self.history.meta.get("diverged")
        if not d:
            return None
        return str(d.get("message", "")) if isinstance(d, dict) else str(d)


def _trainer(problem: Problem, weight_decay: float | None, trainer_kw: Mapping[str, Any]) -> Any:
    """A Trainer on a fresh copy of the initial model, its optimizer at ``weight_decay``,
    the training loader back at its first epoch."""
    import copy

    from .setters import set_weight_decay

    model = copy.deepcopy(problem.model)
    opt = build_optimizer(problem.make_optimizer, model)
    if weight_decay is not None:
        set_weight_decay(model, opt, weight_decay)
    if hasattr(problem.train_loader, "set_epoch"):
        problem.train_loader.set_epoch(0)
    return problem.trainer(model, opt, **trainer_kw)


def _finished(problem: Problem, trainer: Any, kind: str, hist: Any, lr: float,
              t0: float) -> TrainedRun:
    wall = time.perf_counter() - t0
    test = trainer.evaluate(problem.test_loader) if problem.test_loader is not None else {}
    return TrainedRun(kind, hist, lr, wall, test)


def train_cycle(problem: Problem, plan: CyclePlan, *, resume: bool = False,
                **trainer_kw: Any) -> TrainedRun:
    """Train a copy of the problem's model with the 1cycle policy
    (``Trainer.fit_one_cycle``); ``trainer_kw`` go to the
    :class:`~onecycle.train.Trainer` (``checkpoint_dir``, ...); ``resume`` continues
    from ``checkpoint_dir``'s last checkpoint when there is one.

    >>> # train_cycle(problem, CyclePlan(epochs=5, max_lr=0.1)).final["val_accuracy"]
    """
    trainer = _trainer(problem, plan.weight_decay, trainer_kw)
    t0 = time.perf_counter()
    hist = trainer.fit_one_cycle(plan.epochs, plan.max_lr, resume=resume, **plan.schedule)
    return _finished(problem, trainer, "1cycle", hist, plan.max_lr, t0)


def train_constant(problem: Problem, epochs: int, lr: float, weight_decay: float | None = None,
                   *, resume: bool = False, **trainer_kw: Any) -> TrainedRun:
    """Train a copy of the problem's model at the constant ``lr`` (``Trainer.fit``), its
    momentum as the optimizer has it: the baseline.

    >>> import torch
    >>> data = [(torch.randn(16, 4), torch.randint(0, 2, (16,))) for _ in range(2)]
    >>> problem = Problem(torch.nn.Linear(4, 2), lambda m: torch.optim.SGD(m.parameters(), lr=0.1),
    ...                   torch.nn.functional.cross_entropy, data, progress=False)
    >>> train_constant(problem, 1, 0.01).lr
    0.01
    """
    trainer = _trainer(problem, weight_decay, trainer_kw)
    t0 = time.perf_counter()
    hist = trainer.fit(epochs, lr=lr, resume=resume)
    return _finished(problem, trainer, "baseline", hist, lr, t0)


def describe_cycle(plan: CyclePlan) -> str:
    """One line for a log: the cycle's length, peak LR, momentum and weight decay.

    >>> describe_cycle(CyclePlan(8, 0.0377, 0.0, {"momentum": (0.95, 0.85)}))
    '8 epochs, max_lr 0.0377, momentum 0.95-0.85, weight decay 0'
    """
    mom = plan.schedule.get("momentum", "style default")
    mom_txt = ("not cycled" if mom is None else
               "-".join(f"{m:g}" for m in mom) if isinstance(mom, (tuple, list)) else str(mom))
    wd = "as the optimizer has it" if plan.weight_decay is None else fmt_lr(plan.weight_decay)
    return (f"{plan.epochs} epoch{'' if plan.epochs == 1 else 's'}, max_lr "
            f"{fmt_lr(plan.max_lr)}, momentum {mom_txt}, "
            f"weight decay {wd}")
