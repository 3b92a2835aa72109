"""The step contract shared by the range test and the Trainer: batch in, loss out.

One optimizer step of either is the same code, so a range test measures exactly what
training will do:

1. every tensor of the batch (a tensor, a tuple/list/namedtuple, a dict, or any nesting
   of those) is moved to the device (:func:`to_device`);
2. ``step_fn(model, batch)`` computes the loss -- by default, for ``(inputs, targets)``
   batches, ``loss_fn(model(inputs), targets)`` (:func:`default_step`);
3. its result may be a scalar tensor, a mapping with ``"loss"`` (a Hugging Face
   ``ModelOutput`` is one), or an object with a ``.loss`` attribute
   (:func:`read_output`). A mapping may also carry ``"outputs"`` (or ``"logits"``) and
   ``"targets"``: that is what metrics see, as ``metric(outputs, targets)``;
4. :class:`OptimizerStep` runs ``accumulation_steps`` micro-batches under autocast
   (``amp="bf16"`` or ``"fp16"`` with a ``GradScaler``), clips the gradient norm (to a
   fixed value, or with ``grad_clip="auto"`` only where it spikes:
   :mod:`onecycle.adaptive_clip`) and steps the optimizer, reporting whether the step
   was taken: fp16's scaler skips a step whose gradients are not finite, and a schedule
   must not advance then.

Example:
    >>> import torch
    >>> model = torch.nn.Linear(3, 2)
    >>> step = default_step(torch.nn.functional.cross_entropy)
    >>> out = read_output(step(model, (torch.randn(4, 3), torch.tensor([0, 1, 0, 1]))))
    >>> out.loss.shape, out.outputs.shape
    (torch.Size([]), torch.Size([4, 2]))
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch

from . import _validate as check
from .adaptive_clip import AdaptiveClip

__all__ = [
    "StepFn",
    "StepOutput",
    "Numerics",
    "OptimizerStep",
    "StepReport",
    "check_grad_clip",
    "default_step",
    "resolve_step",
    "read_output",
    "map_tensors",
    "to_device",
    "batch_size",
    "head",
    "describe",
    "resolve_device",
    "model_device",
    "AMP_MODES",
]

StepFn = Callable[[torch.nn.Module, Any], Any]

AMP_MODES = (None, "bf16", "fp16")


# ----------------------------------------------------------------------------- batches


def map_tensors(batch: Any, fn: Callable[[torch.Tensor], torch.Tensor]) -> Any:
    """``fn`` applied to every tensor of a (nested tuple/list/namedtuple/dict) batch.

    >>> map_tensors({"x": torch.ones(2), "n": 3}, lambda t: t * 2)
    {'x': tensor([2., 2.]), 'n': 3}
    """
    if isinstance(batch, torch.Tensor):
        return fn(batch)
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):  # namedtuple
        return type(batch)(*(map_tensors(b, fn) for b in batch))
    if isinstance(batch, (list, tuple)):
        return type(batch)(map_tensors(b, fn) for b in batch)
    if isinstance(batch, Mapping):
        items = {k: map_tensors(v, fn) for k, v in batch.items()}
        try:
            return type(batch)(items)  # keep dict subclasses (BatchEncoding, ...)
        except Exception:
            return items
    return batch


def to_device(batch: Any, device: torch.device | None) -> Any:
    """The whole batch on ``device`` (no-op for ``None``)."""
    if device is None:
        return batch
    non_blocking = device.type == "cuda"
    return map_tensors(batch, lambda t: t.to(device, non_blocking=non_blocking))


def batch_size(batch: Any) -> int | None:
    """Samples in a batch: the first dimension of its first tensor (None: no tensor).

    >>> batch_size({"input_ids": torch.zeros(8, 16, dtype=torch.long)})
    8
    """
    if isinstance(batch, torch.Tensor):
        return int(batch.shape[0]) if batch.dim() > 0 else None
    if isinstance(batch, Mapping):
        items: Any = batch.values()
    elif isinstance(batch, (list, tuple)):
        items = batch
    else:
        return None
    for b in items:
        n = batch_size(b)
        if n is not None:
            return n
    return None


def head(batch: Any, n: int) -> Any:
    """The first ``n`` samples of a batch: every tensor with a batch dim is sliced."""
    return map_tensors(batch, lambda t: t[:n] if t.dim() > 0 else t)


def describe(batch: Any) -> str:
    """A short description of a batch's structure, for error messages."""
    if isinstance(batch, Mapping):
        return f"a dict with keys {sorted(map(str, batch))}"
    if isinstance(batch, (list, tuple)):
        return f"a {type(batch).__name__} of length {len(batch)}"
    if isinstance(batch, torch.Tensor):
        return f"a tensor of shape {tuple(batch.shape)}"
    return f"a {type(batch).__name__}"


# ----------------------------------------------------------------------------- losses


@dataclass(frozen=True)
class StepOutput:
    """What one step produced: the scalar ``loss``, and what metrics see (or None)."""

    loss: torch.Tensor
    outputs: Any = None
    targets: Any = None


def default_step(loss_fn: Callable[..., Any]) -> StepFn:
    """The step for ``(inputs, targets)`` batches: ``loss_fn(model(inputs), targets)``.

    It returns ``{"loss", "outputs", "targets"}``, so metrics work without a step_fn.
    """

    def step(model: torch.nn.Module, batch: Any) -> dict[str, Any]:
        if not (isinstance(batch, (tuple, list)) and len(batch) == 2):
            raise TypeError(
                f"each batch must be an (inputs, targets) pair, got {describe(batch)}; "
                "without a step_fn that is the only structure understood: pass "
                "step_fn=lambda model, batch: <loss> for others (e.g. "
                "step_fn=lambda m, b: m(**b).loss)"
            )
        inputs, targets = batch
        outputs = model(inputs)
        return {"loss": loss_fn(outputs, targets), "outputs": outputs, "targets": targets}

    step.default = True  # type: ignore[attr-defined]
    return step


def resolve_step(loss_fn: Any, step_fn: Any) -> StepFn:
    """``step_fn`` if given, else :func:`default_step` of ``loss_fn`` (then required).

    >>> resolve_step(None, None)
    Traceback (most recent call last):
    ...
    TypeError: loss_fn must be callable as loss_fn(outputs, targets) (or pass step_fn=step(model, batch) -> loss), got None (NoneType)
    """
    if step_fn is not None:
        return check.function("step_fn", step_fn, "step_fn(model, batch) -> loss")
    if not callable(loss_fn):
        raise TypeError(
            "loss_fn must be callable as loss_fn(outputs, targets) (or pass "
            f"step_fn=step(model, batch) -> loss), got {loss_fn!r} ({type(loss_fn).__name__})"
        )
    return default_step(loss_fn)


def read_output(result: Any, *, training: bool = False, source: str = "step_fn") -> StepOutput:
    """The loss (and metric inputs) of a step's result; see the module docs.

    ``training=True`` also checks that the loss can be backpropagated.

    >>> read_output({"loss": torch.tensor(1.0), "logits": torch.zeros(2, 3)}).outputs.shape
    torch.Size([2, 3])
    """
    outputs = targets = None
    if isinstance(result, torch.Tensor):
        loss = result
    elif isinstance(result, Mapping):
        if "loss" not in result or result["loss"] is None:
            raise TypeError(
                f"the {source} result is a mapping without a 'loss' entry (keys "
                f"{sorted(map(str, result))}); return the loss tensor, or a dict with 'loss' "
                "(a Hugging Face model computes it when the batch has 'labels')"
            )
        loss = result["loss"]
        outputs = result.get("outputs", result.get("logits"))
        targets = result.get("targets")
    elif getattr(result, "loss", None) is not None:
        loss = result.loss
        outputs = getattr(result, "logits", None)
    else:
        raise TypeError(
            f"the {source} result must be a loss tensor, a dict with 'loss' or an object "
            f"with .loss, got {type(result).__name__}"
        )
    _check_loss(loss, training, source)
    return StepOutput(loss, outputs, targets)


def _check_loss(loss: Any, training: bool, source: str) -> None:
    if not isinstance(loss, torch.Tensor):
        raise TypeError(f"the loss ({source} result) must be a torch.Tensor, got "
                        f"{type(loss).__name__}")
    if loss.numel() != 1:
        raise ValueError(
            f"the loss ({source} result) must be a scalar, got a tensor of shape "
            f"{tuple(loss.shape)}; reduce it (e.g. reduction='mean' or loss.mean())"
        )
    if training and not loss.requires_grad:
        raise ValueError(
            f"the loss ({source} result) does not require grad, so there is nothing to "
            "backpropagate: was it computed under torch.no_grad(), detached, or does the "
            "model have no trainable parameters?"
        )


# ----------------------------------------------------------------------------- numerics


@dataclass(frozen=True)
class Numerics:
    """How a step computes: mixed precision, gradient clipping, accumulation, device.

    Args:
        amp: ``None`` (float32), ``"bf16"`` (autocast to bfloat16) or ``"fp16"``
            (autocast to float16 with a ``GradScaler``, which skips steps whose gradients
            overflow).
        grad_clip: clip the global gradient norm to this value; ``"auto"``: only a norm
            that spikes above its recent median (:mod:`onecycle.adaptive_clip`);
            ``None``: no clipping.
        accumulation_steps: micro-batches averaged into one optimizer step.
        device: where batches go (``None``: where they are).

    >>> Numerics(amp="bf16", grad_clip=1.0).accumulation_steps
    1
    """

    amp: str | None = None
    grad_clip: float | str | None = None
    accumulation_steps: int = 1
    device: torch.device | None = None

    def __post_init__(self) -> None:
        if self.amp not in AMP_MODES:
            raise ValueError(f"amp must be None, 'bf16' or 'fp16', got {self.amp!r}")
        object.__setattr__(self, "grad_clip", check_grad_clip(self.grad_clip))
        object.__setattr__(self, "accumulation_steps",
                           check.integer("accumulation_steps", self.accumulation_steps, 1))
        if self.device is not None and not isinstance(self.device, torch.device):
            object.__setattr__(self, "device", resolve_device(self.device))

    @property
    def dtype(self) -> torch.dtype | None:
        """The autocast dtype, or None without mixed precision."""
        return {"bf16": torch.bfloat16, "fp16": torch.float16}.get(self.amp or "")

    def autocast(self, device: torch.device | None = None) -> Any:
        """The autocast context for a forward pass (a null context without amp)."""
        dtype = self.dtype
        if dtype is None:
            return contextlib.nullcontext()
        dev = device or self.device or torch.device("cpu")
        return torch.autocast(device_type=dev.type, dtype=dtype)

    def for_range_test(self) -> Numerics:
        """These numerics for a range test: ``grad_clip="auto"`` is left out there, since
        the sweep must see the loss blow up to find where it does (a fixed clip stays:
        the user's training will have it).

        >>> Numerics(grad_clip="auto").for_range_test().grad_clip is None
        True
        """
        if self.grad_clip != "auto":
            return self
        return dataclasses.replace(self, grad_clip=None)

    def to_dict(self) -> dict[str, Any]:
        return {"amp": self.amp, "grad_clip": self.grad_clip,
                "accumulation_steps": self.accumulation_steps,
                "device": None if self.device is None else str(self.device)}


def check_grad_clip(value: Any) -> float | str | None:
    """``grad_clip`` checked: a number > 0, ``"auto"`` or None (a ``TypeError`` for
    another kind of value, a ``ValueError`` for a number out of range; both name it).

    >>> check_grad_clip(1), check_grad_clip("auto"), check_grad_clip(None)
    (1.0, 'auto', None)
    """
    if value is None or (isinstance(value, str) and value == "auto"):
        return value
    try:
        return check.positive("grad_clip", value)
    except (TypeError, ValueError) as err:
        raise type(err)(f"grad_clip must be a number > 0, 'auto' or None, got {value!r}"
                        ) from None


def resolve_device(device: Any) -> torch.device:
    """A ``torch.device`` from a name or device; a clear ``ValueError`` for a bad name
    or a CUDA device on a machine without CUDA.

    >>> resolve_device("cpu")
    device(type='cpu')
    """
    if isinstance(device, torch.device):
        dev = device
    else:
        if not isinstance(device, (str, int)) or isinstance(device, bool):
            raise TypeError(f"device must be a torch.device or a name such as 'cpu' or "
                            f"'cuda:0', got {device!r}")
        try:
            dev = torch.device(device)
        except (RuntimeError, TypeError, ValueError) as err:
            raise ValueError(f"device={device!r} is not a torch device name (e.g. 'cpu', "
                             f"'cuda', 'cuda:1'): {err}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={str(device)!r} asked for, but CUDA is not available here")
    return dev


@dataclass(frozen=True)
class StepReport:
    """One optimizer step: whether it was taken, the gradient norm before clipping
    (None when not clipping), and whether clipping cut it."""

    taken: bool
    grad_norm: float | None = None
    clipped: bool = False


class OptimizerStep:
    """Backward passes and the optimizer step under one :class:`Numerics`.

    ``backward(loss)`` adds one micro-batch (``loss / accumulation_steps``, scaled under
    fp16); the first backward of each optimizer step clears the previous gradients, so
    they stay readable after ``step()`` (a callback may log them) and never leak into
    the next step. ``step()`` unscales, clips and steps, and returns a
    :class:`StepReport`. ``scaler`` replaces the fp16 ``GradScaler`` (tests use it to
    force a skipped step); ``adaptive`` is the running state of ``grad_clip="auto"``
    (the Trainer keeps one across fits and checkpoints; default: a fresh one).

    >>> model = torch.nn.Linear(2, 1); opt = torch.optim.SGD(model.parameters(), lr=0.1)
    >>> runner = OptimizerStep(model, opt, Numerics(grad_clip=1.0))
    >>> runner.backward(model(torch.ones(3, 2)).sum()); runner.step().taken
    True
    """

    def __init__(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                 numerics: Numerics, *, scaler: Any = None, device: torch.device | None = None,
                 adaptive: AdaptiveClip | None = None):
        self.optimizer = optimizer
        self.numerics = numerics
        self.k = numerics.accumulation_steps
        self.clip = numerics.grad_clip
        self.adaptive = None
        if self.clip == "auto":
            self.adaptive = adaptive if adaptive is not None else AdaptiveClip()
        self.params = [p for p in model.parameters() if p.requires_grad] if self.clip else []
        if scaler is None and numerics.amp == "fp16":
            dev = device or numerics.device or model_device(model)
            scaler = torch.amp.GradScaler(dev.type)
        self.scaler = scaler
        self.skipped = 0
        self._fresh = True  # the next backward starts a new optimizer step

    def backward(self, loss: torch.Tensor) -> None:
        """Backpropagate one micro-batch's loss (averaged over the accumulation)."""
        if self._fresh:
            self.optimizer.zero_grad(set_to_none=True)
            self._fresh = False
        if self.k != 1:
            loss = loss / self.k
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
        else:
            loss.backward()

    def step(self) -> StepReport:
        """Clip and step; ``taken=False`` when fp16 skipped it."""
        opt, scaler = self.optimizer, self.scaler
        norm, clipped = None, False
        if scaler is None:
            if self.clip:
                norm, clipped = self._clip()
            opt.step()
            taken = True
        else:
            if self.clip:
                scaler.unscale_(opt)
                norm, clipped = self._clip()
            before = scaler.get_scale()
            scaler.step(opt)
            scaler.update()
            # the scaler lowers its scale exactly when it found inf/NaN and skipped
            taken = not scaler.get_scale() < before
        self._fresh = True
        if not taken:
            self.skipped += 1
        finite = norm is not None and math.isfinite(norm)
        return StepReport(taken, norm if finite else None, clipped and taken)

    def _clip(self) -> tuple[float, bool]:
        """Clip the gradients by the rule; their norm before clipping, and whether they
        were cut."""
        if self.adaptive is None:
            norm = float(torch.nn.utils.clip_grad_norm_(self.params, self.clip))
            return norm, math.isfinite(norm) and norm > self.clip  # type: ignore[operator]
        grads = [p.grad for p in self.params if p.grad is not None]
        if not grads:
            return 0.0, False
        first = grads[0].device  # a model split over devices: the norms meet on one
        norm = float(torch.linalg.vector_norm(
            torch.stack([n.to(first) for n in torch._foreach_norm(grads)])))
        cap = self.adaptive.cap(norm)
        if cap is None:
            return norm, False
        torch._foreach_mul_(grads, cap / (norm + 1e-6))
        return norm, True


def model_device(model: torch.nn.Module) -> torch.device:
    """Where a model lives: the device of its first parameter (else buffer; else CPU).

    The default ``device`` of a step: batches go where the model is.

    >>> model_device(torch.nn.Linear(2, 1))
    device(type='cpu')
    """
    for p in model.parameters():
        return p.device
    for b in model.buffers():
        return b.device
    return torch.device("cpu")
