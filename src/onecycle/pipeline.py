"""``onecycle run`` as a library function: :func:`run` (config in, results out).

The recipe (Smith, 2018, "A disciplined approach to neural network hyper-parameters"),
each step one function of :mod:`onecycle.search.steps`, the same ones
:func:`onecycle.search.recipe` chains:

1. **LR range test** at the configured weight decay: the LR grows exponentially while the
   loss is recorded; the peak LR of the cycle is read from the curve
   (:func:`onecycle.finder.choose_max_lr`).
2. **Weight decay** (:func:`onecycle.search.choose_weight_decay`): one range test per
   weight decay of a short grid, all from the same initial weights and batches; the
   largest weight decay whose curve still reaches the best loss at a high LR is an upper
   bound, and short 1cycle runs (a quarter of the budget) of it and the smaller values
   decide. max_lr is then read again from the chosen weight decay's curve.
3. **1cycle training** with cyclical momentum for ``epochs`` epochs.
4. **Baseline**: the same model, from the same initial weights, trained for the same
   number of epochs at a constant LR: the range test's ``minimum`` suggestion (the LR at
   the loss minimum / 10, the usual rule of thumb for a fixed LR), or ``max_lr / 10``
   when the range test did not run, or ``baseline.lr`` when given. Momentum is held at
   ``optimizer.momentum``.
5. **Report**: ``report.html`` (self-contained), ``summary.json``, plots, histories and
   the resolved ``config.toml`` (:mod:`onecycle.report`).

Example:
    >>> from onecycle.config import RunConfig
    >>> cfg = RunConfig.from_dict({"epochs": 1, "out": "/tmp/oc-doc-run", "quiet": True,
    ...     "finder": {"num_iter": 20}, "weight_decay": {"check": False}})
    >>> result = run(cfg)  # doctest: +SKIP
    >>> result.report.name  # doctest: +SKIP
    'report.html'
"""

from __future__ import annotations

import math
import os
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._format import fmt_lr
from ._threads import torch_threads
from .config import RunConfig

__all__ = [
    "OutputDirError",
    "RunResult",
    "Setup",
    "auto_threads",
    "ensure_writable_dir",
    "finder_options",
    "make_optimizer",
    "prepare",
    "run",
    "schedule_options",
    "step_store",
    "torch_threads",
]

Logger = Callable[[str], None]


class OutputDirError(OSError):
    """The output directory cannot be created or written to.

    >>> isinstance(OutputDirError("x"), OSError)
    True
    """


def _quiet_log(_: str) -> None:
    return None


def ensure_writable_dir(path: str | os.PathLike[str]) -> Path:
    """Create ``path`` (with parents) and check that a file can be written there.

    Raises :class:`OutputDirError` (an ``OSError``) with a one-line reason otherwise.
    Called before any training starts, so a typo in ``--out`` fails in a second.

    >>> import tempfile
    >>> ensure_writable_dir(tempfile.mkdtemp() + "/a/b").name
    'b'
    """
    from ._io import WriteError, check_writable_dir

    p = Path(path).expanduser()
    try:
        return check_writable_dir(p)
    except WriteError as err:
        cause = err.__cause__
        reason = getattr(cause, "strerror", None) or str(cause or err)
        raise OutputDirError(f"cannot write to output directory '{p}': {reason}") from None


# ---------------------------------------------------------------------------
# from a configuration to the objects the steps work on


def make_optimizer(params: Iterable[Any], cfg: RunConfig, lr: float, weight_decay: float) -> Any:
    """The optimizer named by ``cfg.optimizer`` (:meth:`OptimizerConfig.build
    <onecycle.config.OptimizerConfig.build>`, the one place it is built).

    >>> import torch
    >>> opt = make_optimizer(torch.nn.Linear(2, 2).parameters(), RunConfig(), 0.1, 1e-4)
    >>> type(opt).__name__, opt.param_groups[0]["momentum"]
    ('SGD', 0.9)
    """
    return cfg.optimizer.build(params, lr, weight_decay)


class _ConfigOptimizer:
    """``make_optimizer(model)`` for the steps: ``cfg.optimizer`` at the range test's start
    LR (the schedules set the LR from there) and the configured weight decay (each step
    sets its own). Picklable, so trials can run in worker processes."""

    def __init__(self, cfg: RunConfig) -> None:
        self.optimizer = cfg.optimizer
        self.lr = cfg.finder.start_lr
        self.weight_decay = cfg.weight_decay.value

    def __call__(self, model: Any) -> Any:
        return self.optimizer.build(model.parameters(), self.lr, self.weight_decay)


def schedule_options(cfg: RunConfig) -> dict[str, Any]:
    """``fit_one_cycle`` keyword options from ``cfg.schedule`` (unset keys left out).

    >>> schedule_options(RunConfig())
    {'style': 'smith', 'momentum': (0.95, 0.85)}
    """
    s = cfg.schedule
    opts: dict[str, Any] = {"style": s.style}
    for k in ("div", "final_div", "pct_start", "annihilate"):
        v = getattr(s, k)
        if v is not None:
            opts[k] = v
    opts["momentum"] = tuple(s.momentum) if s.cycle_momentum else None
    return opts


def finder_options(cfg: RunConfig, steps_per_epoch: int | None = None) -> Any:
    """The range-test settings of ``cfg.finder`` as :class:`onecycle.search.SearchOptions`;
    with ``steps_per_epoch``, picks are read for the configured cycle (``cfg.epochs`` of
    them, in ``cfg.schedule.style``: :func:`onecycle.finder.choose_max_lr`'s budget).

    >>> finder_options(RunConfig()).num_iter, finder_options(RunConfig(), 21).budget
    (100, 168)
    """
    from .search import SearchOptions

    f = cfg.finder
    budget = None if steps_per_epoch is None else cfg.epochs * steps_per_epoch
    return SearchOptions(num_iter=f.num_iter, start_lr=f.start_lr, end_lr=f.end_lr,
                         method=f.method, lr_find_kw={"mode": f.mode}, budget=budget,
                         budget_style=cfg.schedule.style)


@dataclass
class Setup:
    """Everything the steps share: data, loaders, a model with its initial weights, and
    the task (:func:`onecycle.tasks.task_for`: loss, step, metrics, headline).

    ``model`` keeps the initial weights (every step trains a copy), so every range test
    and both trainings start from the same point; the loaders replay the same batch
    order (each step puts the training loader back at its first epoch). ``loss_fn`` is
    the task's (None when the model computes its own loss through ``task.step_fn``).
    """

    config: RunConfig
    bundle: Any
    device: Any
    model: Any
    loss_fn: Callable[..., Any] | None
    model_name: str
    parameters: int
    loaders: tuple[Any, Any, Any]
    task: Any = None

    def __post_init__(self) -> None:
        if self.task is None:
            from .tasks import task_for

            self.task = task_for(self.bundle)

    def optimizer_factory(self) -> Callable[[Any], Any]:
        """``make_optimizer(model)``: the configured optimizer at the range test's start
        LR and the configured weight decay (every step sets its own LR and weight decay).
        """
        return _ConfigOptimizer(self.config)

    def metrics(self) -> dict[str, Any] | None:
        """The task's metrics for the Trainer (None when it has none)."""
        return dict(self.task.metrics) or None

    def problem(self, progress: Any = None) -> Any:
        """The :class:`onecycle.search.Problem` the steps run on: the task's loss, step
        and metrics."""
        from .search import Problem

        cfg = self.config
        train, val, test = self.loaders
        return Problem(self.model, self.optimizer_factory(), self.loss_fn, train, val, test,
                       seed=cfg.seed, metrics=self.metrics(), grad_clip=cfg.grad_clip,
                       progress=(False if cfg.quiet else None) if progress is None else progress,
                       step_fn=self.task.step_fn)

    def describe(self) -> str:
        """One line for the log: the data, the task and the model."""
        b, t = self.bundle, self.task
        chance = "" if t.chance is None else f"; chance {t.label} {t.show(t.chance)}"
        return (f"data: {b.name} (train {len(b.train)}, val {len(b.val)}, test {len(b.test)}, "
                f"input {tuple(b.input_shape)}, {t.outputs_text(b.num_classes)}); task: "
                f"{t.name.replace('_', ' ')}, loss {t.loss_name}{chance}; model: "
                f"{self.model_name} ({self.parameters:,} parameters) on {self.device}")


def _allowed(allow_imports: bool | Iterable[str], key: str) -> bool:
    if isinstance(allow_imports, bool):
        return allow_imports
    return key in set(allow_imports)


def prepare(cfg: RunConfig, *, allow_imports: bool | Iterable[str] = True) -> Setup:
    """Load the data, build the model (seeded), build the loaders.

    ``allow_imports``: whether ``dataset`` / ``model`` may be ``package.module:function``
    import specs (importing runs code); True, False, or the keys that may
    (``{"model"}``). With ``cfg.threads`` unset, small CPU workloads are switched to one
    torch thread (:func:`auto_threads`); wrap the call in :class:`torch_threads` to
    restore it.

    >>> s = prepare(RunConfig.from_dict({"model": "mlp"}))
    >>> s.bundle.name, s.parameters > 0
    ('digits', True)
    """
    import torch

    from . import data, models
    from .step import resolve_device
    from .tasks import task_for
    from .train import seed_everything

    seed_everything(cfg.seed)
    bundle = data.resolve(cfg.dataset, val_fraction=cfg.val_fraction, seed=cfg.seed,
                          allow_imports=_allowed(allow_imports, "dataset"), **cfg.data_options)
    if len(bundle.train) == 0:
        raise ValueError(f"dataset {cfg.dataset!r} has an empty training split")
    auto = "cuda" if torch.cuda.is_available() else "cpu"
    device = resolve_device(auto if cfg.device is None else cfg.device)
    torch.manual_seed(cfg.seed)
    model = models.resolve(cfg.model, bundle.input_shape, bundle.num_classes,
                           allow_imports=_allowed(allow_imports, "model"),
                           **cfg.model_options).to(device)
    n = models.count_parameters(model)
    if cfg.threads is None:
        threads = auto_threads(n, bundle.input_shape, device)
        if threads is not None:
            torch.set_num_threads(threads)
    loaders = bundle.loaders(cfg.batch_size, seed=cfg.seed, device=device)
    task = task_for(bundle)
    return Setup(cfg, bundle, device, model, task.loss_fn, cfg.model, n, loaders, task)


def auto_threads(parameters: int, input_shape: Sequence[int], device: Any) -> int | None:
    """1 thread for small CPU workloads (< 1M parameters, <= 1024 input values), where
    intra-op threading only adds overhead and suffers badly on shared cores; else None
    (torch's default).

    >>> auto_threads(50_000, (1, 8, 8), "cpu"), auto_threads(5_000_000, (3, 32, 32), "cpu")
    (1, None)
    """
    if str(device).startswith("cpu") and parameters < 1_000_000 and math.prod(input_shape) <= 1024:
        return 1
    return None


# ---------------------------------------------------------------------------
# the run


@dataclass
class RunResult:
    """What :func:`run` produced: paths, the summary, histories and the main results."""

    out_dir: Path
    report: Path
    summary: dict[str, Any]
    config: RunConfig
    max_lr: float
    weight_decay: float
    history: Any
    baseline: Any | None = None
    finder: Any | None = None
    wd_check: Any | None = None
    files: list[str] = field(default_factory=list)
    task: Any = None

    @property
    def final(self) -> dict[str, Any]:
        """Final numbers of the 1cycle run (``val_loss``, ``val_headline``,
        ``test_headline``, ``val_accuracy`` for classification, ...)."""
        return dict(self.summary["runs"]["1cycle"]["final"])


@contextmanager
def _warnings_as_notes(notes: list[str]) -> Iterator[None]:
    """Warnings raised during the run become notes of the report (once each)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for w in caught:
        msg = str(w.message).splitlines()[0] if str(w.message) else w.category.__name__
        if msg not in notes and issubclass(w.category, (RuntimeWarning, UserWarning)):
            notes.append(msg)


def run(
    config: RunConfig | Mapping[str, Any] | None = None,
    *,
    log: Logger | None = None,
    command: str | None = None,
    allow_imports: bool | Iterable[str] = True,
    resume: bool = False,
) -> RunResult:
    """Run the whole recipe and write the report; see the module documentation.

    Args:
        config: a :class:`~onecycle.config.RunConfig` (or a dict for
            ``RunConfig.from_dict``; ``None``: all defaults).
        log: called with one line per step (``print`` for a console); None: silent.
            Progress follows ``config.quiet`` (see :mod:`onecycle.progress`).
        command: the command line shown in the report to reproduce the run.
        allow_imports: may ``dataset`` / ``model`` be import specs (see :func:`prepare`).
        resume: continue an interrupted run in ``config.out``: every step is saved in
            ``<out>/steps`` as it finishes (:class:`onecycle.search.store.StepStore`);
            finished steps are read back, a training continues from its checkpoint.

    Returns:
        :class:`RunResult`; ``result.report`` is the path of ``report.html``.

    Raises:
        OutputDirError: ``config.out`` cannot be written (checked before any work).
        ValueError, TypeError: bad dataset/model specification, no usable LR, ...
        onecycle.data.DatasetUnavailable: the dataset's source is not installed.
    """
    from .report.summary import RunFacts, write_run
    from .search import CyclePlan
    from .search.steps import describe_cycle

    cfg = config if isinstance(config, RunConfig) else RunConfig.from_dict(config or {})
    out = ensure_writable_dir(cfg.out)
    say = log or _quiet_log
    notes: list[str] = []
    t0 = time.perf_counter()
    with torch_threads(cfg.threads), _warnings_as_notes(notes):
        setup = prepare(cfg, allow_imports=allow_imports)
        run_ = _Run(setup, setup.problem(), step_store(out, cfg, "run", resume), say)
        say(setup.describe())
        first = _range_test(run_)                                     # 1. LR range test
        choice = _weight_decay(run_, first)                           # 2. weight decay
        wd = cfg.weight_decay.value if choice is None else choice.value
        max_lr, curve = _max_lr(cfg, first, choice, notes)           # from the chosen curve
        say(f"      {_describe_max_lr(max_lr)}")
        plan = CyclePlan(cfg.epochs, max_lr["value"], wd, schedule_options(cfg))
        say(f"[3/5] 1cycle: {describe_cycle(plan)}")
        cycle = _train(run_, "1cycle", plan)                          # 3. 1cycle
        baseline, rule = _baseline(run_, curve, plan)                 # 4. baseline
        say(f"[5/5] report -> {out / 'report.html'}")
        facts = RunFacts(cfg, setup, first, wd, choice, max_lr, curve, plan, cycle, baseline,
                         rule, notes, command or "onecycle run --config config.toml", t0)
        report, summary, files = write_run(out, facts)                # 5. report
    return RunResult(out, report, summary, cfg, plan.max_lr, wd, cycle.history,
                     baseline.history if baseline else None, curve, choice, files, setup.task)


@dataclass
class _Run:
    """What the steps of one run share: the setup, the problem, the finished steps, the log."""

    setup: Setup
    problem: Any
    store: Any
    say: Logger

    def reused(self, name: str) -> bool:
        """Whether the step ``name`` was read back from an interrupted run."""
        return name in self.store.reused


def step_store(out: Path, cfg: RunConfig, command: str, resume: bool) -> Any:
    """The :class:`~onecycle.search.store.StepStore` of a ``command`` (``"run"``,
    ``"fit"``) writing into ``out``: ``<out>/steps``, for these settings (the output
    folder, the name and ``quiet`` do not change results).

    >>> import tempfile
    >>> step_store(Path(tempfile.mkdtemp()), RunConfig(), "run", False).root.name
    'steps'
    """
    from .search.store import StepStore

    fingerprint = {"command": command, **cfg.to_dict()}
    for key in ("out", "name", "quiet"):
        fingerprint.pop(key, None)
    return StepStore(out / "steps", fingerprint, resume=resume)


def _train(run_: _Run, kind: str, plan: Any, lr: float | None = None) -> Any:
    """The 1cycle (``plan``) or the baseline (constant ``lr``) as a resumable step."""
    from .search import TrainedRun, train_constant, train_cycle

    store = run_.store
    kw = {"checkpoint_dir": store.checkpoint_dir(kind), "resume": store.resume}
    if kind == "1cycle":
        def compute() -> Any:
            return train_cycle(run_.problem, plan, **kw)
    else:
        def compute() -> Any:
            return train_constant(run_.problem, plan.epochs, lr, plan.weight_decay, **kw)
    result = store.step(kind, compute, TrainedRun.state, TrainedRun.from_state)
    done = " (finished before: read from steps/)" if run_.reused(kind) else ""
    run_.say(f"      {run_.setup.task.scores(result.final)} ({result.wall_time:.1f} s){done}")
    return result


# ---------------------------------------------------------------------------
# the steps as the run tells them


def _steps(run_: _Run) -> int:
    """Optimizer steps of an epoch of the run's training data."""
    return len(run_.setup.loaders[0])


def _range_test(run_: _Run) -> Any:
    from .search import RangeTest, range_test

    cfg, say = run_.setup.config, run_.say
    f, wd = cfg.finder, cfg.weight_decay.value
    if cfg.schedule.max_lr is not None:
        say(f"[1/5] LR range test skipped: max_lr {fmt_lr(cfg.schedule.max_lr)} given")
        return None
    say(f"[1/5] LR range test: {fmt_lr(f.start_lr)} -> {fmt_lr(f.end_lr)} over {f.num_iter} "
        f"iterations (weight decay {fmt_lr(wd)})")
    first = run_.store.step(
        "range_test", lambda: range_test(run_.problem, finder_options(cfg, _steps(run_)),
                                         weight_decay=wd),
        RangeTest.state, RangeTest.from_state)
    done = " (finished before: read from steps/)" if run_.reused("range_test") else ""
    say(f"      first pick: max_lr {fmt_lr(first.max_lr)}{done}" if first.max_lr is not None
        else f"      no pick: {first.suggestion.reason}")
    return first


def _weight_decay(run_: _Run, first: Any) -> Any:
    """Range tests per weight decay in the early window around the first test's max_lr
    (:func:`onecycle.search.weight_decay.early_window`), confirmed by short 1cycle runs
    with ``weight_decay.confirm``."""
    from .search import WeightDecayChoice, weight_decay_step
    from .search.rules import default_confirm_epochs
    from .search.weight_decay import early_window

    cfg, say = run_.setup.config, run_.say
    if not cfg.weight_decay.check:
        say(f"[2/5] weight-decay search skipped: weight decay {fmt_lr(cfg.weight_decay.value)}")
        return None
    grid = sorted(set(cfg.weight_decay.grid), reverse=True)
    epochs = default_confirm_epochs(cfg.epochs) if cfg.weight_decay.confirm else None
    around = cfg.schedule.max_lr if first is None or first.max_lr is None else first.max_lr
    window = (early_window(around, finder_options(cfg, _steps(run_))) if around is not None
              else None)
    say(f"[2/5] weight decay: range tests at {', '.join(fmt_lr(v) for v in grid)}"
        + (f", LR {fmt_lr(window.start_lr)} -> {fmt_lr(window.end_lr)}" if window else "")
        + (f", then {epochs}-epoch 1cycle runs at and below their bound" if epochs else ""))

    def compute() -> Any:
        return weight_decay_step(run_.problem, grid, first=first if window is None else None,
                                 max_lr=around, confirm_epochs=epochs,
                                 schedule=schedule_options(cfg), validate_sweeps=False,
                                 options=window or finder_options(cfg, _steps(run_)))

    choice = run_.store.step("weight_decay", compute, WeightDecayChoice.to_dict,
                             WeightDecayChoice.from_dict)
    done = " (finished before: read from steps/)" if run_.reused("weight_decay") else ""
    say(f"      weight decay {fmt_lr(choice.value)}: {choice.how}{done}")
    return choice


def _max_lr(cfg: RunConfig, first: Any, choice: Any, notes: list[str]) -> tuple[dict, Any]:
    """The peak LR: given, or read from the chosen weight decay's curve (the first range
    test's when that curve has no pick); with the curve the report shows."""
    curve = first.curve if first is not None else None
    if cfg.schedule.max_lr is not None:
        return {"value": cfg.schedule.max_lr, "source": "given",
                "how": "Given by the configuration (schedule.max_lr or --max-lr)."}, (
            choice.curve if choice is not None else curve)
    pick, wd, value = first.suggestion, first.weight_decay, first.max_lr
    how = f"Read from the range test at weight decay {fmt_lr(wd)}."
    if choice is not None and first.max_lr is not None:
        # the weight-decay tests swept only a window around this pick: it stands
        return _max_lr_info(value, pick, wd, how, notes), curve
    if choice is not None:
        curve = choice.curve
        if choice.max_lr is not None:
            pick, wd, value = choice.suggestion, choice.value, choice.max_lr
            how = f"Read from the range test at the chosen weight decay {fmt_lr(wd)}."
        elif first.max_lr is not None:
            curve = first.curve
            how = (f"Read from the first range test (weight decay {fmt_lr(wd)}): the curve at "
                   f"the chosen weight decay {fmt_lr(choice.value)} gave no pick.")
            notes.append(how)
    if value is None:
        raise ValueError(f"the LR range test found no usable learning rate ({pick.reason}); "
                         "look at the finder plot and pass --max-lr")
    return _max_lr_info(value, pick, wd, how, notes), curve


def _max_lr_info(value: float, pick: Any, wd: Any, how: str, notes: list[str]) -> dict:
    info = {"value": float(value), "low": pick.low, "high": pick.high,
            "confidence": pick.confidence, "method": pick.method, "reason": pick.reason,
            "source": "finder", "weight_decay": wd, "how": how}
    if pick.confidence is not None and pick.confidence < 0.5:
        notes.append(f"Low confidence ({pick.confidence:.2f}) in the max_lr read from the range "
                     "test: look at its plot before trusting the pick.")
    return info


def _describe_max_lr(info: dict[str, Any]) -> str:
    rng = ""
    if info.get("low") is not None and info.get("high") is not None:
        rng = f" (range {fmt_lr(info['low'])} - {fmt_lr(info['high'])}"
        rng += f", confidence {info['confidence']:.2f})" if info.get("confidence") is not None \
            else ")"
    return f"max_lr {fmt_lr(info['value'])}{rng}: {info['how']}"


def _baseline(run_: _Run, curve: Any, plan: Any) -> tuple[Any, str | None]:
    cfg = run_.setup.config
    if not cfg.baseline.enabled:
        run_.say("[4/5] baseline skipped")
        return None, None
    minimum = curve.suggest("minimum").lr if curve is not None else None
    if cfg.baseline.lr is not None:
        lr, rule = cfg.baseline.lr, "given by the configuration (baseline.lr)"
    elif minimum is not None:
        lr = float(minimum)
        rule = ("the range test's 'minimum' suggestion: the LR at the smoothed loss "
                "minimum / 10, the usual rule of thumb for a fixed LR")
    else:
        lr, rule = plan.max_lr / 10.0, "max_lr / 10 (the range test did not run)"
    run_.say(f"[4/5] baseline: constant LR {fmt_lr(lr)}, momentum {cfg.optimizer.momentum:g}, "
             f"the same {cfg.epochs} epoch{'' if cfg.epochs == 1 else 's'}")
    return _train(run_, "baseline", plan, lr), rule
