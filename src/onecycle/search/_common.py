"""Shared machinery of the searches: inputs, trials, workers, results.

Every search runs *trials*. A trial starts from a private deep copy of the same initial
model (the caller's model is never touched), builds a fresh optimizer with
``make_optimizer``, applies the setting under test (a weight decay, a dropout
probability, a momentum pair, ...), and then runs either an LR range test
(:func:`onecycle.finder.lr_find`) or a short 1cycle training
(:meth:`onecycle.train.Trainer.fit_one_cycle`). Every trial uses the same seed and the
same data order, so the settings are compared on a paired basis.

Trials run one after the other (``workers=1``) or in separate processes
(``workers=N``, a ``ProcessPoolExecutor`` with the ``spawn`` start method). Results do
not depend on the number of workers: each trial is a pure function of its inputs.

The global RNG states (python, numpy, torch) and the train loader's epoch counter are
put back after a search, so running a search does not change what the caller's code
does next.
"""

from __future__ import annotations

import copy
import functools
import json
import math
import os
import pickle
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

__all__ = [
    "SearchResult",
    "SetterError",
    "build_optimizer",
    "resolve_model",
    "json_clean",
]

MakeOptimizer = Callable[[Any], torch.optim.Optimizer]


# ----------------------------------------------------------------------------- errors


class SetterError(ValueError):
    """A setter raised while applying one value of a search.

    The message names the parameter and the value; the original exception is chained
    (``__cause__``). ``param`` and ``value`` are available as attributes.

    >>> e = SetterError("setting dropout=2 failed: p must be in [0, 1]")
    >>> isinstance(e, ValueError)
    True
    """

    param: str | None = None
    value: Any = None


# ----------------------------------------------------------------------------- validation


def check_real(name: str, value: Any) -> float:
    """``value`` as a finite float, or a TypeError/ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {value!r} ({type(value).__name__})")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return v


def check_positive(name: str, value: Any) -> float:
    v = check_real(name, value)
    if not v > 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return v


def check_nonnegative(name: str, value: Any) -> float:
    v = check_real(name, value)
    if v < 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return v


def check_int(name: str, value: Any, least: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int >= {least}, got {value!r} ({type(value).__name__})")
    if int(value) < least:
        raise ValueError(f"{name} must be an int >= {least}, got {value!r}")
    return int(value)


def check_fraction(name: str, value: Any, *, low_open: bool = True) -> float:
    v = check_real(name, value)
    ok = (0 < v <= 1) if low_open else (0 <= v <= 1)
    if not ok:
        allowed = "(0, 1]" if low_open else "[0, 1]"
        raise ValueError(f"{name} must be in {allowed}, got {value!r}")
    return v


def check_values(name: str, values: Any) -> list[Any]:
    """A non-empty list (not a string) of values, duplicates refused."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise TypeError(f"{name} must be a non-empty sequence of values, got {values!r}")
    vals = list(values)
    if not vals:
        raise ValueError(f"{name} must not be empty: give at least one value to try")
    seen: list[Any] = []
    for v in vals:
        if any(_same(v, s) for s in seen):
            raise ValueError(f"{name} contains {v!r} twice; give each value once")
        seen.append(v)
    return vals


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except Exception:  # arrays and other odd values: never equal
        return False


def check_weight_decays(name: str, values: Any) -> list[float]:
    """Weight decays: a non-empty list of finite numbers >= 0."""
    vals = check_values(name, values)
    out = []
    for v in vals:
        f = check_real(f"{name} entry", v)
        if f < 0:
            raise ValueError(f"{name} entries must be >= 0 (weight decay), got {v!r} in {vals!r}")
        out.append(f)
    return out


def check_callable(name: str, value: Any, how: str) -> None:
    if not callable(value):
        raise TypeError(f"{name} must be callable ({how}), got {value!r}")


# ----------------------------------------------------------------------------- pieces


def resolve_model(model: Any, seed: int | None) -> torch.nn.Module:
    """The initial model of a search: ``model`` itself, or ``model()`` for a factory.

    A factory is called with torch seeded by ``seed`` (so the initial weights are a
    function of the seed); the global RNG state is put back afterwards.
    """
    if isinstance(model, torch.nn.Module):
        return model
    if not callable(model):
        raise TypeError(
            "model must be a torch.nn.Module or a zero-argument callable returning one "
            f"(make_model), got {type(model).__name__}"
        )
    from ..finder.state import rng_state, set_rng_state

    saved = rng_state()
    try:
        if seed is not None:
            torch.manual_seed(seed)
        built = model()
    finally:
        set_rng_state(saved)
    if not isinstance(built, torch.nn.Module):
        raise TypeError(f"make_model() must return a torch.nn.Module, got {type(built).__name__}")
    return built


def _takes_params(make_optimizer: Any) -> bool:
    """True for an optimizer class (or a partial of one): call it with the parameters."""
    f = make_optimizer
    while isinstance(f, functools.partial):
        f = f.func
    return isinstance(f, type) and issubclass(f, torch.optim.Optimizer)


def build_optimizer(make_optimizer: Any, model: torch.nn.Module) -> torch.optim.Optimizer:
    """``make_optimizer(model)``; an optimizer class or ``functools.partial`` of one is
    called with ``model.parameters()`` instead.

    >>> import functools
    >>> m = torch.nn.Linear(2, 1)
    >>> type(build_optimizer(functools.partial(torch.optim.SGD, lr=0.1), m)).__name__
    'SGD'
    >>> type(build_optimizer(lambda mod: torch.optim.Adam(mod.parameters()), m)).__name__
    'Adam'
    """
    opt = make_optimizer(model.parameters()) if _takes_params(make_optimizer) else make_optimizer(model)
    if not isinstance(opt, torch.optim.Optimizer):
        raise TypeError(
            "make_optimizer(model) must return a torch.optim.Optimizer over the model's "
            f"parameters, got {type(opt).__name__}"
        )
    return opt


def model_device(model: torch.nn.Module) -> torch.device:
    for p in model.parameters():
        return p.device
    for b in model.buffers():
        return b.device
    return torch.device("cpu")


def want_progress(progress: bool | None) -> bool:
    """tqdm bars only on an interactive terminal outside CI, unless forced."""
    if progress is not None:
        return bool(progress)
    try:
        tty = sys.stderr.isatty()
    except (AttributeError, ValueError):
        tty = False
    return tty and "CI" not in os.environ


def fmt(v: Any) -> str:
    """Short text for a value (``1e-04``, ``0``, ``(0.95, 0.85)``)."""
    if isinstance(v, (tuple, list)):
        return "(" + ", ".join(fmt(x) for x in v) + ")"
    if isinstance(v, bool) or v is None:
        return str(v)
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        f = float(v)
        if f == 0:
            return "0"
        if not math.isfinite(f):
            return str(f)
        return f"{f:.3g}" if 1e-3 <= abs(f) < 1e4 else f"{f:.0e}"
    return str(v)


def json_clean(obj: Any) -> Any:
    """A strict-JSON copy: NaN -> None, +-inf -> "inf"/"-inf", tuples -> lists,
    numpy/torch scalars -> python numbers.

    >>> json_clean({"a": (1.0, float("nan")), "b": np.float32(0.5)})
    {'a': [1.0, None], 'b': 0.5}
    """
    if isinstance(obj, bool) or obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        f = float(obj)
        if math.isnan(f):
            return None
        if math.isinf(f):
            return "inf" if f > 0 else "-inf"
        return f
    if isinstance(obj, dict):
        return {str(k): json_clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_clean(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return json_clean(obj.tolist())
    if isinstance(obj, torch.Tensor):
        return json_clean(obj.detach().cpu().tolist())
    if hasattr(obj, "to_dict"):
        return json_clean(obj.to_dict())
    return str(obj)


def unjson_float(v: Any) -> float:
    if v is None:
        return math.nan
    if v == "inf":
        return math.inf
    if v == "-inf":
        return -math.inf
    return float(v)


def write_json_atomic(path: str | os.PathLike[str], data: Any) -> Path:
    """``data`` cleaned for strict JSON, written atomically (see ``onecycle._io``)."""
    from .._io import write_json_atomic as write

    return write(path, json_clean(data))


# ----------------------------------------------------------------------------- state guard


@contextmanager
def guarded(*loaders: Any) -> Iterator[None]:
    """Put back the global RNGs and the loaders' epoch counters afterwards."""
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


# ----------------------------------------------------------------------------- trials


def apply_setter(
    setter: Callable[..., Any], model: torch.nn.Module, optimizer: Any, param: str, value: Any
) -> None:
    """Call ``setter(model, optimizer, value)``, re-raising failures as :class:`SetterError`."""
    try:
        setter(model, optimizer, value)
    except SetterError:
        raise
    except Exception as exc:
        name = getattr(setter, "__name__", None) or type(setter).__name__
        err = SetterError(
            f"setting {param}={fmt(value)} failed: the setter {name} raised "
            f"{type(exc).__name__}: {exc}"
        )
        err.param, err.value = param, value
        raise err from exc


@dataclass
class TrialContext:
    """What every trial of one search shares (sent once to each worker process)."""

    model: torch.nn.Module
    make_optimizer: Any
    loss_fn: Any
    train_loader: Any
    val_loader: Any = None
    seed: int = 0
    metrics: Any = None
    grad_clip: float | None = None
    loader_epoch: int | None = None
    optimizer_state: dict[str, Any] | None = None  # loaded before the setting (restarts)


@dataclass
class Trial:
    """One setting to try, and how: ``kind`` is "finder", "cycle" or "restart"."""

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


def run_trial(ctx: TrialContext, trial: Trial) -> dict[str, Any]:
    """Run one trial; returns plain data (picklable, JSON-able apart from the curve)."""
    from ..finder import lr_find
    from ..train import DivergenceGuard, DivergenceWarning, Trainer

    model, opt = _prepare(ctx, trial)
    t0 = time.perf_counter()
    if trial.kind == "finder":
        res = lr_find(model, opt, ctx.loss_fn, ctx.train_loader, val_loader=ctx.val_loader,
                      seed=ctx.seed, restore=False, progress=False, **trial.options)
        return {"curve": res, "wall_time": time.perf_counter() - t0}
    trainer = Trainer(
        model, ctx.loss_fn, opt, ctx.train_loader, val_loader=ctx.val_loader,
        metrics=ctx.metrics, grad_clip=ctx.grad_clip, device=model_device(model),
        progress=False, seed=ctx.seed, divergence_guard=DivergenceGuard(action="warn"),
    )
    opts = dict(trial.options)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DivergenceWarning)
        if trial.kind == "cycle":
            epochs = opts.pop("epochs")
            max_lr = opts.pop("max_lr")
            hist = trainer.fit_one_cycle(epochs, max_lr, **opts)
        elif trial.kind == "restart":
            epochs = opts.pop("epochs")
            how = opts.pop("schedule", "constant")
            lr = opts.pop("lr")
            if how == "tail":
                hist = trainer.fit_tail(epochs, start_lr=lr)
            else:
                hist = trainer.fit(epochs, lr=lr)
        else:  # pragma: no cover - internal
            raise ValueError(f"unknown trial kind {trial.kind!r}")
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


def run_trials(
    ctx: TrialContext,
    trials: Sequence[Trial],
    *,
    workers: int = 1,
    progress: bool | None = None,
    desc: str = "search",
) -> list[dict[str, Any]]:
    """Run ``trials`` (in order, or on ``workers`` spawn processes); results in order."""
    workers = check_int("workers", workers, 1)
    n = len(trials)
    bar = None
    if want_progress(progress) and n > 1:
        from tqdm import tqdm

        bar = tqdm(total=n, desc=desc, leave=False)
    try:
        if workers == 1 or n <= 1:
            out = []
            for t in trials:
                out.append(run_trial(ctx, t))
                if bar is not None:
                    bar.update(1)
            return out
        _check_picklable(
            [("make_optimizer", ctx.make_optimizer), ("loss_fn", ctx.loss_fn),
             ("metrics", ctx.metrics)]
            + [(f"the setter for {p}", s) for t in trials for p, s, _ in t.setters]
        )
        import concurrent.futures as cf
        import multiprocessing as mp

        nproc = min(workers, n)
        threads = max(1, (os.cpu_count() or 1) // nproc)
        results: list[dict[str, Any] | None] = [None] * n
        with cf.ProcessPoolExecutor(
            max_workers=nproc, mp_context=mp.get_context("spawn"),
            initializer=_init_worker, initargs=(ctx, threads),
        ) as pool:
            futures = {pool.submit(_worker_trial, t): i for i, t in enumerate(trials)}
            try:
                for fut in cf.as_completed(futures):
                    results[futures[fut]] = fut.result()
                    if bar is not None:
                        bar.update(1)
            except BaseException:
                for f in futures:
                    f.cancel()
                raise
        return [r for r in results if r is not None]
    finally:
        if bar is not None:
            bar.close()


# ----------------------------------------------------------------------------- reading curves


@dataclass
class CurveStats:
    """What a search reads from one range-test curve (train or validation)."""

    n: int
    min_loss: float
    lr_at_min: float
    level: float  # highest smoothed loss before the minimum (the starting level)
    descent: float
    se: float  # standard error of the smoothed curve
    lr_diverge: float | None  # where the loss climbed back above its starting level


def curve_stats(lrs: Any, losses: Any, stop_lr: float | None = None) -> CurveStats:
    """Minimum of the zero-phase smoothed curve, its LR, the descent and the noise.

    >>> lrs = np.geomspace(1e-4, 1, 41)
    >>> s = curve_stats(lrs, (np.log10(lrs) + 2) ** 2)
    >>> round(s.lr_at_min, 3), s.min_loss < 0.05
    (0.01, True)
    """
    from ..finder.suggest import noise_level, smooth_curve

    x = np.asarray(lrs, dtype=float)
    y = np.asarray(losses, dtype=float)
    bad = ~np.isfinite(y)
    cut = int(np.argmax(bad)) if bad.any() else len(y)
    diverge_at = float(x[cut]) if cut < len(y) else None
    x, y = x[:cut], y[:cut]
    n = len(y)
    if n == 0:
        return CurveStats(0, math.nan, math.nan, math.nan, 0.0, math.inf, diverge_at)
    ys = smooth_curve(y) if n >= 3 else y.copy()
    i_min = int(np.argmin(ys))
    level = float(np.max(ys[: i_min + 1]))
    noise = noise_level(y, ys) if n >= 3 else 0.0
    sigma = max(1.0, n / 25.0)
    neff = min(float(n), 2.0 * math.sqrt(math.pi) * sigma)
    se = noise / math.sqrt(neff)
    above = np.flatnonzero(ys[i_min:] > level)
    if len(above):
        lr_div: float | None = float(x[i_min + int(above[0])])
    elif diverge_at is not None:
        lr_div = diverge_at
    else:
        lr_div = stop_lr
    return CurveStats(n, float(ys[i_min]), float(x[i_min]), level, level - float(ys[i_min]),
                      se, lr_div)


# ----------------------------------------------------------------------------- results


@dataclass(eq=False)
class SearchResult:
    """The outcome of a search: one row per value tried, the choice and why.

    Attributes:
        param: the hyper-parameter searched (``"weight_decay"``, ``"dropout"``,
            ``"momentum"``, ...).
        values: the values tried, in the order of ``rows``.
        mode: ``"finder"`` (one LR range test per value), ``"short_cycle"`` (a short
            1cycle training per value) or ``"snapshot"`` (restarts from a snapshot).
        rows: one dict per value (``value``, the measured numbers, ``selected``).
        best: the chosen value; ``runner_up``: the next one in the ranking (or None).
        reason: the choice in plain words; ``rule``: the selection rule in general.
        signal: what was compared (``"val_loss"``, ``"train_loss"``, ...).
        curves: the range tests (finder mode), aligned with ``values``.
        histories: the training histories (short runs), aligned with ``values``.
        config: the search settings; ``extra``: search-specific details.

    ``to_dict()`` is strict JSON (``json.dumps(..., allow_nan=False)`` works);
    ``from_dict``/``save``/``load`` round-trip it; ``plot()`` draws the search.
    """

    kind: str
    param: str
    values: list[Any]
    mode: str
    rows: list[dict[str, Any]]
    best: Any
    runner_up: Any
    reason: str
    rule: str = ""
    signal: str = "val_loss"
    curves: list[Any] = field(default_factory=list)
    histories: list[Any] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def chosen(self) -> Any:
        """Alias of :attr:`best`."""
        return self.best

    def row(self, value: Any) -> dict[str, Any]:
        """The row of ``value``."""
        for r in self.rows:
            if _same(r["value"], value) or _same(json_clean(r["value"]), json_clean(value)):
                return r
        raise KeyError(f"{value!r} was not tried; tried: {self.values!r}")

    def curve(self, value: Any) -> Any:
        """The range test of ``value`` (finder mode)."""
        if not self.curves:
            raise ValueError(f"this {self.mode} search has no range-test curves")
        return self.curves[self.rows.index(self.row(value))]

    def table(self) -> str:
        """The rows as a plain-text table."""
        if not self.rows:
            return ""
        keys = [k for k in self.rows[0] if k not in ("history",)]
        cells = [[fmt(r.get(k)) for k in keys] for r in self.rows]
        widths = [max(len(k), *(len(c[i]) for c in cells)) for i, k in enumerate(keys)]
        lines = ["  ".join(k.ljust(w) for k, w in zip(keys, widths))]
        lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in cells]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.param}: best={fmt(self.best)}, "
                f"runner_up={fmt(self.runner_up)}, {len(self.values)} values, {self.mode})")

    def to_dict(self) -> dict[str, Any]:
        """A strict-JSON dict (curves and histories included)."""
        d = {
            "format": "onecycle.search",
            "version": 1,
            "kind": self.kind,
            "param": self.param,
            "values": self.values,
            "mode": self.mode,
            "rows": self.rows,
            "best": self.best,
            "chosen": self.best,
            "runner_up": self.runner_up,
            "reason": self.reason,
            "rule": self.rule,
            "signal": self.signal,
            "curves": [c.to_dict() for c in self.curves],
            "histories": [h.to_dict() if hasattr(h, "to_dict") else h for h in self.histories],
            "config": self.config,
            "extra": self.extra,
        }
        return json_clean(d)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SearchResult:
        """Inverse of :meth:`to_dict` (the right subclass for the ``kind``)."""
        from ..finder import LRFinderResult
        from ..train import History

        if d.get("format") != "onecycle.search":
            raise ValueError(f"not a search result: format={d.get('format')!r}")
        target = _KINDS.get(d.get("kind", ""), cls)

        def val(v: Any) -> Any:
            return tuple(v) if isinstance(v, list) else v

        rows = [dict(r, value=val(r.get("value"))) for r in d.get("rows", [])]
        return target(
            kind=d["kind"], param=d["param"], values=[val(v) for v in d["values"]],
            mode=d["mode"], rows=rows, best=val(d.get("best")),
            runner_up=val(d.get("runner_up")), reason=d.get("reason", ""),
            rule=d.get("rule", ""), signal=d.get("signal", "val_loss"),
            curves=[LRFinderResult.from_dict(c) for c in d.get("curves", [])],
            histories=[History.from_dict(h) for h in d.get("histories", [])],
            config=d.get("config", {}), extra=d.get("extra", {}),
        )

    def to_json(self, indent: int | None = 1) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write :meth:`to_dict` as JSON (atomically)."""
        return write_json_atomic(path, self.to_dict())

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> SearchResult:
        """Read a result written by :meth:`save`."""
        with open(path, encoding="utf-8") as fh:
            return cls.from_dict(json.load(fh))

    def plot(self, **kwargs: Any) -> Any:
        """Overlaid range tests (finder mode) or validation-loss bars (short runs)."""
        from ..plots.search import plot_search

        return plot_search(self, **kwargs)


_KINDS: dict[str, type] = {}


def register_kind(name: str, cls: type) -> None:
    _KINDS[name] = cls


def rank_by_signal(
    values: Sequence[Any], scores: Sequence[float], higher_is_better: bool = False
) -> list[int]:
    """Indices ordered best first; NaN/inf (diverged) scores last, ties in given order."""
    def key(i: int) -> tuple[int, float, int]:
        s = scores[i]
        if s is None or not math.isfinite(s):
            return (1, 0.0, i)
        return (0, -s if higher_is_better else s, i)

    return sorted(range(len(values)), key=key)


def short_run_rows(
    values: Sequence[Any], outs: Sequence[dict[str, Any]], signal: str
) -> tuple[list[dict[str, Any]], list[float]]:
    rows, scores = [], []
    finals = [o.get("final", {}) for o in outs]
    if finals and all(signal not in f for f in finals if f):
        keys = sorted({k for f in finals for k in f})
        raise ValueError(f"select={signal!r} is not in the epoch records; available: {keys}")
    for v, o in zip(values, outs):
        fin = o.get("final", {})
        row: dict[str, Any] = {"value": v}
        for k in sorted(fin):
            if k in ("train_loss", "val_loss") or k.startswith("val_"):
                row[k] = fin[k]
        row["epochs"] = len(o["history"]["records"]) if "history" in o else None
        row["diverged"] = o.get("diverged", False)
        row["wall_time"] = o.get("wall_time")
        s = fin.get(signal)
        score = math.nan if s is None or o.get("diverged") else float(s)
        row[signal] = fin.get(signal, math.nan)
        rows.append(row)
        scores.append(score)
    return rows, scores


def pick_short_run(
    param: str,
    values: Sequence[Any],
    rows: list[dict[str, Any]],
    scores: Sequence[float],
    signal: str,
    epochs_text: str,
) -> tuple[Any, Any, str]:
    """Best and runner-up by ``signal`` (lower is better unless it is a metric)."""
    higher = signal.startswith("val_") and signal != "val_loss"
    order = rank_by_signal(values, scores, higher_is_better=higher)
    for i, r in enumerate(rows):
        r["selected"] = False
        r["rank"] = order.index(i) + 1
    best_i = order[0]
    if not math.isfinite(scores[best_i]):
        raise RuntimeError(
            f"every {param} trial diverged or produced no {signal}; lower max_lr or check "
            "the model and data"
        )
    rows[best_i]["selected"] = True
    best = values[best_i]
    runner = values[order[1]] if len(order) > 1 else None
    word = "highest" if higher else "lowest"
    reason = (f"{param}={fmt(best)} reached the {word} {signal.replace('_', ' ')} "
              f"({scores[best_i]:.4g}) after {epochs_text}")
    if runner is not None:
        rs = scores[order[1]]
        if math.isfinite(rs):
            gap = abs(rs - scores[best_i])
            reason += f"; runner-up {param}={fmt(runner)} with {rs:.4g} (gap {gap:.3g})"
        else:
            reason += f"; runner-up {param}={fmt(runner)} diverged"
    bad = [values[i] for i in order if not math.isfinite(scores[i])]
    if bad:
        reason += f"; diverged: {', '.join(fmt(b) for b in bad)}"
    return best, runner, reason


# ----------------------------------------------------------------------------- curve rule

PREFER = ("largest", "smallest", "lowest_loss")


def select_by_curves(
    param: str,
    values: Sequence[Any],
    stats: Sequence[CurveStats],
    *,
    prefer: str = "largest",
    tolerance: float = 0.05,
    lr_slack: float = 0.25,
    signal: str = "training loss",
) -> tuple[list[int], list[dict[str, Any]], str]:
    """Smith's rule on range-test curves: the largest value that still trains at a high LR.

    A value is *accepted* when its curve (1) reaches a smoothed minimum within the
    tolerance of the best curve's minimum, ``tol = max(tolerance x best descent,
    2 x combined standard error of the two smoothed minima)``, and (2) reaches that
    minimum at an LR no more than ``lr_slack`` decades below the best curve's
    (its usable LR range is not shorter). Among the accepted values ``prefer`` picks:
    ``"largest"`` (regularisers: weight decay, dropout), ``"smallest"`` or
    ``"lowest_loss"`` (the best curve itself). The ranking puts the accepted values
    first (in the order of preference), then the others by their minimum.

    Returns ``(order, rows, reason)``: indices best first, one row per value, and the
    choice in words.

    >>> lrs = np.geomspace(1e-4, 1, 50)
    >>> good = curve_stats(lrs, (np.log10(lrs) + 1) ** 2)
    >>> worse = curve_stats(lrs, (np.log10(lrs) + 1) ** 2 + 0.5)
    >>> order, rows, _ = select_by_curves("wd", [1e-2, 1e-4], [worse, good])
    >>> order, [r["accepted"] for r in rows]
    ([1, 0], [False, True])
    """
    if prefer not in PREFER:
        raise ValueError(f"prefer must be one of {PREFER}, got {prefer!r}")
    tolerance = check_real("tolerance", tolerance)
    if tolerance < 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance!r}")
    lr_slack = check_real("lr_slack", lr_slack)
    if lr_slack < 0:
        raise ValueError(f"lr_slack must be >= 0 (decades), got {lr_slack!r}")
    usable = [i for i, s in enumerate(stats) if s.n >= 3 and math.isfinite(s.min_loss)]
    if not usable:
        raise RuntimeError(
            f"no {param} range test produced a usable curve (every one blew up at once or "
            "had fewer than 3 points); lower start_lr or raise num_iter"
        )
    b = min(usable, key=lambda i: (stats[i].min_loss, i))
    sb = stats[b]
    rows: list[dict[str, Any]] = []
    accepted: list[int] = []
    for i, (v, s) in enumerate(zip(values, stats)):
        row: dict[str, Any] = {
            "value": v, "min_loss": s.min_loss, "lr_at_min": s.lr_at_min,
            "lr_diverge": s.lr_diverge, "descent": s.descent, "noise_se": s.se,
        }
        if i not in usable:
            row.update(tolerance=None, accepted=False,
                       why="no usable curve (fewer than 3 finite points)")
            rows.append(row)
            continue
        tol = max(tolerance * max(sb.descent, 0.0), 2.0 * math.hypot(sb.se, s.se))
        row["tolerance"] = tol
        why = ""
        if s.min_loss > sb.min_loss + tol:
            why = (f"its minimum {s.min_loss:.4g} is above the best {sb.min_loss:.4g} by more "
                   f"than the tolerance {tol:.3g}")
        elif math.log10(s.lr_at_min) < math.log10(sb.lr_at_min) - lr_slack:
            why = (f"its minimum lies at lr {s.lr_at_min:.3g}, more than {lr_slack:g} decades "
                   f"below the best curve's {sb.lr_at_min:.3g} (a shorter usable LR range)")
        row["accepted"] = not why
        row["why"] = why or "reaches the best loss at a high LR"
        if not why:
            accepted.append(i)
        rows.append(row)

    def as_num(i: int) -> float:
        try:
            return float(values[i])
        except (TypeError, ValueError):
            return float(i)

    if prefer == "largest":
        acc = sorted(accepted, key=lambda i: (-as_num(i), i))
    elif prefer == "smallest":
        acc = sorted(accepted, key=lambda i: (as_num(i), i))
    else:
        acc = sorted(accepted, key=lambda i: (stats[i].min_loss, i))
    rest = sorted((i for i in range(len(values)) if i not in accepted),
                  key=lambda i: (0 if i in usable else 1,
                                 stats[i].min_loss if i in usable else 0.0, i))
    order = acc + rest
    for k, i in enumerate(order):
        rows[i]["rank"] = k + 1
        rows[i]["selected"] = k == 0
    w = order[0]
    sw = stats[w]
    pick = {"largest": "the largest", "smallest": "the smallest",
            "lowest_loss": "the lowest-loss"}[prefer]
    reason = (f"{param}={fmt(values[w])}: its range test reaches a smoothed {signal} of "
              f"{sw.min_loss:.4g} at lr {sw.lr_at_min:.3g}")
    if w == b:
        reason += " (the lowest of all curves)"
    else:
        reason += (f", within {rows[w]['tolerance']:.3g} of the lowest ({sb.min_loss:.4g} with "
                   f"{param}={fmt(values[b])}, at lr {sb.lr_at_min:.3g})")
    if len(acc) > 1:
        reason += (f"; it is {pick} of the {len(acc)} values that reach the best loss at a "
                   f"high LR ({', '.join(fmt(values[i]) for i in acc)})")
    elif prefer != "lowest_loss":
        reason += "; no other value reaches the best loss at as high an LR"
    rejected = [i for i in rest if i in usable]
    if prefer == "largest":
        rejected = [i for i in rejected if as_num(i) > as_num(w)]
        label = "larger values rejected"
    elif prefer == "smallest":
        rejected = [i for i in rejected if as_num(i) < as_num(w)]
        label = "smaller values rejected"
    else:
        label = "rejected"
    if rejected:
        reason += f"; {label}: " + "; ".join(f"{fmt(values[i])} ({rows[i]['why']})"
                                               for i in rejected)
    if len(order) > 1:
        r = order[1]
        reason += f". Runner-up: {param}={fmt(values[r])}"
        if rows[r]["accepted"]:
            reason += " (also reaches the best loss)"
        elif r not in rejected:
            reason += f" ({rows[r]['why']})"
    if sb.descent <= 2 * sb.se:
        reason += (". Warning: even the best curve barely descends (within its noise), so the "
                   "comparison says little: widen the LR sweep or raise num_iter")
    return order, rows, reason + "."


def confirm_candidates(values: Sequence[float], winner: float, most: int = 4) -> list[float]:
    """The range tests' winner and every smaller value tried, largest first, thinned to at
    most ``most`` spread evenly over the list (the winner and the smallest kept): the
    values that short runs compare after a range test bounded them from above.

    >>> confirm_candidates([1e-2, 1e-3, 1e-4, 1e-5, 0.0, 1e-1], 1e-2)
    [0.01, 0.001, 1e-05, 0.0]
    """
    below = sorted({float(v) for v in values if float(v) <= float(winner)}, reverse=True)
    if len(below) <= most:
        return below
    idx = sorted({round(i * (len(below) - 1) / (most - 1)) for i in range(most)})
    return [below[i] for i in idx]


def default_confirm_epochs(budget_epochs: int) -> int:
    """Length of the short runs that decide the weight decay and the momentum: a quarter
    of the budget, rounded up (weight decay acts per step, so its cost grows with the
    run; one-epoch runs favour the most aggressive momentum pair).

    >>> default_confirm_epochs(3), default_confirm_epochs(8), default_confirm_epochs(10)
    (1, 2, 3)
    """
    return max(1, math.ceil(int(budget_epochs) / 4))
