"""How a :class:`~onecycle.train.Trainer` trains: its options, grouped and checked.

:class:`TrainerOptions` holds every option of the Trainer besides the model, loss,
optimizer and loaders. ``Trainer(..., options=TrainerOptions(...))`` is the grouped
form; the same names are accepted as flat keywords (``Trainer(..., grad_clip=0.1)``),
and keywords given next to ``options`` override its fields. Every field is checked when
the options are made, with a message that names it.

Example:
    >>> opts = TrainerOptions(grad_clip=0.1, accumulation_steps=2, seed=0)
    >>> opts.numerics().accumulation_steps, opts.replace(seed=1).seed
    (2, 1)

A bad value is refused when the options are made, e.g. ``TrainerOptions(grad_clip="a")``
is a ``TypeError`` naming ``grad_clip`` (the messages are :mod:`onecycle._validate`'s).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .. import _validate as check
from .._threads import check_threads
from ..hyper import adapter_for, supports_momentum, validate_hyper
from ..progress import progress_mode
from ..step import AMP_MODES, Numerics, StepFn, check_grad_clip, resolve_device
from .callbacks import Callback, DivergenceGuard

__all__ = [
    "TrainerOptions",
    "positive_int",
    "learning_rate",
    "learning_rates",
    "require_momentum",
    "cycle_momentum_default",
]


def positive_int(name: str, value: Any) -> int:
    """An integer >= 1 (epochs, checkpoint intervals); the type rule is
    :func:`onecycle._validate.integer`'s.

    >>> positive_int("epochs", 3)
    3
    """
    v = check.integer(name, value, least=None)
    if v < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return v


def learning_rate(name: str, value: Any) -> float:
    """A learning rate: a real number (never a string or a bool), finite and > 0.

    >>> learning_rate("max_lr", 0.5)
    0.5
    >>> learning_rate("lr", "0.1")
    Traceback (most recent call last):
    ...
    TypeError: lr must be a real number, got '0.1' (str)
    """
    if isinstance(value, (str, bytes, bool)) or value is None:
        check.real(name, value)  # raises the shared type message
    return validate_hyper("lr", value, name)


def learning_rates(name: str, value: Any, optimizer: torch.optim.Optimizer) -> list[float]:
    """One learning rate or one per param group, each checked, and small enough for
    the parameters' dtype (a float32 parameter cannot take a step of ``lr=1e308``).

    >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    >>> learning_rates("lr", [0.2], opt)
    [0.2]
    """
    values = list(value) if isinstance(value, (list, tuple)) else [value]
    out = [learning_rate(name, v) for v in values]
    top = _largest_step(optimizer)
    for v in out:
        if v > top:
            raise ValueError(
                f"{name}={v:g} is larger than the parameters' dtype can hold ({top:.3g}); "
                "a learning rate that large would overflow in the optimizer step"
            )
    return out


def _largest_step(optimizer: torch.optim.Optimizer) -> float:
    top = float("inf")
    for g in optimizer.param_groups:
        for p in g["params"]:
            if p.is_floating_point():
                top = min(top, float(torch.finfo(p.dtype).max))
    return top


def require_momentum(optimizer: torch.optim.Optimizer) -> None:
    """Raise the standard error when ``optimizer`` has no momentum-like hyper-parameter.

    >>> require_momentum(torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1))
    """
    if not supports_momentum(optimizer):
        adapter_for(optimizer).key_for("momentum", type(optimizer).__name__)


def cycle_momentum_default(
    optimizer: torch.optim.Optimizer, options: Mapping[str, Any]
) -> tuple[dict[str, Any], str | None]:
    """1cycle options with ``momentum=None`` filled in for an optimizer that has no
    momentum-like hyper-parameter (when the caller did not choose), and a note saying
    so (None when nothing was filled in).

    >>> opt = torch.optim.Adagrad([torch.nn.Parameter(torch.zeros(1))])
    >>> cycle_momentum_default(opt, {})[0]
    {'momentum': None}
    """
    opts = dict(options)
    if "momentum" in opts or supports_momentum(optimizer):
        return opts, None
    opts["momentum"] = None
    return opts, (f"{type(optimizer).__name__} has no momentum-like hyper-parameter; "
                  "momentum not cycled")


@dataclass(frozen=True)
class TrainerOptions:
    """Every option of a :class:`~onecycle.train.Trainer` (see docs/training.md).

    Computing a step:
        step_fn: ``step_fn(model, batch) -> loss`` (a scalar tensor, a dict with
            ``"loss"`` and optionally ``"outputs"``/``"logits"`` and ``"targets"``, or
            an object with ``.loss``); ``None``: ``loss_fn(model(inputs), targets)``
            for ``(inputs, targets)`` batches.
        eval_fn: the same contract for validation (default: ``step_fn``), run under
            ``torch.no_grad()``; metrics see its outputs and targets.
        accumulation_steps: micro-batches averaged into one optimizer step.
        grad_clip: clip the global gradient norm to this value; ``"auto"``: only a step
            whose norm spikes above 3x its recent median (:mod:`onecycle.adaptive_clip`;
            not applied in range tests); ``None``: no clipping.
        amp: ``None``, ``"bf16"`` or ``"fp16"`` (with a GradScaler; a step it skips for
            inf gradients does not advance the schedule). Both work on CPU and CUDA.
        device: ``"cpu"`` (default), ``"cuda"``, ``"cuda:1"``, ...; the model is moved.
        threads: torch CPU threads during each fit, evaluation and range test (the
            previous number is put back after); ``None`` leaves torch's setting.

    Around the loop:
        metrics: ``"accuracy"``, a callable ``(outputs, targets) -> number``, a list of
            those or a dict ``{name: metric}``.
        seed: seed python/numpy/torch now (an int in ``[0, 2**63 - 1]``).
        callbacks: extra :class:`~onecycle.train.Callback` objects.
        divergence_guard: ``True`` (a :class:`~onecycle.train.DivergenceGuard`),
            ``False``, or a configured guard.
        checkpoint_dir, checkpoint_every: write ``checkpoint_dir/last.pt`` at every
            epoch end, at the end of a fit and every ``checkpoint_every`` steps.
        progress: ``False`` silent; ``True``/``None`` a bar on a terminal, bounded
            lines in a log (see :mod:`onecycle.progress`); ``"bar"``/``"lines"``.

    >>> TrainerOptions(amp="bf16").amp
    'bf16'
    """

    metrics: Any = None
    step_fn: StepFn | None = None
    eval_fn: StepFn | None = None
    accumulation_steps: int = 1
    grad_clip: float | str | None = None
    amp: str | None = None
    device: str | torch.device | None = None
    threads: int | None = None
    seed: int | None = None
    callbacks: Sequence[Callback] = ()
    divergence_guard: bool | DivergenceGuard = True
    checkpoint_dir: str | os.PathLike[str] | None = None
    checkpoint_every: int | None = None
    progress: bool | str | None = None

    def __post_init__(self) -> None:
        put = object.__setattr__
        for name in ("step_fn", "eval_fn"):
            value = getattr(self, name)
            if value is not None:
                check.function(name, value, f"{name}(model, batch) -> loss")
        put(self, "accumulation_steps", check.integer("accumulation_steps",
                                                      self.accumulation_steps, least=1))
        put(self, "grad_clip", check_grad_clip(self.grad_clip))
        check.choice("amp", self.amp, AMP_MODES)
        put(self, "device", resolve_device("cpu" if self.device is None else self.device))
        put(self, "threads", check_threads(self.threads))
        if self.seed is not None:
            put(self, "seed", check.seed("seed", self.seed))
        put(self, "callbacks", _callbacks(self.callbacks))
        if not isinstance(self.divergence_guard, (bool, DivergenceGuard)):
            raise TypeError(f"divergence_guard must be True, False or a DivergenceGuard, got "
                            f"{self.divergence_guard!r}")
        if self.checkpoint_dir is not None:
            put(self, "checkpoint_dir", Path(self.checkpoint_dir))
        if self.checkpoint_every is not None:
            put(self, "checkpoint_every",
                positive_int("checkpoint_every", self.checkpoint_every))
            if self.checkpoint_dir is None:
                raise ValueError("checkpoint_every needs checkpoint_dir")
        progress_mode(self.progress)  # refuses anything that is not a progress= value

    @classmethod
    def build(cls, options: TrainerOptions | None, keywords: Mapping[str, Any]) -> TrainerOptions:
        """``options`` (default: all defaults) with ``keywords`` replacing its fields; an
        unknown keyword is a ``TypeError`` listing the known ones.

        >>> TrainerOptions.build(None, {"seed": 3}).seed
        3
        """
        return check.grouped_options(cls, options, keywords, "Trainer()")

    def replace(self, **changes: Any) -> TrainerOptions:
        """A copy with ``changes`` (checked like the original)."""
        return dataclasses.replace(self, **changes)

    def numerics(self) -> Numerics:
        """The :class:`onecycle.step.Numerics` of these options (what the range test
        is given so it measures under the same numerics as the fit)."""
        return Numerics(amp=self.amp, grad_clip=self.grad_clip,
                        accumulation_steps=self.accumulation_steps,
                        device=self.device)  # type: ignore[arg-type]


def _callbacks(callbacks: Any) -> tuple[Callback, ...]:
    if isinstance(callbacks, Callback):
        callbacks = [callbacks]
    out = tuple(callbacks)
    for cb in out:
        if not isinstance(cb, Callback):
            raise TypeError(f"callbacks must be Callback instances, got {type(cb).__name__}")
    return out
