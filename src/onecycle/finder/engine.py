"""The LR range test engine: :func:`lr_find`.

One iteration: set the LR (every param group keeps its ratio to group 0), zero the
gradients, run ``accumulation_steps`` micro-batches (``loss = step_fn(model, batch)``,
``(loss / accumulation_steps).backward()``), average their losses (and across ranks when
``torch.distributed`` is initialized), record, decide whether to stop, and only then
``optimizer.step()``.

Stopping. The raw losses are smoothed by a bias-corrected EMA,
``avg = beta * avg + (1 - beta) * loss``, ``smoothed = avg / (1 - beta ** (i + 1))`` with
``beta = smooth``. The test stops at the first NaN/Inf loss (``"non-finite"``), or when the
smoothed loss has clearly diverged (``"diverged"``)::

    smoothed[i] - best > (diverge - 1) * max(ref - best, noise0)

where ``best`` is the lowest smoothed loss so far, ``ref`` the smoothed loss after the
first ``w = max(5, ceil(5% of num_iter))`` iterations (the initial level), and ``noise0``
the robust spread of the raw losses over those ``w`` iterations
(``median |diff| / (0.6745 * sqrt 2)``). In words: the loss has climbed back above its
best by ``diverge - 1`` times the descent achieved so far (or times the initial noise when
there was no descent). Only differences of losses enter the rule, so it works the same
for negative losses and does not move when every loss is shifted by a constant (or
scaled by a positive factor). The check starts after ``w`` iterations. The point that
triggered the stop is recorded and flagged (``res.stop_index``); the optimizer does not
step on it. ``diverge=math.inf`` disables the divergence stop.

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

import math
import os
import random
import sys
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np
import torch

from ..hyper import get_hyper, set_hyper
from .result import Band, LRFinderResult
from .state import StateSnapshot

__all__ = ["lr_find", "lr_grid", "DivergenceRule"]

StepFn = Callable[[torch.nn.Module, Any], torch.Tensor]


# ----------------------------------------------------------------------------- validation


def _real(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(f"{name} must be a real number, got {value!r} ({type(value).__name__})")
    return float(value)


def _positive_finite(name: str, value: Any) -> float:
    v = _real(name, value)
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return v


def _int_at_least(name: str, value: Any, least: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int >= {least}, got {value!r} ({type(value).__name__})")
    if value < least:
        raise ValueError(f"{name} must be an int >= {least}, got {value!r}")
    return int(value)


def lr_grid(start_lr: float, end_lr: float, num_iter: int, mode: str = "exp") -> np.ndarray:
    """The LRs a range test sweeps: ``num_iter`` values from ``start_lr`` to ``end_lr``.

    ``"exp"``: geometric spacing, ``start * (end / start) ** (i / (num_iter - 1))``;
    ``"linear"``: evenly spaced. Both include both ends.

    >>> lr_grid(0.01, 1.0, 3).round(6).tolist(), lr_grid(0.0, 1.0, 3, "linear").tolist()
    ([0.01, 0.1, 1.0], [0.0, 0.5, 1.0])
    """
    if mode == "exp":
        frac = np.arange(num_iter) / (num_iter - 1)
        g = start_lr * (end_lr / start_lr) ** frac
    elif mode == "linear":
        g = np.linspace(start_lr, end_lr, num_iter)
    else:
        raise ValueError(f"mode must be 'exp' or 'linear', got {mode!r}")
    g[0], g[-1] = start_lr, end_lr
    return g


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
        self._raw: list[float] = []
        self.count = 0

    def update(self, raw: float, smoothed: float) -> bool:
        """Add one point; True when the curve has diverged at this point."""
        i = self.count
        self.count += 1
        if i < self.warmup:
            self._raw.append(raw)
        self.best = min(self.best, smoothed)
        if i == self.warmup - 1:
            self.ref = smoothed
            d = np.abs(np.diff(np.asarray(self._raw, dtype=float)))
            self.noise0 = float(np.median(d)) / (0.6745 * math.sqrt(2.0)) if len(d) else 0.0
        if i < self.warmup or not math.isfinite(self.diverge):
            return False
        # floor at the rounding level of the numbers involved, so that a constant loss
        # (whose EMA wobbles in the last bits) never "diverges"
        eps = 64 * sys.float_info.epsilon * max(abs(self.ref), abs(self.best), abs(smoothed))
        scale = max(self.ref - self.best, self.noise0, eps)
        return smoothed - self.best > (self.diverge - 1.0) * scale


# ----------------------------------------------------------------------------- helpers


def _map_tensors(batch: Any, fn: Callable[[torch.Tensor], torch.Tensor]) -> Any:
    """``fn`` applied to every tensor of a (nested tuple/list/namedtuple/dict) batch."""
    if isinstance(batch, torch.Tensor):
        return fn(batch)
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):  # namedtuple
        return type(batch)(*(_map_tensors(b, fn) for b in batch))
    if isinstance(batch, (list, tuple)):
        return type(batch)(_map_tensors(b, fn) for b in batch)
    if isinstance(batch, dict):
        return {k: _map_tensors(v, fn) for k, v in batch.items()}
    return batch


def _to_device(batch: Any, device: torch.device | None) -> Any:
    if device is None:
        return batch
    return _map_tensors(batch, lambda t: t.to(device, non_blocking=True))


def _batch_len(batch: Any) -> int | None:
    """Samples in a batch: the first dim of its first tensor (None: no tensor in it)."""
    if isinstance(batch, torch.Tensor):
        return int(batch.shape[0]) if batch.dim() > 0 else None
    items = batch.values() if isinstance(batch, dict) else (
        batch if isinstance(batch, (list, tuple)) else ())
    for b in items:
        n = _batch_len(b)
        if n is not None:
            return n
    return None


def _head(batch: Any, n: int) -> Any:
    """The first ``n`` samples of a batch: every tensor with a batch dim is sliced."""
    return _map_tensors(batch, lambda t: t[:n] if t.dim() > 0 else t)


def _describe(batch: Any) -> str:
    if isinstance(batch, dict):
        return f"a dict with keys {sorted(map(str, batch))}"
    if isinstance(batch, (list, tuple)):
        return f"a {type(batch).__name__} of length {len(batch)}"
    if isinstance(batch, torch.Tensor):
        return f"a tensor of shape {tuple(batch.shape)}"
    return f"a {type(batch).__name__}"


def _default_step(loss_fn: Callable[..., torch.Tensor]) -> StepFn:
    def step(model: torch.nn.Module, batch: Any) -> torch.Tensor:
        if not (isinstance(batch, (tuple, list)) and len(batch) == 2):
            raise TypeError(
                "without step_fn every batch must be an (inputs, targets) pair, got "
                f"{_describe(batch)}; pass step_fn=lambda model, batch: <loss tensor> "
                "for other batch structures"
            )
        inputs, targets = batch
        return loss_fn(model(inputs), targets)

    return step


def _check_loss(loss: Any, training: bool) -> torch.Tensor:
    src = "step_fn/loss_fn"
    if not isinstance(loss, torch.Tensor):
        raise TypeError(f"the loss ({src} result) must be a torch.Tensor, got {type(loss).__name__}")
    if loss.numel() != 1:
        raise ValueError(
            f"the loss ({src} result) must be a scalar, got a tensor of shape "
            f"{tuple(loss.shape)}; reduce it (e.g. reduction='mean' or loss.mean())"
        )
    if training and not loss.requires_grad:
        raise ValueError(
            f"the loss ({src} result) does not require grad, so there is nothing to "
            "backpropagate: was it computed under torch.no_grad() or detached?"
        )
    return loss


class _Cycler:
    """Endless batches from a loader: restarts it (a new epoch) when it runs out."""

    def __init__(self, loader: Iterable[Any], name: str) -> None:
        self.loader = loader
        self.name = name
        self.it: Iterator[Any] = iter(loader)
        self.count = 0  # batches served in the current pass

    def next(self) -> Any:
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


def _dist_world() -> int:
    d = torch.distributed
    if d.is_available() and d.is_initialized():
        return d.get_world_size()
    return 1


def _all_mean(value: float, device: torch.device) -> float:
    """Average a float over all ranks (identity when not distributed)."""
    world = _dist_world()
    if world == 1:
        return value
    dev = device
    if torch.distributed.get_backend() == "nccl" and dev.type != "cuda":
        dev = torch.device("cuda", torch.cuda.current_device())
    t = torch.tensor([value], dtype=torch.float64, device=dev)
    torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.SUM)
    return float(t.item()) / world


def _want_progress(progress: bool | None) -> bool:
    if progress is not None:
        return bool(progress)
    try:
        tty = sys.stderr.isatty()
    except (AttributeError, ValueError):
        tty = False
    return tty and not os.environ.get("CI")


def _model_device(model: torch.nn.Module) -> torch.device | None:
    for p in model.parameters():
        return p.device
    for b in model.buffers():
        return b.device
    return None


def _seed_all(seed: int) -> None:
    torch.manual_seed(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)


# ----------------------------------------------------------------------------- one run


def _evaluate(model: torch.nn.Module, cache: list[Any], step: StepFn) -> float:
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    total = 0.0
    device = torch.device("cpu")
    try:
        with torch.no_grad():
            for b in cache:
                loss = _check_loss(step(model, b), training=False)
                device = loss.device
                total += float(loss.detach())
    finally:
        for m, flag in modes:
            m.training = flag
    return _all_mean(total / len(cache), device)


def _run_once(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    step: StepFn,
    loader: Iterable[Any],
    grid: np.ndarray,
    ratios: list[float],
    *,
    smooth: float,
    diverge: float,
    accumulation_steps: int,
    device: torch.device | None,
    val_cache: list[Any] | None,
    val_step: StepFn,
    val_every: int,
    bar: Any,
    mode: str,
    config: dict[str, Any],
) -> LRFinderResult:
    num_iter = len(grid)
    warmup = min(num_iter, max(5, math.ceil(0.05 * num_iter)))
    cycler = _Cycler(loader, "train_loader")
    rule = DivergenceRule(diverge, warmup)
    lrs: list[float] = []
    raw: list[float] = []
    smoothed: list[float] = []
    val_lrs: list[float] = []
    val_losses: list[float] = []
    avg = 0.0
    stop_reason = "completed"
    stop_index: int | None = None
    for i, lr in enumerate(grid):
        lr = float(lr)
        set_hyper(optimizer, "lr", [lr * q for q in ratios])
        optimizer.zero_grad(set_to_none=True)
        total = 0.0
        loss_device = torch.device("cpu")
        for _ in range(accumulation_steps):
            batch = _to_device(cycler.next(), device)
            loss = _check_loss(step(model, batch), training=True)
            loss_device = loss.device
            (loss / accumulation_steps).backward()
            total += float(loss.detach())
        value = _all_mean(total / accumulation_steps, loss_device)
        lrs.append(lr)
        raw.append(value)
        if math.isfinite(value):
            avg = smooth * avg + (1.0 - smooth) * value
            sm = avg / (1.0 - smooth ** (i + 1))
        else:
            sm = math.nan
        smoothed.append(sm)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(lr=f"{lr:.2e}", loss=f"{sm:.4g}", refresh=False)
        if not math.isfinite(value):
            stop_reason, stop_index = "non-finite", i
            break
        if rule.update(value, sm):
            stop_reason, stop_index = "diverged", i
            break
        optimizer.step()
        if val_cache is not None and ((i + 1) % val_every == 0 or i == num_iter - 1):
            val_lrs.append(lr)
            val_losses.append(_evaluate(model, val_cache, val_step))
    return LRFinderResult(
        lrs=np.array(lrs),
        losses=np.array(raw),
        smoothed=np.array(smoothed),
        mode=mode,
        diverged=stop_reason != "completed",
        stop_reason=stop_reason,
        stop_index=stop_index,
        val_lrs=np.array(val_lrs),
        val_losses=np.array(val_losses),
        config=dict(config),
    )


def _combine(runs: list[LRFinderResult], mode: str, config: dict[str, Any]) -> LRFinderResult:
    """Median curve and percentile band of several runs (over the points all reached)."""
    m = min(len(r) for r in runs)
    longest = max(len(r) for r in runs)
    curves = np.full((len(runs), longest), np.nan)
    sm_curves = np.full((len(runs), longest), np.nan)
    for k, r in enumerate(runs):
        curves[k, : len(r)] = r.losses
        sm_curves[k, : len(r)] = r.smoothed
    lrs = runs[0].lrs[:m]  # every run sweeps the same grid
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
        median = np.nanmedian(curves[:, :m], axis=0)
        low = np.nanpercentile(curves[:, :m], 10, axis=0)
        high = np.nanpercentile(curves[:, :m], 90, axis=0)
        smoothed = np.nanmedian(sm_curves[:, :m], axis=0)
    first = min(runs, key=len)
    stopped = first.stop_reason != "completed"
    nv = min(len(r.val_lrs) for r in runs)
    if nv:
        val_lrs = runs[0].val_lrs[:nv]
        val_losses = np.median(np.stack([r.val_losses[:nv] for r in runs]), axis=0)
    else:
        val_lrs = val_losses = np.zeros(0)
    return LRFinderResult(
        lrs=np.asarray(lrs, dtype=float),
        losses=median,
        smoothed=smoothed,
        mode=mode,
        diverged=stopped,
        stop_reason=first.stop_reason,
        stop_index=m - 1 if stopped else None,
        val_lrs=val_lrs,
        val_losses=val_losses,
        band=Band(np.asarray(lrs, dtype=float), median, low, high, curves, (0.1, 0.9)),
        runs=runs,
        config=dict(config),
    )


# ----------------------------------------------------------------------------- public


def lr_find(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    loss_fn: Callable[..., torch.Tensor] | None,
    train_loader: Iterable[Any],
    *,
    start_lr: float = 1e-7,
    end_lr: float = 10.0,
    num_iter: int = 100,
    mode: str = "exp",
    smooth: float = 0.98,
    diverge: float = 4.0,
    val_loader: Iterable[Any] | None = None,
    val_every: int | None = None,
    val_batches: int = 10,
    val_samples: int | None = None,
    accumulation_steps: int = 1,
    step_fn: StepFn | None = None,
    restore: bool | str = True,
    repeats: int = 1,
    seed: int | None = None,
    progress: bool | None = None,
    device: str | torch.device | None = None,
) -> LRFinderResult:
    """Run Leslie Smith's LR range test and return the curve.

    The LR of parameter group 0 sweeps ``start_lr -> end_lr`` over ``num_iter``
    iterations (``mode="exp"``: geometric, ``"linear"``: evenly spaced); every other group
    ``g`` gets ``lr * initial_lr_g / initial_lr_0``, so per-group ratios (discriminative
    LRs) are kept. ``res.lrs`` records group 0's LR. The loader is restarted (a new
    epoch) whenever it runs out before ``num_iter`` iterations.

    Args:
        model: the model, on its device; it is run in train mode (and put back in the
            mode it was in, per sub-module, afterwards: eval-mode models are fine).
        optimizer: any torch optimizer over the model's parameters; every group's lr
            must be > 0 (the ratios are taken from them).
        loss_fn: ``loss_fn(model(inputs), targets) -> scalar`` for ``(inputs, targets)``
            batches; may be None with ``step_fn``.
        train_loader: any re-iterable of batches (a DataLoader, a list, ...).
        start_lr, end_lr: the sweep, ``0 < start_lr < end_lr``, both finite.
        num_iter: optimizer steps in the sweep (>= 2); the test may stop earlier.
        mode: ``"exp"`` or ``"linear"``.
        smooth: EMA factor ``beta`` of the loss smoothing, in [0, 1) (0: none).
        diverge: divergence factor (> 1, ``math.inf`` disables), see the module docs.
        val_loader: optional; its first ``val_batches`` batches are cached in memory at
            the start and evaluated (``model.eval()`` + ``torch.no_grad()``) every
            ``val_every`` iterations (default ``max(1, num_iter // 20)``) and at the end.
        val_samples: optional cap on the cached validation samples (>= 1): the last
            cached batch is cut so the subset holds at most this many samples. Bounds
            the cost of the validation passes when eval batches are large.
        accumulation_steps: micro-batches per optimizer step (gradient accumulation);
            the recorded loss is their mean.
        step_fn: ``step_fn(model, batch) -> loss`` for custom batches/forward passes.
            It only computes the loss: the finder sets the LR, zeroes the gradients,
            calls ``(loss / accumulation_steps).backward()`` and ``optimizer.step()``.
            It is also used (under ``no_grad``, in eval mode) for validation batches.
        restore: ``True``/``"memory"`` (default): model, optimizer and RNG states are put
            back bit for bit afterwards, also when an exception escapes (it propagates);
            ``"disk"``: the same through a temporary file; ``False``: keep the state the
            sweep left (the model's train/eval mode is restored in every case).
        repeats: run the test this many times, each from the same initial state with
            seeds ``seed, seed + 1, ...`` (data order reshuffled); the result holds the
            median curve, a 10-90 % ``band`` and the ``runs``, and its suggestion's range
            covers the per-run suggestions.
        seed: seed torch, numpy and python ``random`` before each run (None: do not
            seed a single run; draw a base seed from torch's RNG for repeats).
        progress: tqdm progress bar; None: only when stderr is a terminal and the ``CI``
            environment variable is unset.
        device: where batches are moved before the step (default: the device of the
            model's first parameter). The model itself is never moved.

    Distributed: when ``torch.distributed`` is initialized, each iteration's loss (and
    each validation loss) is averaged over the ranks before smoothing and the stop
    decision, so every rank records the same curve and stops at the same step.

    Returns:
        :class:`LRFinderResult`: ``res.lrs``, ``res.losses``, ``res.suggest()``,
        ``res.plot()``.

    Example:
        >>> import torch
        >>> model = torch.nn.Linear(3, 2)
        >>> opt = torch.optim.Adam(model.parameters())
        >>> data = [(torch.randn(8, 3), torch.randint(0, 2, (8,))) for _ in range(4)]
        >>> res = lr_find(model, opt, torch.nn.functional.cross_entropy, data,
        ...               num_iter=20, progress=False)
        >>> len(res.lrs) <= 20, opt.param_groups[0]["lr"]
        (True, 0.001)
    """
    # ---- validate everything before touching anything
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not hasattr(optimizer, "param_groups") or not hasattr(optimizer, "step"):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
    if step_fn is None:
        if loss_fn is None or not callable(loss_fn):
            raise TypeError(
                f"loss_fn must be callable (or pass step_fn), got {type(loss_fn).__name__}"
            )
        step: StepFn = _default_step(loss_fn)
    else:
        if not callable(step_fn):
            raise TypeError(f"step_fn must be callable, got {type(step_fn).__name__}")
        step = step_fn
    start = _positive_finite("start_lr", start_lr)
    end = _positive_finite("end_lr", end_lr)
    if not start < end:
        raise ValueError(f"start_lr must be < end_lr, got start_lr={start_lr!r}, end_lr={end_lr!r}")
    num_iter = _int_at_least("num_iter", num_iter, 2)
    if mode not in ("exp", "linear"):
        raise ValueError(f"mode must be 'exp' or 'linear', got {mode!r}")
    smooth_f = _real("smooth", smooth)
    if not 0.0 <= smooth_f < 1.0:
        raise ValueError(f"smooth must be in [0, 1), got {smooth!r}")
    diverge_f = _real("diverge", diverge)
    if math.isnan(diverge_f) or not diverge_f > 1.0:
        raise ValueError(f"diverge must be > 1 (math.inf disables the stop), got {diverge!r}")
    accumulation_steps = _int_at_least("accumulation_steps", accumulation_steps, 1)
    repeats = _int_at_least("repeats", repeats, 1)
    if seed is not None:
        seed = _int_at_least("seed", seed, 0)
    if val_every is None:
        val_every = max(1, num_iter // 20)
    else:
        val_every = _int_at_least("val_every", val_every, 1)
    val_batches = _int_at_least("val_batches", val_batches, 1)
    if val_samples is not None:
        val_samples = _int_at_least("val_samples", val_samples, 1)
    if restore is True:
        where: str | None = "memory"
    elif restore is False:
        where = None
    elif restore in ("memory", "disk"):
        where = str(restore)
    else:
        raise ValueError(f"restore must be True, False, 'memory' or 'disk', got {restore!r}")
    init_lrs = get_hyper(optimizer, "lr")
    for g, v in enumerate(init_lrs):
        if not (math.isfinite(v) and v > 0):
            raise ValueError(
                f"optimizer param group {g} has lr={v!r}; every group needs a finite lr > 0 "
                "(the sweep keeps the groups' lr ratios to group 0)"
            )
    ratios = [v / init_lrs[0] for v in init_lrs]
    dev = torch.device(device) if device is not None else _model_device(model)
    grid = lr_grid(start, end, num_iter, mode)
    config: dict[str, Any] = {
        "start_lr": start, "end_lr": end, "num_iter": num_iter, "mode": mode,
        "smooth": smooth_f, "diverge": diverge_f, "accumulation_steps": accumulation_steps,
        "repeats": repeats, "seed": seed, "group_ratios": ratios,
    }

    # ---- run
    modes = [(m, m.training) for m in model.modules()]
    snap = StateSnapshot(model, optimizer, where=where or "memory") if (where or repeats > 1) else None
    bar = None
    # loaders that count epochs on iteration (onecycle.data.TensorLoader) are put back
    # too, so a training loop after the test sees the data order it would have seen
    loader_epochs = [
        (ld, ld.epoch) for ld in (train_loader, val_loader)
        if ld is not None and isinstance(getattr(ld, "epoch", None), int)
        and callable(getattr(ld, "set_epoch", None))
    ]
    try:
        if not model.training:
            model.train()
        val_cache: list[Any] | None = None
        if val_loader is not None:
            val_cache = []
            kept = 0
            for b in val_loader:
                n = _batch_len(b)
                if val_samples is not None and n is not None and kept + n > val_samples:
                    b, n = _head(b, val_samples - kept), val_samples - kept
                val_cache.append(_to_device(b, dev))
                kept += n or 0
                if len(val_cache) >= val_batches or (
                        val_samples is not None and kept >= val_samples):
                    break
            if not val_cache:
                raise ValueError("val_loader yielded no batches: it is empty")
        if repeats > 1 and seed is None:
            seed = int(torch.randint(0, 2**31 - 1, (1,)).item())
            config["seed"] = seed
        if _want_progress(progress):
            from tqdm import tqdm

            bar = tqdm(total=num_iter * repeats, desc="lr_find", leave=False)
        runs: list[LRFinderResult] = []
        for r in range(repeats):
            if r > 0:
                assert snap is not None
                snap.restore()
                if not model.training:
                    model.train()
            if seed is not None:
                _seed_all(seed + r)
            run = _run_once(
                model, optimizer, step, train_loader, grid, ratios,
                smooth=smooth_f, diverge=diverge_f, accumulation_steps=accumulation_steps,
                device=dev, val_cache=val_cache, val_step=step, val_every=val_every,
                bar=bar, mode=mode, config={**config, "seed": None if seed is None else seed + r},
            )
            runs.append(run)
    finally:
        if bar is not None:
            bar.close()
        try:
            if snap is not None and where is not None:
                snap.restore()
                for ld, ep in loader_epochs:
                    ld.set_epoch(ep)
        finally:
            if snap is not None:
                snap.close()
            for m, flag in modes:
                m.training = flag
    if repeats == 1:
        return runs[0]
    return _combine(runs, mode, config)
