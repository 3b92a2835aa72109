"""The ``onecycle run`` recipe as a library function: :func:`run` (config in, results out).

The recipe (Smith, 2018, "A disciplined approach to neural network hyper-parameters"):

1. **LR range test** at the configured weight decay: the LR grows exponentially while the
   loss is recorded; the peak LR of the cycle is taken where the loss still falls
   steeply (the ``auto`` suggestion, with a range and a confidence).
2. **Weight-decay check** (:func:`weight_decay_check`): one range test per weight decay
   of a short grid, all from the same initial weights and the same batches, overlaid;
   the largest weight decay whose curve still reaches the best loss (within its noise)
   at a high LR wins, and max_lr is re-read from its curve.
3. **1cycle training** with cyclical momentum for ``epochs`` epochs.
4. **Baseline**: the same model, from the same initial weights, trained for the same
   number of epochs at a constant LR: the range test's ``minimum`` suggestion (the LR at
   the loss minimum / 10, the usual rule of thumb for a fixed LR), or ``max_lr / 10``
   when the range test did not run, or ``baseline.lr`` when given. Momentum is held at
   ``optimizer.momentum``.
5. **Report**: ``report.html`` (self-contained), ``summary.json``, plots, histories and
   the resolved ``config.toml``.

Example:
    >>> from onecycle.config import RunConfig
    >>> cfg = RunConfig.from_dict({"epochs": 1, "out": "/tmp/oc-doc-run", "quiet": True,
    ...     "finder": {"num_iter": 20}, "weight_decay": {"check": False}})
    >>> result = run(cfg)  # doctest: +SKIP
    >>> result.report.name  # doctest: +SKIP
    'report.html'
"""

from __future__ import annotations

import copy
import datetime as _dt
import importlib
import math
import os
import platform
import re
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import RunConfig

__all__ = [
    "DEFAULT_WD_GRID",
    "OutputDirError",
    "RunResult",
    "Setup",
    "WeightDecayCheck",
    "comparison_figure",
    "ensure_writable_dir",
    "find_lr",
    "make_optimizer",
    "prepare",
    "resolve_model",
    "run",
    "weight_decay_check",
]

#: The weight decays tried by :func:`weight_decay_check` by default.
DEFAULT_WD_GRID: tuple[float, ...] = (1e-2, 1e-3, 1e-4, 0.0)

Logger = Callable[[str], None]


class OutputDirError(OSError):
    """The output directory cannot be created or written to.

    >>> isinstance(OutputDirError("x"), OSError)
    True
    """


def _quiet_log(_: str) -> None:
    return None


# ---------------------------------------------------------------------------
# output directory


def ensure_writable_dir(path: str | os.PathLike[str]) -> Path:
    """Create ``path`` (with parents) and check that a file can be written there.

    Raises :class:`OutputDirError` (an ``OSError``) with a one-line reason otherwise.
    Called before any training starts, so a typo in ``--out`` fails in a second.

    >>> import tempfile
    >>> ensure_writable_dir(tempfile.mkdtemp() + "/a/b").name
    'b'
    """
    p = Path(path).expanduser()
    try:
        p.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".onecycle-write-test-", dir=p)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        reason = err.strerror or str(err)
        raise OutputDirError(f"cannot write to output directory '{p}': {reason}") from None
    return p


# ---------------------------------------------------------------------------
# models, optimizers, data

_IMPORT_SPEC = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


def _import_object(spec: str, what: str) -> Any:
    module_name, attr = spec.split(":", 1)
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as err:
        raise ValueError(f"{what} {spec!r}: cannot import module {module_name!r} ({err})") from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ValueError(f"{what} {spec!r}: module {module_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise ValueError(f"{what} {spec!r}: {attr!r} is not callable")
    return obj


def resolve_model(
    spec: str | Callable[..., Any],
    input_shape: Sequence[int],
    num_classes: int,
    **options: Any,
) -> Any:
    """Build a model from a registered name (``"mlp"``, ``"small_cnn"``, ...), an import
    path ``"package.module:factory"`` or a callable; the factory is called as
    ``factory(input_shape, num_classes, **options)`` and must return an ``nn.Module``.

    >>> resolve_model("mlp", (1, 8, 8), 10, hidden=(16,)).__class__.__name__
    'Sequential'
    """
    import torch

    if callable(spec) and not isinstance(spec, str):
        factory, label = spec, getattr(spec, "__name__", "model")
    elif isinstance(spec, str) and _IMPORT_SPEC.match(spec.strip()):
        factory, label = _import_object(spec.strip(), "model"), spec
    else:
        from .models import create

        try:
            return create(str(spec), tuple(input_shape), num_classes, **options)
        except TypeError as err:
            raise TypeError(f"model {spec!r}: bad model_options {options!r} ({err})") from None
    model = factory(tuple(input_shape), num_classes, **options)
    if not isinstance(model, torch.nn.Module):
        raise TypeError(
            f"model factory {label!r} returned {type(model).__name__}, expected a "
            "torch.nn.Module (it is called as factory(input_shape, num_classes))"
        )
    return model


def make_optimizer(params: Iterable[Any], cfg: RunConfig, lr: float, weight_decay: float) -> Any:
    """The optimizer named by ``cfg.optimizer`` with ``lr`` and ``weight_decay``.

    ``cfg.optimizer.momentum`` is SGD's momentum or Adam's beta1 (beta2 stays 0.999).

    >>> import torch
    >>> opt = make_optimizer(torch.nn.Linear(2, 2).parameters(), RunConfig(), 0.1, 1e-4)
    >>> type(opt).__name__, opt.param_groups[0]["momentum"]
    ('SGD', 0.9)
    """
    import torch

    o = cfg.optimizer
    if o.name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=o.momentum,
                               nesterov=o.nesterov and o.momentum > 0, weight_decay=weight_decay)
    cls = torch.optim.AdamW if o.name == "adamw" else torch.optim.Adam
    return cls(params, lr=lr, betas=(o.momentum, 0.999), weight_decay=weight_decay)


@dataclass
class Setup:
    """Everything the steps share: data, loaders, a model with its initial weights.

    ``reset_model()`` puts the initial weights back, so every range test and both
    training runs start from the same point; ``fresh_loaders()`` gives loaders that
    replay the same batch order.
    """

    config: RunConfig
    bundle: Any
    device: Any
    model: Any
    init_state: dict[str, Any]
    loss_fn: Callable[..., Any]
    model_name: str
    parameters: int

    def reset_model(self) -> Any:
        self.model.load_state_dict(self.init_state)
        return self.model

    def fresh_loaders(self) -> tuple[Any, Any, Any]:
        return self.bundle.loaders(self.config.batch_size, seed=self.config.seed,
                                   device=self.device)

    def optimizer(self, lr: float, weight_decay: float) -> Any:
        return make_optimizer(self.model.parameters(), self.config, lr, weight_decay)


def _device(spec: str | None) -> Any:
    import torch

    if spec is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(spec)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"device {spec!r} is not a torch device ({err})") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {spec!r} asked for, but CUDA is not available here")
    return dev


def prepare(cfg: RunConfig) -> Setup:
    """Load the data, build the model (seeded), remember its initial weights.

    With ``cfg.threads`` unset, small CPU workloads are switched to one torch thread
    (:func:`auto_threads`); wrap the call in :class:`torch_threads` to restore it.

    >>> s = prepare(RunConfig.from_dict({"model": "mlp"}))
    >>> s.bundle.name, s.parameters > 0
    ('digits', True)
    """
    import torch

    from .data import resolve
    from .models import count_parameters
    from .train import seed_everything

    seed_everything(cfg.seed)
    bundle = resolve(cfg.dataset, val_fraction=cfg.val_fraction, seed=cfg.seed)
    if len(bundle.train) == 0:
        raise ValueError(f"dataset {cfg.dataset!r} has an empty training split")
    device = _device(cfg.device)
    torch.manual_seed(cfg.seed)
    model = resolve_model(cfg.model, bundle.input_shape, bundle.num_classes,
                          **cfg.model_options).to(device)
    init = copy.deepcopy(model.state_dict())
    if cfg.threads is None:
        n = auto_threads(count_parameters(model), bundle.input_shape, device)
        if n is not None:
            torch.set_num_threads(n)
    return Setup(cfg, bundle, device, model, init, torch.nn.functional.cross_entropy,
                 cfg.model, count_parameters(model))


# ---------------------------------------------------------------------------
# LR range test and weight-decay check


def find_lr(setup: Setup, weight_decay: float, *, progress: bool | None = None) -> Any:
    """One range test from the initial weights with ``cfg.finder`` settings.

    The loader's epoch is reset first, so every call sees the same batches.
    """
    from .finder import lr_find

    cfg = setup.config
    f = cfg.finder
    model = setup.reset_model()
    opt = setup.optimizer(f.start_lr, weight_decay)
    loader = setup.fresh_loaders()[0]
    return lr_find(model, opt, setup.loss_fn, loader, start_lr=f.start_lr, end_lr=f.end_lr,
                   num_iter=f.num_iter, mode=f.mode, seed=cfg.seed, progress=progress,
                   device=setup.device)


@dataclass
class WeightDecayCheck:
    """Outcome of :func:`weight_decay_check`: one range test per weight decay.

    ``rows`` has, per weight decay: the smoothed minimum loss, the LR where it is
    reached, the suggested max LR, the noise level and whether the curve is accepted
    (reaches the best loss within the noise at a high LR). ``chosen`` is the largest
    accepted weight decay.
    """

    values: list[float]
    results: list[Any]
    chosen: float
    rows: list[dict[str, Any]]
    reason: str
    method: str = "auto"
    rule: str = ""

    def result_for(self, wd: float) -> Any:
        """The range test run with weight decay ``wd``."""
        return self.results[self.values.index(wd)]

    def figure(self) -> Any:
        """The curves overlaid (``plot_finder``), the chosen one drawn thicker."""
        from .plots.finder import plot_finder

        labels = [f"wd={v:g}" + (" (chosen)" if v == self.chosen else "") for v in self.values]
        fig = plot_finder(self.results, labels, suggest=self.method)
        ax = fig.axes[0]
        for line in ax.get_lines():
            if "(chosen)" in str(line.get_label()):
                line.set_linewidth(3.0)
        ax.set_title("Weight-decay check: LR range tests per weight decay")
        ax.legend(fontsize="small", loc="lower left", framealpha=0.9)
        return fig

    def to_dict(self) -> dict[str, Any]:
        return {
            "values": list(self.values),
            "chosen": self.chosen,
            "rows": [dict(r) for r in self.rows],
            "reason": self.reason,
            "rule": self.rule,
            "method": self.method,
            "results": [r.to_dict() for r in self.results],
        }


def _wd_rule() -> str:
    from .search.grid import rule_text

    return rule_text("weight_decay", "largest", 0.05, 0.25, False)


def weight_decay_check(
    model: Any,
    loss_fn: Callable[..., Any],
    train_loader: Any,
    make_opt: Callable[[Iterable[Any], float, float], Any],
    *,
    weight_decays: Sequence[float] = DEFAULT_WD_GRID,
    start_lr: float = 1e-5,
    end_lr: float = 10.0,
    num_iter: int = 100,
    mode: str = "exp",
    method: str = "auto",
    seed: int = 0,
    progress: bool | None = None,
    device: Any = None,
    known: Mapping[float, Any] | None = None,
) -> WeightDecayCheck:
    """Smith's weight-decay check: one LR range test per weight decay, overlaid.

    Every test starts from ``model``'s current weights (the finder restores them after
    each run) with a fresh optimizer ``make_opt(params, lr, weight_decay)`` and the same
    batches (``train_loader.set_epoch(0)`` when it has it). ``known`` gives results
    already computed (``{weight_decay: LRFinderResult}``), which are reused.

    The choice follows the same rule as :func:`onecycle.search.weight_decay_search`
    (``select_by_curves``): the largest weight decay whose smoothed minimum is within the
    noise of the best curve's, reached at an LR no more than 0.25 decades lower.

    Example:
        >>> import torch
        >>> model = torch.nn.Linear(4, 3)
        >>> data = [(torch.randn(16, 4), torch.randint(0, 3, (16,))) for _ in range(4)]
        >>> mk = lambda p, lr, wd: torch.optim.SGD(p, lr=lr, momentum=0.9, weight_decay=wd)
        >>> chk = weight_decay_check(model, torch.nn.functional.cross_entropy, data, mk,
        ...                          weight_decays=(1e-3, 0.0), num_iter=20, progress=False)
        >>> chk.chosen in (1e-3, 0.0)
        True
    """
    from .finder import lr_find

    values = [float(v) for v in weight_decays]
    if not values:
        raise ValueError("weight_decays must not be empty")
    if any(not (v >= 0 and math.isfinite(v)) for v in values):
        raise ValueError(f"weight_decays must be finite numbers >= 0, got {list(weight_decays)!r}")
    values = sorted(set(values), reverse=True)
    known = dict(known or {})
    results = []
    for wd in values:
        if wd in known:
            results.append(known[wd])
            continue
        if hasattr(train_loader, "set_epoch"):
            train_loader.set_epoch(0)
        opt = make_opt(model.parameters(), start_lr, wd)
        results.append(lr_find(model, opt, loss_fn, train_loader, start_lr=start_lr,
                               end_lr=end_lr, num_iter=num_iter, mode=mode, seed=seed,
                               progress=progress, device=device))
    # the same rule as onecycle.search.weight_decay_search (one rule, one place)
    from .search.curves import curve_stats
    from .search.rules import select_by_curves

    def finite(v: float | None) -> float | None:
        return float(v) if v is not None and math.isfinite(v) else None

    stats = [curve_stats(r.lrs, r.losses) for r in results]
    order, sel_rows, reason = select_by_curves("weight decay", values, stats, prefer="largest")
    rows = []
    for wd, r, st, sr in zip(values, results, stats, sel_rows, strict=True):
        sug = r.suggest(method)
        rows.append({
            "weight_decay": wd,
            "min_loss": finite(st.min_loss),
            "lr_at_min": finite(st.lr_at_min),
            "noise": finite(st.se),
            "suggested_lr": sug.lr,
            "confidence": sug.confidence,
            "accepted": bool(sr["accepted"]),
            "selected": bool(sr.get("selected", False)),
        })
    chosen = values[order[0]]
    return WeightDecayCheck(values, results, chosen, rows, reason, method, _wd_rule())


# ---------------------------------------------------------------------------
# figures


def confirm_weight_decay(
    setup: Setup,
    candidates: Sequence[float],
    max_lr: float,
    options: Mapping[str, Any],
    *,
    epochs: int,
    progress: bool | None = None,
) -> tuple[float, list[dict[str, Any]], str]:
    """A short 1cycle at ``max_lr`` per weight decay, from the same initial weights and
    batches; the lowest validation loss (training loss without a validation split)
    wins. Returns ``(chosen, rows, reason)``.

    The range tests of :func:`weight_decay_check` only bound the weight decay from above:
    in a 100-iteration sweep it shrinks the weights by well under 1 % and cannot show
    its cost, so the recipe and ``onecycle run`` both confirm with short runs of
    ``epochs`` each (:func:`confirm_upper_bound` gives a quarter of the budget).
    """
    from .train import Trainer

    cfg = setup.config
    rows: list[dict[str, Any]] = []
    for w in candidates:
        model = setup.reset_model()
        train_loader, val_loader, _ = setup.fresh_loaders()
        opt = setup.optimizer(max_lr / float(options.get("div") or 10.0), w)
        trainer = Trainer(model, setup.loss_fn, opt, train_loader, val_loader,
                          metrics=["accuracy"], grad_clip=cfg.grad_clip, device=setup.device,
                          progress=progress, seed=cfg.seed)
        rec = trainer.fit_one_cycle(epochs, max_lr=max_lr, **options)[-1]
        key = "val_loss" if "val_loss" in rec else "train_loss"
        score = float(rec.get(key, math.inf))
        rows.append({"weight_decay": w, "signal": key, "epochs": epochs,
                     "loss": score if math.isfinite(score) else None,
                     "accuracy": rec.get("val_accuracy", rec.get("train_accuracy"))})
    setup.reset_model()
    best = min(rows, key=lambda r: (math.inf if r["loss"] is None else r["loss"],
                                    -r["weight_decay"]))
    table = ", ".join(f"{r['weight_decay']:g}: {r['loss']:.4g}" if r["loss"] is not None
                      else f"{r['weight_decay']:g}: diverged" for r in rows)
    reason = (f"{epochs} epoch(s) of 1cycle at max_lr {max_lr:.3g} per weight decay, "
              f"{rows[0]['signal'].replace('_', ' ')}: {table}; lowest: {best['weight_decay']:g}")
    return float(best["weight_decay"]), rows, reason


def confirm_upper_bound(
    setup: Setup,
    check: Any,
    max_lr: float | None,
    *,
    say: Callable[[str], None],
    progress: bool | None = None,
) -> tuple[float, list[dict[str, Any]] | None, str]:
    """The weight-decay range tests' winner (``check.chosen``) is an upper bound: short
    runs (:func:`confirm_weight_decay`) decide among it and the smaller values tried.
    Returns ``(chosen, confirm rows or None, reason)``; nothing to confirm (the winner
    is the smallest value, or no ``max_lr``) keeps the range tests' choice.
    """
    from .search.rules import confirm_candidates, default_confirm_epochs

    cands = confirm_candidates(check.values, check.chosen)
    if len(cands) < 2 or max_lr is None:
        return check.chosen, None, check.reason
    epochs = default_confirm_epochs(setup.config.epochs)
    say(f"range tests: at most {check.chosen:g}; confirming "
        f"{', '.join(f'{v:g}' for v in cands)} with {epochs}-epoch 1cycle runs at max_lr "
        f"{max_lr:.3g}")
    wd, rows, why = confirm_weight_decay(setup, cands, float(max_lr),
                                         schedule_options(setup.config), epochs=epochs,
                                         progress=progress)
    return wd, rows, f"range tests: {check.reason} That is an upper bound; {why}"


def _epoch_series(h: Any, key: str) -> tuple[list[int], list[float]]:
    xs, ys = [], []
    for i, r in enumerate(h.records):
        v = r.get(key)
        if isinstance(v, int | float) and math.isfinite(float(v)):
            xs.append(i + 1)
            ys.append(float(v))
    return xs, ys


def comparison_figure(histories: Mapping[str, Any]) -> Any:
    """Loss (train dashed, validation solid), validation accuracy and the LR per
    iteration for several runs (``{"1cycle": history, "baseline": history}``).

    >>> from onecycle.train import History
    >>> h = History(); h.add_iteration(0.1, 0.9, 1.0)
    >>> h.add_record({"epoch": 0, "train_loss": 1.0, "val_loss": 0.9, "val_accuracy": 0.5})
    >>> len(comparison_figure({"a": h}).axes)
    3
    """
    from matplotlib.figure import Figure

    colours = ["#2563eb", "#6b7280", "#d97706", "#059669"]
    fig = Figure(figsize=(12.5, 3.8), layout="constrained")
    ax_loss, ax_acc, ax_lr = fig.subplots(1, 3)
    for k, (label, h) in enumerate(histories.items()):
        c = colours[k % len(colours)]
        x, y = _epoch_series(h, "train_loss")
        ax_loss.plot(x, y, "--", color=c, lw=1.5, marker="o", ms=3, label=f"{label} train")
        x, y = _epoch_series(h, "val_loss")
        ax_loss.plot(x, y, "-", color=c, lw=2, marker="o", ms=4, label=f"{label} val")
        x, y = _epoch_series(h, "val_accuracy")
        ax_acc.plot(x, [100 * v for v in y], "-", color=c, lw=2, marker="o", ms=4, label=label)
        lr = [float(v) for v in h.lr]
        ax_lr.plot(range(1, len(lr) + 1), lr, color=c, lw=1.8, label=label)
    ax_loss.set_title("loss per epoch")
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("cross-entropy")
    ax_loss.set_yscale("log")
    from matplotlib.ticker import FormatStrFormatter, LogLocator, NullFormatter

    ax_loss.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax_loss.yaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax_loss.yaxis.set_minor_formatter(NullFormatter())
    ax_acc.set_title("validation accuracy")
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylabel("%")
    ax_lr.set_title("learning rate per iteration")
    ax_lr.set_xlabel("iteration")
    from matplotlib.ticker import MaxNLocator

    for ax in (ax_loss, ax_acc, ax_lr):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    return fig


def _finder_figure(res: Any, max_lr: float, baseline_lr: float | None, title: str) -> Any:
    fig = res.plot(suggestions=("auto",))
    ax = fig.axes[0]
    ax.axvline(max_lr, color="#b91c1c", lw=1.5, ls="--", label=f"max_lr used: {max_lr:.3g}")
    if baseline_lr is not None:
        ax.axvline(baseline_lr, color="#6b7280", lw=1.2, ls=":",
                   label=f"baseline LR: {baseline_lr:.3g}")
    ax.set_title(title)
    ax.legend(fontsize="small", loc="best", framealpha=0.9)
    return fig


# ---------------------------------------------------------------------------
# the recipe


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
    wd_check: WeightDecayCheck | None = None
    files: list[str] = field(default_factory=list)

    @property
    def final(self) -> dict[str, Any]:
        """Final numbers of the 1cycle run (``val_accuracy``, ``test_accuracy``, ...)."""
        return dict(self.summary["runs"]["1cycle"]["final"])


def _final_numbers(h: Any, test: Mapping[str, float]) -> dict[str, Any]:
    last = h.records[-1] if h.records else {}
    out = {k: last.get(k) for k in ("train_loss", "val_loss", "val_accuracy")}
    out["test_loss"] = test.get("loss")
    out["test_accuracy"] = test.get("accuracy")
    return out


def _best(h: Any) -> dict[str, Any]:
    accs = [r.get("val_accuracy") for r in h.records if isinstance(r.get("val_accuracy"), float)]
    losses = [r.get("val_loss") for r in h.records if isinstance(r.get("val_loss"), float)]
    return {"val_accuracy": max(accs) if accs else None,
            "val_loss": min(losses) if losses else None}


def _versions() -> dict[str, str]:
    import torch

    from . import __version__

    return {"onecycle": __version__, "torch": torch.__version__,
            "python": platform.python_version()}


def _train(setup: Setup, kind: str, lr: float, wd: float, progress: bool | None,
           options: Mapping[str, Any]) -> tuple[Any, float, dict[str, float]]:
    from .train import Trainer

    cfg = setup.config
    model = setup.reset_model()
    train_loader, val_loader, test_loader = setup.fresh_loaders()
    start_lr = lr / float(options.get("div") or 10.0) if kind == "1cycle" else lr
    opt = setup.optimizer(start_lr, wd)
    trainer = Trainer(model, setup.loss_fn, opt, train_loader, val_loader,
                      metrics=["accuracy"], grad_clip=cfg.grad_clip, device=setup.device,
                      progress=progress, seed=cfg.seed)
    t0 = time.perf_counter()
    if kind == "1cycle":
        hist = trainer.fit_one_cycle(cfg.epochs, max_lr=lr, **options)
    else:
        hist = trainer.fit(cfg.epochs, lr=lr)
    wall = time.perf_counter() - t0
    return hist, wall, trainer.evaluate(test_loader)


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


def run(
    config: RunConfig | Mapping[str, Any] | None = None,
    *,
    log: Logger | None = None,
    command: str | None = None,
) -> RunResult:
    """Run the whole recipe and write the report; see the module documentation.

    Args:
        config: a :class:`~onecycle.config.RunConfig` (or a dict for
            ``RunConfig.from_dict``; ``None``: all defaults).
        log: called with one line per step (``print`` for a console); None: silent.
            Progress bars follow ``config.quiet`` (and appear only on a terminal).
        command: the command line shown in the report to reproduce the run.

    Returns:
        :class:`RunResult`; ``result.report`` is the path of ``report.html``.

    Raises:
        OutputDirError: ``config.out`` cannot be written (checked before any work).
        ValueError, TypeError: bad dataset/model specification, no usable LR, ...
        onecycle.data.DatasetUnavailable: the dataset's source is not installed.
    """
    if config is None:
        cfg = RunConfig()
    elif isinstance(config, RunConfig):
        cfg = config
    else:
        cfg = RunConfig.from_dict(config)
    out = ensure_writable_dir(cfg.out)
    with torch_threads(cfg.threads):
        return _run(cfg, out, log or _quiet_log, command)


class torch_threads:
    """Context manager: run with ``n`` torch CPU threads (None: decided in :func:`prepare`
    by :func:`auto_threads`), restoring the previous number afterwards.

    >>> import torch
    >>> before = torch.get_num_threads()
    >>> with torch_threads(1):
    ...     torch.get_num_threads()
    1
    >>> torch.get_num_threads() == before
    True
    """

    def __init__(self, n: int | None) -> None:
        self.n = n
        self.before = 0

    def __enter__(self) -> torch_threads:
        import torch

        self.before = torch.get_num_threads()
        if self.n is not None:
            torch.set_num_threads(self.n)
        return self

    def __exit__(self, *exc: Any) -> None:
        import torch

        if torch.get_num_threads() != self.before:
            torch.set_num_threads(self.before)


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


def _run(cfg: RunConfig, out: Path, say: Logger, command: str | None) -> RunResult:
    from .report import write_report
    from .schedule import OneCycleSchedule

    progress: bool | None = False if cfg.quiet else None
    t_start = time.perf_counter()
    notes: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        setup = prepare(cfg)
        b = setup.bundle
        train_loader = setup.fresh_loaders()[0]
        spe = len(train_loader)
        say(f"data: {b.name} (train {len(b.train)}, val {len(b.val)}, test {len(b.test)}, "
            f"input {tuple(b.input_shape)}, {b.num_classes} classes); model: {setup.model_name} "
            f"({setup.parameters:,} parameters) on {setup.device}")

        # 1. LR range test
        wd = cfg.weight_decay.value
        finder_res = None
        finder_info: dict[str, Any] = {"ran": False}
        suggestion = None
        max_lr_info: dict[str, Any]
        if cfg.schedule.max_lr is None:
            say(f"[1/5] LR range test: {cfg.finder.start_lr:g} -> {cfg.finder.end_lr:g} over "
                f"{cfg.finder.num_iter} iterations (weight decay {wd:g})")
            t = time.perf_counter()
            finder_res = find_lr(setup, wd, progress=progress)
            suggestion = finder_res.suggest(cfg.finder.method)
            finder_info = {
                "ran": True, "start_lr": cfg.finder.start_lr, "end_lr": cfg.finder.end_lr,
                "num_iter": cfg.finder.num_iter, "iterations_run": len(finder_res.lrs),
                "stop_reason": finder_res.stop_reason, "weight_decay": wd,
                "suggestion": suggestion.to_dict(), "wall_time": time.perf_counter() - t,
            }
            say(f"      suggestion: {suggestion}")
        else:
            say(f"[1/5] LR range test skipped: max_lr = {cfg.schedule.max_lr:g} given")

        # 2. weight-decay check
        wd_check = None
        wd_info: dict[str, Any] = {"chosen": wd, "checked": False}
        if cfg.weight_decay.check:
            grid = sorted(set(cfg.weight_decay.grid), reverse=True)
            say(f"[2/5] weight-decay check: range tests at wd = {', '.join(f'{v:g}' for v in grid)}")
            t = time.perf_counter()
            model = setup.reset_model()
            loader = setup.fresh_loaders()[0]
            f = cfg.finder
            wd_check = weight_decay_check(
                model, setup.loss_fn, loader,
                lambda p, lr, w: make_optimizer(p, cfg, lr, w),
                weight_decays=grid, start_lr=f.start_lr, end_lr=f.end_lr, num_iter=f.num_iter,
                mode=f.mode, method=f.method, seed=cfg.seed, progress=progress,
                device=setup.device,
                known={wd: finder_res} if finder_res is not None and wd in grid else None,
            )
            wd = wd_check.chosen
            wd_info = {"chosen": wd, "checked": True, "rows": wd_check.rows,
                       "reason": wd_check.reason, "rule": wd_check.rule}
            first = suggestion.lr if suggestion is not None else None
            confirm_lr = cfg.schedule.max_lr if cfg.schedule.max_lr is not None else first
            wd, rows, why = confirm_upper_bound(setup, wd_check, confirm_lr,
                                                say=lambda m: say("      " + m),
                                                progress=progress)
            if rows is not None:
                wd_info.update(chosen=wd, confirm=rows, reason=why)
                wd_info["rule"] = (wd_check.rule + " The winner is an upper bound: a short "
                                   "1cycle (a quarter of the budget) per value at or below "
                                   "it decides.")
            wd_info["wall_time"] = time.perf_counter() - t
            say(f"      chosen weight decay: {wd:g} ({wd_info['reason']})")
        else:
            say(f"[2/5] weight-decay check skipped: weight decay {wd:g}")
            wd_info["rule"] = "Weight decay fixed by the configuration (weight_decay.check = false)."

        # max_lr: given, or from the curve of the chosen weight decay
        curve = finder_res
        if wd_check is not None and finder_res is not None:
            curve = wd_check.result_for(wd)
            suggestion = curve.suggest(cfg.finder.method)
        if cfg.schedule.max_lr is not None:
            max_lr = cfg.schedule.max_lr
            max_lr_info = {"value": max_lr, "source": "given"}
        else:
            assert curve is not None and suggestion is not None
            if suggestion.lr is None and curve is not finder_res:
                fallback = finder_res.suggest(cfg.finder.method)
                if fallback.lr is not None:
                    notes.append(f"the curve at wd={wd:g} gave no suggestion "
                                 f"({suggestion.reason}); max_lr taken from the first range test")
                    suggestion, curve = fallback, finder_res
            if suggestion.lr is None:
                raise ValueError(
                    f"the LR range test found no usable learning rate ({suggestion.reason}); "
                    "look at the finder plot and pass --max-lr"
                )
            max_lr = float(suggestion.lr)
            max_lr_info = {"value": max_lr, "low": suggestion.low, "high": suggestion.high,
                           "confidence": suggestion.confidence, "method": suggestion.method,
                           "reason": suggestion.reason, "source": "finder",
                           "weight_decay": wd}
            if suggestion.confidence is not None and suggestion.confidence < 0.5:
                notes.append(f"low confidence ({suggestion.confidence:.2f}) in the suggested "
                             f"max_lr: {suggestion.reason}")

        # baseline LR rule
        baseline_lr: float | None = None
        if cfg.baseline.lr is not None:
            baseline_lr, rule = cfg.baseline.lr, "given by the configuration (baseline.lr)"
        elif curve is not None and curve.suggest("minimum").lr is not None:
            baseline_lr = float(curve.suggest("minimum").lr)
            rule = ("the range test's 'minimum' suggestion: the LR at the smoothed loss "
                    "minimum / 10, the usual rule of thumb for a fixed LR")
        else:
            baseline_lr, rule = max_lr / 10.0, "max_lr / 10 (the range test did not run)"
        opts = schedule_options(cfg)

        # 3. 1cycle
        say(f"[3/5] 1cycle: {cfg.epochs} epochs x {spe} steps, max_lr {max_lr:.3g}, "
            f"momentum {'-'.join(f'{m:g}' for m in cfg.schedule.momentum) if opts['momentum'] else 'not cycled'}, "
            f"weight decay {wd:g}")
        h1, wall1, test1 = _train(setup, "1cycle", max_lr, wd, progress, opts)
        fin1 = _final_numbers(h1, test1)
        say(f"      val accuracy {_pct(fin1['val_accuracy'])}, val loss "
            f"{_num(fin1['val_loss'])}, test accuracy {_pct(fin1['test_accuracy'])} "
            f"({wall1:.1f} s)")
        if h1.meta.get("diverged"):
            notes.append(f"the 1cycle run diverged: {h1.meta['diverged'].get('message', '')}")

        # 4. baseline
        hb = None
        runs: dict[str, Any] = {"1cycle": {
            "final": fin1, "best": _best(h1), "wall_time": wall1, "lr": max_lr,
            "description": f"1cycle, max_lr {max_lr:.3g}, {cfg.schedule.style} style",
            "epochs": cfg.epochs,
        }}
        if cfg.baseline.enabled:
            say(f"[4/5] baseline: constant LR {baseline_lr:.3g}, momentum "
                f"{cfg.optimizer.momentum:g}, same {cfg.epochs} epochs")
            hb, wallb, testb = _train(setup, "baseline", baseline_lr, wd, progress, {})
            finb = _final_numbers(hb, testb)
            say(f"      val accuracy {_pct(finb['val_accuracy'])}, val loss "
                f"{_num(finb['val_loss'])}, test accuracy {_pct(finb['test_accuracy'])} "
                f"({wallb:.1f} s)")
            runs["baseline"] = {
                "final": finb, "best": _best(hb), "wall_time": wallb, "lr": baseline_lr,
                "description": f"constant LR {baseline_lr:.3g}", "epochs": cfg.epochs,
            }
            if hb.meta.get("diverged"):
                notes.append(f"the baseline diverged: {hb.meta['diverged'].get('message', '')}")
        else:
            say("[4/5] baseline skipped")

        # 5. report
        say(f"[5/5] report -> {out / 'report.html'}")
        sched = OneCycleSchedule(cfg.epochs * spe, max_lr, **opts)
        figures: dict[str, Any] = {}
        if curve is not None:
            figures["finder"] = _finder_figure(
                curve, max_lr, baseline_lr if cfg.baseline.enabled else None,
                f"LR range test (weight decay {wd:g})")
        if wd_check is not None:
            figures["weight_decay"] = wd_check.figure()
        from .plots import plot_schedule

        figures["schedule"] = plot_schedule(
            sched, title=f"1cycle ({cfg.schedule.style}): max_lr {max_lr:.3g}, "
            f"{sched.total_steps} steps")
        hists = {"1cycle": h1}
        if hb is not None:
            hists["baseline"] = hb
        figures["comparison"] = comparison_figure(hists)

    for w in caught:
        msg = str(w.message).splitlines()[0] if str(w.message) else w.category.__name__
        if msg not in notes and issubclass(w.category, (RuntimeWarning, UserWarning)):
            notes.append(msg)

    name = cfg.name or f"{b.name} · {setup.model_name} · 1cycle vs constant LR"
    if not cfg.baseline.enabled:
        name = cfg.name or f"{b.name} · {setup.model_name} · 1cycle"
    sd = sched.to_dict()
    summary: dict[str, Any] = {
        "name": name,
        "created": _dt.datetime.now().isoformat(timespec="seconds"),
        "versions": _versions(),
        "device": str(setup.device),
        "threads": _threads(),
        "seed": cfg.seed,
        "dataset": b.describe(),
        "model": {"name": setup.model_name, "parameters": setup.parameters},
        "epochs": cfg.epochs,
        "batch_size": cfg.batch_size,
        "steps_per_epoch": spe,
        "total_steps": cfg.epochs * spe,
        "max_lr": max_lr_info,
        "finder": finder_info,
        "weight_decay": wd_info,
        "schedule": {"style": cfg.schedule.style, "max_lr": max_lr, "div": sched.div,
                     "final_div": sched.final_div, "pct_start": sched.pct_start,
                     "annihilate": getattr(sched, "annihilate", None),
                     "momentum": list(opts["momentum"]) if opts["momentum"] else None,
                     "total_steps": sched.total_steps, "spec": sd},
        "runs": runs,
        "baseline_rule": rule if cfg.baseline.enabled else None,
        "baseline_momentum": cfg.optimizer.momentum if cfg.baseline.enabled else None,
        "notes": notes,
        "command": command or "onecycle run --config config.toml",
    }
    summary["dataset"].pop("classes", None)
    files = _write_artifacts(out, cfg, h1, hb, curve, wd_check)
    summary["files"] = files
    summary["total_wall_time"] = time.perf_counter() - t_start
    report = write_report(out, summary, figures, cfg, name=name, command=summary["command"])
    for fig in figures.values():
        fig.clear()
    return RunResult(out, report, summary, cfg, max_lr, wd, h1, hb, curve, wd_check,
                     sorted(set(files) | {"report.html", "summary.json"}
                            | {f"{k}.png" for k in figures}))


def _write_artifacts(out: Path, cfg: RunConfig, h1: Any, hb: Any, curve: Any,
                     wd_check: WeightDecayCheck | None) -> list[str]:
    import json

    from .report import json_safe

    files = ["config.toml"]
    cfg.save(out / "config.toml")
    h1.save(out / "history_1cycle.json")
    files.append("history_1cycle.json")
    if hb is not None:
        hb.save(out / "history_baseline.json")
        files.append("history_baseline.json")
    if curve is not None:
        (out / "finder.json").write_text(json.dumps(json_safe(curve.to_dict())) + "\n",
                                         encoding="utf-8")
        files.append("finder.json")
    if wd_check is not None:
        (out / "weight_decay.json").write_text(
            json.dumps(json_safe(wd_check.to_dict())) + "\n", encoding="utf-8")
        files.append("weight_decay.json")
    return files


def _threads() -> int:
    import torch

    return torch.get_num_threads()


def _pct(v: Any) -> str:
    return "—" if v is None else f"{100 * float(v):.2f} %"


def _num(v: Any) -> str:
    return "—" if v is None else f"{float(v):.4g}"


def python_command(argv: Sequence[str]) -> str:
    """The command line as typed (for the report), shell-quoted.

    >>> python_command(["run", "--name", "my run"])
    "onecycle run --name 'my run'"
    """
    import shlex

    return "onecycle " + shlex.join(list(argv)) if argv else "onecycle"

