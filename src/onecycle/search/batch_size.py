"""Batch size: the largest batch that fits in memory, its throughput, and the LR for it.

Smith's advice is to use the largest batch size the hardware allows (with the learning
rate scaled up accordingly). :func:`batch_size_search` finds it without ever running
the machine out of memory:

* **CUDA**: each candidate is *probed* (one forward and backward pass, peak measured by
  ``torch.cuda.max_memory_allocated``), in increasing order; an out-of-memory error is
  caught and ends the probe. A candidate fits when its peak plus the optimizer state
  stays within ``safety`` x the memory budget (default: the device's free memory).
* **CPU**: memory is *estimated*, never probed at the limit. A forward and backward pass
  at two small batch sizes records the tensors autograd keeps for the backward pass
  (``torch.autograd.graph.saved_tensors_hooks``, de-duplicated by storage, parameters
  excluded); the bytes per sample are extrapolated linearly to every candidate and the
  parameters, gradients and optimizer state added. The budget defaults to the available
  memory (``MemAvailable`` in ``/proc/meminfo``).

The evaluation batch size is chosen separately: without a backward pass only a layer's
input and output need to be alive at once, so it can be larger.

Throughput (samples per second of forward + backward) is measured for every candidate
that fits. :func:`rescale_lr` rescales a learning rate found at one batch size for
another (``"linear"`` or ``"sqrt"`` rule); pass ``base_lr``/``base_batch_size`` to get
it in the result.

Example:
    >>> import torch
    >>> model = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(),
    ...                             torch.nn.Linear(32, 10))
    >>> res = batch_size_search(model, (64,), candidates=(16, 32, 64),
    ...                         memory_budget="64MB", throughput_iters=1)
    >>> res.train_batch_size, res.device
    (64, 'cpu')
    >>> rescale_lr(0.1, 128, 512), round(rescale_lr(0.1, 128, 512, rule="sqrt"), 6)
    (0.4, 0.2)
"""

from __future__ import annotations

import copy
import math
import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from .._format import fmt_lr
from .._io import JSONFile
from .._validate import choice, in_range, integer, positive
from ..step import model_device
from .factories import LossFn, ModelLike, initial_model
from .options import refuse_leftovers, take_options

__all__ = [
    "BatchSizeResult",
    "BatchSizeOptions",
    "batch_size_search",
    "rescale_lr",
    "parse_bytes",
    "available_memory",
    "LR_RULES",
]

#: batch-size scaling rules for the learning rate
LR_RULES = {
    "linear": "lr x (new batch / old batch): the linear scaling rule (Goyal et al. 2017)",
    "sqrt": "lr x sqrt(new batch / old batch): the square-root rule (Krizhevsky 2014, "
            "Hoffer et al. 2017)",
}


def rescale_lr(lr: float, from_bs: int, to_bs: int, rule: str = "linear") -> float:
    """The learning rate for batch size ``to_bs``, given ``lr`` found at ``from_bs``.

    ``rule="linear"``: ``lr * to_bs / from_bs``; ``"sqrt"``: ``lr * sqrt(to_bs / from_bs)``.

    >>> rescale_lr(0.1, 256, 128), rescale_lr(0.1, 100, 400, rule="sqrt")
    (0.05, 0.2)
    """
    lr = positive("lr", lr)
    from_bs = integer("from_bs", from_bs, least=1)
    to_bs = integer("to_bs", to_bs, least=1)
    choice("rule", rule, tuple(LR_RULES))
    ratio = to_bs / from_bs
    return lr * ratio if rule == "linear" else lr * math.sqrt(ratio)


_UNITS = {"": 1, "b": 1, "k": 1e3, "kb": 1e3, "m": 1e6, "mb": 1e6, "g": 1e9, "gb": 1e9,
          "t": 1e12, "tb": 1e12, "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


def parse_bytes(value: int | float | str) -> int:
    """A memory size in bytes: a number, or a string such as ``"512MB"`` or ``"2 GiB"``.

    >>> parse_bytes("1.5GB"), parse_bytes("64 MiB"), parse_bytes(1024)
    (1500000000, 67108864, 1024)
    """
    if isinstance(value, bool):
        raise TypeError(f"memory_budget must be a number of bytes or a size string, got {value!r}")
    if isinstance(value, (int, float)):
        v = float(value)
    elif isinstance(value, str):
        m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][+-]?\d+)?)\s*([A-Za-z]*)\s*", value)
        if not m or m.group(2).lower() not in _UNITS:
            raise ValueError(
                f"memory_budget={value!r} is not a size; use bytes or a string like '512MB', "
                "'2GiB'"
            )
        v = float(m.group(1)) * _UNITS[m.group(2).lower()]
    else:
        raise TypeError(f"memory_budget must be a number of bytes or a size string, got {value!r}")
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"memory_budget must be > 0, got {value!r}")
    return int(v)


def available_memory() -> int:
    """Bytes of memory available to new allocations (``MemAvailable``), or a fallback.

    >>> available_memory() > 0
    True
    """
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - exotic systems
        return 2**31


# ----------------------------------------------------------------------------- result


@dataclass(eq=False)
class BatchSizeResult(JSONFile, format="onecycle.batch_size", what="a batch-size result"):
    """Result of :func:`batch_size_search`; ``to_dict``/``from_dict``/``save``/``load``
    are :class:`onecycle._io.JSONFile`'s (every field, format ``onecycle.batch_size``).

    Attributes:
        train_batch_size: the largest candidate that fits for training.
        eval_batch_size: the largest evaluation candidate that fits (no backward pass).
        device: ``"cpu"``, ``"cuda:0"``, ...
        method: how memory was obtained (``"cuda-probe"`` or ``"cpu-estimate"``).
        budget_bytes: the memory budget; ``safety``: the fraction of it used.
        rows: one dict per candidate: ``batch_size``, ``train_bytes``, ``eval_bytes``,
            ``fits_train``, ``fits_eval``, ``samples_per_s``, ``measured`` (probed
            rather than extrapolated), ``oom``.
        lr, base_lr, base_batch_size, rule: the rescaled LR (when ``base_lr`` was given)
            and how it was rescaled.
        reason: the choice in words.
    """

    train_batch_size: int
    eval_batch_size: int
    device: str
    method: str
    budget_bytes: int
    safety: float
    rows: list[dict[str, Any]]
    reason: str
    lr: float | None = None
    base_lr: float | None = None
    base_batch_size: int | None = None
    rule: str = "linear"
    rule_text: str = LR_RULES["linear"]
    estimate: dict[str, Any] = field(default_factory=dict)

    @property
    def best(self) -> int:
        """Alias of :attr:`train_batch_size`."""
        return self.train_batch_size

    def plot(self, **kwargs: Any) -> Any:
        """Throughput and memory against the batch size."""
        from ..plots.search import plot_batch_size

        return plot_batch_size(self, **kwargs)

    def __repr__(self) -> str:
        lr = "" if self.lr is None else f", lr={fmt_lr(self.lr)} ({self.rule})"
        return (f"BatchSizeResult(train={self.train_batch_size}, eval={self.eval_batch_size}, "
                f"{self.device}, {self.method}{lr})")


# ----------------------------------------------------------------------------- inputs


class _Batches:
    """Builds input (and target) batches of any size from a shape or a sample."""

    def __init__(self, sample: Any, device: torch.device, seed: int) -> None:
        self.device = device
        self.x: torch.Tensor | None = None
        self.y: torch.Tensor | None = None
        self.shape: tuple[int, ...] | None = None
        from torch.utils.data import TensorDataset

        if isinstance(sample, TensorDataset):
            sample = tuple(sample.tensors)
        if isinstance(sample, torch.Tensor):
            self.x = sample
        elif (isinstance(sample, (tuple, list)) and sample
              and all(isinstance(s, torch.Tensor) for s in sample)):
            self.x = sample[0]
            self.y = sample[1] if len(sample) > 1 else None
        elif (isinstance(sample, (tuple, list, torch.Size)) and len(sample) > 0
              and all(isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in sample)):
            self.shape = tuple(int(s) for s in sample)
        else:
            raise TypeError(
                "input_shape must be a shape without the batch dimension (e.g. (1, 28, 28)), "
                "a sample batch tensor, or an (inputs, targets) pair of tensors; got "
                f"{sample!r}"
            )
        if self.x is not None and (self.x.dim() < 1 or len(self.x) == 0):
            raise ValueError("the sample batch must have a batch dimension with at least one item")
        self.gen = torch.Generator().manual_seed(seed)

    def make(self, b: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self.shape is not None:
            x = torch.randn((b, *self.shape), generator=self.gen)
            return x.to(self.device), None
        assert self.x is not None
        idx = torch.arange(b) % len(self.x)
        x = self.x[idx.to(self.x.device)].to(self.device)
        y = None if self.y is None else self.y[idx.to(self.y.device)].to(self.device)
        return x, y


def _loss(out: Any, y: Any, loss_fn: Callable[..., torch.Tensor] | None) -> torch.Tensor:
    if loss_fn is not None and y is not None:
        return loss_fn(out, y)
    if isinstance(out, torch.Tensor):
        return out.float().mean()
    if isinstance(out, (tuple, list)):
        return sum(o.float().mean() for o in out if isinstance(o, torch.Tensor))  # type: ignore[return-value]
    if isinstance(out, dict):
        return sum(o.float().mean() for o in out.values() if isinstance(o, torch.Tensor))  # type: ignore[return-value]
    raise TypeError(f"cannot build a loss from a model output of type {type(out).__name__}; "
                    "pass loss_fn and (inputs, targets)")


def _nbytes(t: torch.Tensor) -> int:
    return t.numel() * t.element_size()


def _param_bytes(model: nn.Module) -> tuple[int, int]:
    p = sum(_nbytes(x) for x in model.parameters())
    b = sum(_nbytes(x) for x in model.buffers())
    return p, b


# ----------------------------------------------------------------------------- CPU estimate


def _saved_profile(model: nn.Module, x: torch.Tensor, y: Any, loss_fn: Any) -> tuple[int, int]:
    """(total, largest) bytes of the tensors autograd saves for the backward pass."""
    param_ptrs = set()
    for p in model.parameters():
        try:
            param_ptrs.add(p.untyped_storage().data_ptr())
        except RuntimeError:  # pragma: no cover
            pass
    saved: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        try:
            st = t.untyped_storage()
            ptr = st.data_ptr()
            if ptr not in param_ptrs:
                saved[ptr] = max(saved.get(ptr, 0), st.nbytes())
        except (RuntimeError, NotImplementedError):  # pragma: no cover - sparse, meta, ...
            pass
        return t

    model.zero_grad(set_to_none=True)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = model(x)
        loss = _loss(out, y, loss_fn)
    xp = x.untyped_storage().data_ptr()
    if xp not in saved:
        saved[xp] = _nbytes(x)
    loss.backward()
    model.zero_grad(set_to_none=True)
    vals = list(saved.values())
    return sum(vals), max(vals, default=0)


def _eval_profile(model: nn.Module, x: torch.Tensor) -> int:
    """Largest output of any module in a no-grad forward pass (bytes)."""
    largest = [0]

    def hook(_m: nn.Module, _i: Any, out: Any) -> None:
        outs = out if isinstance(out, (tuple, list)) else [out]
        for o in outs:
            if isinstance(o, torch.Tensor):
                largest[0] = max(largest[0], _nbytes(o))

    handles = [m.register_forward_hook(hook) for m in model.modules()]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    return largest[0]


def _linear(b1: int, v1: float, b2: int, v2: float) -> tuple[float, float]:
    slope = max(0.0, (v2 - v1) / (b2 - b1))
    return max(0.0, v1 - slope * b1), slope


# ----------------------------------------------------------------------------- timing


def _throughput(model: nn.Module, batches: _Batches, b: int, loss_fn: Any, iters: int,
                device: torch.device) -> float:
    x, y = batches.make(b)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda *a: None)

    def once() -> None:
        model.zero_grad(set_to_none=True)
        _loss(model(x), y, loss_fn).backward()

    once()  # warm-up
    sync(device)
    t0 = time.perf_counter()
    for _ in range(iters):
        once()
    sync(device)
    dt = time.perf_counter() - t0
    model.zero_grad(set_to_none=True)
    return b * iters / dt if dt > 0 else math.inf


# ----------------------------------------------------------------------------- search



def _candidates(name: str, values: Sequence[int]) -> list[int]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
        raise ValueError(f"{name} must be a non-empty sequence of batch sizes, got {values!r}")
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int):
            raise TypeError(f"{name} entries must be ints >= 1, got {v!r} in {list(values)!r}")
        if v < 1:
            raise ValueError(f"{name} entries must be >= 1 (batch sizes), got {v!r} in "
                             f"{list(values)!r}")
        out.append(int(v))
    return sorted(set(out))


@dataclass(frozen=True)
class BatchSizeOptions:
    """How :func:`batch_size_search` measures and what it reports.

    Attributes:
        cap: the largest default candidate (16, 32, ... up to ``cap``).
        eval_candidates: evaluation batch sizes (default: the training candidates
            continued by doubling up to 4 x their maximum).
        safety: use at most this fraction of the budget (0 < safety <= 1).
        optimizer_slots: optimizer state per parameter, in parameter-sized tensors
            (SGD with momentum: 1, Adam: 2), added to the training memory.
        probe_sizes: the two small batch sizes measured on CPU for the extrapolation.
        measure_throughput, throughput_iters: time forward + backward per candidate.
        base_lr, base_batch_size, rule: rescale ``base_lr`` (found at
            ``base_batch_size``) to the chosen batch size with :func:`rescale_lr`.

    >>> BatchSizeOptions(safety=0.5).safety
    0.5
    """

    cap: int = 1024
    eval_candidates: Sequence[int] | None = None
    safety: float = 0.8
    optimizer_slots: int = 2
    probe_sizes: tuple[int, int] = (2, 8)
    measure_throughput: bool = True
    throughput_iters: int = 3
    base_lr: float | None = None
    base_batch_size: int | None = None
    rule: str = "linear"

    def __post_init__(self) -> None:
        in_range("safety", self.safety, 0.0, 1.0, low_open=True)
        integer("optimizer_slots", self.optimizer_slots, least=0)
        integer("throughput_iters", self.throughput_iters, least=1)
        integer("cap", self.cap, least=1)
        choice("rule", self.rule, tuple(LR_RULES))
        if self.base_lr is not None:
            positive("base_lr", self.base_lr)
            if self.base_batch_size is None:
                raise ValueError("base_lr needs base_batch_size (the batch size it was found at)")
            integer("base_batch_size", self.base_batch_size, least=1)
        if len(_candidates("probe_sizes", self.probe_sizes)) != 2:
            raise ValueError(f"probe_sizes must be two different batch sizes >= 1, got "
                             f"{self.probe_sizes!r}")

    def grids(self, candidates: Sequence[int] | None) -> tuple[list[int], list[int]]:
        """The training and evaluation candidates."""
        if candidates is None:
            train_c = [b for b in (2**k for k in range(4, 31)) if b <= self.cap] or [self.cap]
        else:
            train_c = _candidates("candidates", candidates)
        if self.eval_candidates is None:
            eval_c = list(train_c)
            while eval_c[-1] * 2 <= 4 * train_c[-1]:
                eval_c.append(eval_c[-1] * 2)
        else:
            eval_c = _candidates("eval_candidates", self.eval_candidates)
        return train_c, eval_c


@dataclass
class _Measure:
    """What both measurements (CPU estimate, CUDA probe) work with."""

    net: nn.Module
    batches: _Batches
    dev: torch.device
    train_c: list[int]
    eval_c: list[int]
    loss_fn: Any
    memory_budget: Any
    o: BatchSizeOptions
    bar: Any

    def budget(self, cuda: bool) -> int:
        """The memory budget: given, or the free memory of the device (RAM on CPU)."""
        if self.memory_budget is not None:
            return parse_bytes(self.memory_budget)
        if cuda:
            free, _total = torch.cuda.mem_get_info(self.dev)
            return int(free + torch.cuda.memory_reserved(self.dev))
        return available_memory()

    def throughput(self, b: int) -> float:
        return _throughput(self.net, self.batches, b, self.loss_fn, self.o.throughput_iters,
                           self.dev)


_BS_FIELDS = tuple(BatchSizeOptions.__dataclass_fields__)


def batch_size_search(
    model: ModelLike,
    input_shape: Any,
    *,
    loss_fn: LossFn | None = None,
    device: str | torch.device | None = None,
    candidates: Sequence[int] | None = None,
    memory_budget: int | float | str | None = None,
    seed: int = 0,
    progress: Any = None,
    options: BatchSizeOptions | None = None,
    **settings: Any,
) -> BatchSizeResult:
    """The largest batch size that fits in memory, with throughput and a rescaled LR.

    Args:
        model: the model (left exactly as it was: gradients, buffers, RNG restored) or a
            zero-argument factory.
        input_shape: one sample's shape without the batch dimension (random inputs), a
            sample batch tensor, or an ``(inputs, targets)`` pair (used with ``loss_fn``;
            batches of any size are made by repeating the sample).
        loss_fn: ``loss_fn(outputs, targets)``; default: the mean of the outputs (the
            memory of a backward pass barely depends on the loss).
        device: where to measure (default: the model's device). A model on another
            device is copied there; the original is not moved.
        candidates: training batch sizes to consider (default: 16, 32, ... up to
            ``cap``).
        memory_budget: bytes (or ``"2GB"``) the run may use; default: the free memory
            of the CUDA device, or the available RAM on CPU.
        seed: seed of the random inputs.
        progress: progress over the candidates (see :mod:`onecycle.progress`).
        options, **settings: a :class:`BatchSizeOptions` and/or its fields (``cap``,
            ``eval_candidates``, ``safety``, ``optimizer_slots``, ``probe_sizes``,
            ``measure_throughput``, ``throughput_iters``, ``base_lr``,
            ``base_batch_size``, ``rule``).

    Raises ``ValueError`` when even the smallest candidate does not fit.
    """
    from ..finder.state import preserved_state
    from ..progress import Progress

    o = take_options(BatchSizeOptions, settings, options, _BS_FIELDS)
    refuse_leftovers("batch_size_search", settings)
    train_c, eval_c = o.grids(candidates)
    net = initial_model(model, seed)
    dev = model_device(net) if device is None else torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} requested but CUDA is not available")
    if model_device(net) != dev:
        net = copy.deepcopy(net).to(dev) if net is model else net.to(dev)
    batches = _Batches(input_shape, dev, seed)
    with Progress(len(train_c), "batch size", progress=progress) as bar:
        m = _Measure(net, batches, dev, train_c, eval_c, loss_fn, memory_budget, o, bar)
        with preserved_state(net):
            out = _search_cuda(m) if dev.type == "cuda" else _search_cpu(m)
    train_bs, eval_bs, rows, method, budget, estimate, reason = out
    lr = None
    if o.base_lr is not None:
        lr = rescale_lr(o.base_lr, o.base_batch_size, train_bs, o.rule)  # type: ignore[arg-type]
        reason += (f" The learning rate {fmt_lr(o.base_lr)} found at batch size "
                   f"{o.base_batch_size} becomes {fmt_lr(lr)} at batch size {train_bs} by the "
                   f"{o.rule} rule ({LR_RULES[o.rule]}).")
    return BatchSizeResult(
        train_batch_size=train_bs, eval_batch_size=eval_bs, device=str(dev), method=method,
        budget_bytes=budget, safety=o.safety, rows=rows, reason=reason, lr=lr,
        base_lr=None if o.base_lr is None else float(o.base_lr),
        base_batch_size=o.base_batch_size, rule=o.rule, rule_text=LR_RULES[o.rule],
        estimate=estimate,
    )


def _mb(n: float) -> str:
    return f"{n / 2**20:.3g} MiB"


def _cpu_profile(m: _Measure) -> tuple[Callable[[int], float], Callable[[int], float],
                                        dict[str, Any]]:
    """Bytes to train and to evaluate a batch, extrapolated from two probe batches."""
    net, batches, slots = m.net, m.batches, m.o.optimizer_slots
    pbytes, bbytes = _param_bytes(net)
    fixed_train = pbytes * (2 + slots) + bbytes
    fixed_eval = pbytes + bbytes
    b1, b2 = sorted(m.o.probe_sizes)
    net.train()
    t1, m1 = _saved_profile(net, *batches.make(b1), m.loss_fn)
    t2, m2 = _saved_profile(net, *batches.make(b2), m.loss_fn)
    net.eval()
    x1, _ = batches.make(b1)
    x2, _ = batches.make(b2)
    e1 = _eval_profile(net, x1) * 2 + _nbytes(x1)
    e2 = _eval_profile(net, x2) * 2 + _nbytes(x2)
    net.train()
    ti, ts = _linear(b1, t1, b2, t2)
    mi, ms = _linear(b1, m1, b2, m2)
    ei, es = _linear(b1, e1, b2, e2)
    estimate = {"fixed_train_bytes": fixed_train + ti + 2 * mi, "per_sample_train_bytes": ts + 2 * ms,
                "fixed_eval_bytes": fixed_eval + ei, "per_sample_eval_bytes": es,
                "probe_sizes": [b1, b2], "param_bytes": pbytes, "optimizer_slots": slots}
    return (lambda b: fixed_train + ti + ts * b + 2 * (mi + ms * b),
            lambda b: fixed_eval + ei + es * b, estimate)


def _search_cpu(m: _Measure) -> tuple:
    budget = m.budget(cuda=False)
    limit = m.o.safety * budget
    train_bytes, eval_bytes, estimate = _cpu_profile(m)
    probes = estimate["probe_sizes"]
    rows = []
    for b in sorted(set(m.train_c) | set(m.eval_c)):
        tb, eb = train_bytes(b), eval_bytes(b)
        row = {"batch_size": b, "train_bytes": int(tb), "eval_bytes": int(eb),
               "fits_train": b in m.train_c and tb <= limit,
               "fits_eval": b in m.eval_c and eb <= limit,
               "samples_per_s": None, "measured": b in probes, "oom": False}
        if row["fits_train"] and m.o.measure_throughput:
            row["samples_per_s"] = m.throughput(b)
        if b in m.train_c:
            m.bar.update(1)
        rows.append(row)
    fits_t = [r["batch_size"] for r in rows if r["fits_train"]]
    fits_e = [r["batch_size"] for r in rows if r["fits_eval"]]
    if not fits_t:
        b0 = m.train_c[0]
        raise ValueError(
            f"even the smallest candidate batch size {b0} needs about {_mb(train_bytes(b0))} "
            f"to train, more than safety x memory_budget = {m.o.safety:g} x {_mb(budget)}; "
            "give smaller candidates or a larger memory_budget"
        )
    tb, eb = fits_t[-1], (fits_e[-1] if fits_e else fits_t[-1])
    reason = (f"Training batch size {tb}: the largest candidate whose estimated memory "
              f"({_mb(train_bytes(tb))}: {_mb(estimate['fixed_train_bytes'])} fixed + "
              f"{estimate['per_sample_train_bytes'] / 1024:.3g} KiB per sample, extrapolated "
              f"from batches of {probes[0]} and {probes[1]}) is within {m.o.safety:g} x the "
              f"budget of {_mb(budget)}")
    reason += " (the largest candidate: raise cap for more)." if tb == m.train_c[-1] else "."
    reason += (f" Evaluation batch size {eb} (no backward pass: about "
               f"{estimate['per_sample_eval_bytes'] / 1024:.3g} KiB per sample).")
    return tb, eb, rows, "cpu-estimate", budget, estimate, reason


def _cuda_peak(m: _Measure, b: int, train: bool) -> tuple[int | None, bool]:
    """Peak bytes of one forward (+ backward) pass at batch ``b``; ``(None, True)`` on OOM."""
    cuda, net = torch.cuda, m.net
    cuda.empty_cache()
    cuda.reset_peak_memory_stats(m.dev)
    x = y = None
    try:
        x, y = m.batches.make(b)
        if train:
            net.train()
            net.zero_grad(set_to_none=True)
            _loss(net(x), y, m.loss_fn).backward()
        else:
            net.eval()
            with torch.no_grad():
                net(x)
        cuda.synchronize(m.dev)
        return int(cuda.max_memory_allocated(m.dev)), False
    except torch.cuda.OutOfMemoryError:
        return None, True
    finally:
        x = y = None  # noqa: F841  (free the batch before the cache is emptied)
        net.zero_grad(set_to_none=True)
        net.train()
        cuda.empty_cache()


def _cuda_train_row(m: _Measure, row: dict[str, Any], b: int, limit: float, extra: int) -> bool:
    """Probe training at ``b`` into ``row``; False once larger batches need not be tried."""
    peak, oom = _cuda_peak(m, b, True)
    row["oom"] = oom
    if peak is not None:
        row["train_bytes"] = peak + extra
        row["fits_train"] = peak + extra <= limit
    if row["fits_train"] and m.o.measure_throughput:
        try:
            row["samples_per_s"] = m.throughput(b)
        except torch.cuda.OutOfMemoryError:
            row["fits_train"], row["oom"] = False, True
            torch.cuda.empty_cache()
    m.bar.update(1)
    return bool(row["fits_train"])


def _search_cuda(m: _Measure) -> tuple:
    torch.cuda.synchronize(m.dev)
    budget = m.budget(cuda=True)
    limit = m.o.safety * budget
    pbytes, _ = _param_bytes(m.net)
    extra = pbytes * m.o.optimizer_slots  # optimizer state is not allocated by the probe
    rows: dict[int, dict[str, Any]] = {}
    go_train = go_eval = True
    for b in sorted(set(m.train_c) | set(m.eval_c)):
        row = {"batch_size": b, "train_bytes": None, "eval_bytes": None, "fits_train": False,
               "fits_eval": False, "samples_per_s": None, "measured": True, "oom": False}
        if b in m.train_c and go_train:
            go_train = _cuda_train_row(m, row, b, limit, extra)
        if b in m.eval_c and go_eval:
            peak, oom = _cuda_peak(m, b, False)
            row["oom"] = row["oom"] or oom
            if peak is not None:
                row["eval_bytes"] = peak
                row["fits_eval"] = peak <= limit
            go_eval = bool(row["fits_eval"])
        rows[b] = row
    fits_t = [b for b, r in rows.items() if r["fits_train"]]
    fits_e = [b for b, r in rows.items() if r["fits_eval"]]
    if not fits_t:
        raise ValueError(
            f"even the smallest candidate batch size {m.train_c[0]} does not fit in "
            f"{m.o.safety:g} x {_mb(budget)} on {m.dev}; give smaller candidates"
        )
    tb, eb = fits_t[-1], (fits_e[-1] if fits_e else fits_t[-1])
    reason = (f"Training batch size {tb}: the largest candidate whose probed peak memory "
              f"(forward + backward, torch.cuda.max_memory_allocated, plus "
              f"{_mb(extra)} of optimizer state) is within {m.o.safety:g} x the budget of "
              f"{_mb(budget)} on {m.dev}")
    reason += " (the largest candidate: raise cap for more)." if tb == m.train_c[-1] else "."
    reason += f" Evaluation batch size {eb} (forward only)."
    estimate = {"param_bytes": pbytes, "optimizer_slots": m.o.optimizer_slots}
    return tb, eb, list(rows.values()), "cuda-probe", budget, estimate, reason
