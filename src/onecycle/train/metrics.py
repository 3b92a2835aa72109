"""Metrics and the validation pass of the :class:`~onecycle.train.Trainer`.

A metric is ``metric(outputs, targets) -> number`` (a 0-d tensor is fine and avoids a
host sync per batch). What it sees comes from the step's result (see
:mod:`onecycle.step`): the default step (``loss_fn(model(inputs), targets)``) gives the
model's outputs and the batch's targets; a ``step_fn``/``eval_fn`` returning a dict
gives its ``"outputs"`` (or ``"logits"``) and ``"targets"``; an object with ``.loss``
gives its ``.logits``, with the targets taken from a dict batch's ``"labels"`` (the
Hugging Face convention). A step that returns only a loss has nothing to show a metric:
asking for metrics then is a ``TypeError`` that says what to return.

Each batch's loss and metrics are weighted by its size
(:func:`onecycle.step.batch_size`), which is exact for losses that average over the
batch.

Example:
    >>> import torch
    >>> parse_metrics(["accuracy", lambda o, t: 0.5]).keys()
    dict_keys(['accuracy', 'metric1'])
    >>> float(accuracy(torch.tensor([[2.0, 0.0], [0.0, 1.0]]), torch.tensor([0, 1])))
    1.0
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import torch

from .. import _validate as check
from ..step import Numerics, StepFn, StepOutput, batch_size, read_output, to_device

__all__ = ["accuracy", "METRICS", "MetricFn", "parse_metrics", "evaluate_loader"]

MetricFn = Callable[[Any, Any], Any]


def accuracy(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Top-1 accuracy of logits ``outputs`` against class indices ``targets``.

    Multi-class logits ``(N, C)`` use the argmax; one logit per sample ``(N,)`` or
    ``(N, 1)`` is a binary classifier thresholded at 0; one-hot / soft targets of the
    same shape as the outputs are compared by argmax. Returns a 0-d tensor (no sync).

    >>> float(accuracy(torch.tensor([[2.0, 0.0], [0.0, 1.0]]), torch.tensor([0, 0])))
    0.5
    """
    if outputs.ndim >= 2 and outputs.shape[-1] > 1:
        pred = outputs.argmax(-1)
        if targets.shape == outputs.shape:
            targets = targets.argmax(-1)
    else:
        pred = (outputs.reshape(targets.shape) > 0).to(targets.dtype)
    return (pred == targets).float().mean()


METRICS: dict[str, MetricFn] = {"accuracy": accuracy, "acc": accuracy}


def _named(metrics: Any) -> list[tuple[str, Any]]:
    if isinstance(metrics, str) or callable(metrics):
        metrics = [metrics]
    if isinstance(metrics, Mapping):
        return [(str(k), v) for k, v in metrics.items()]
    if not isinstance(metrics, Iterable):
        raise TypeError(f"metrics must be a name, a callable, a list or a dict, got {metrics!r}")
    items = []
    for i, m in enumerate(metrics):
        if isinstance(m, str):
            items.append((m, m))
            continue
        name = getattr(m, "__name__", None)
        items.append((name if name and name != "<lambda>" else f"metric{i}", m))
    return items


def parse_metrics(metrics: Any) -> dict[str, MetricFn]:
    """``{name: metric}`` from a name, a callable, a list of them or a dict; callables
    are named by ``__name__`` (lambdas by position: ``metric0``, ...).

    >>> list(parse_metrics({"top1": "accuracy"}))
    ['top1']
    """
    if metrics is None:
        return {}
    out: dict[str, MetricFn] = {}
    for name, m in _named(metrics):
        if isinstance(m, str):
            if m not in METRICS:
                raise ValueError(f"unknown metric {m!r}; built in: {sorted(METRICS)}, or pass "
                                 "a callable(outputs, targets) -> float")
            m = METRICS[m]
        if not callable(m):
            raise TypeError(f"metric {name!r} must be callable(outputs, targets), got {m!r}")
        if name == "loss":
            raise ValueError("a metric cannot be called 'loss' (that name is the loss)")
        if name in out:
            raise ValueError(f"two metrics are called {name!r}; use a dict to name them")
        out[name] = m
    return out


def _metric_inputs(out: StepOutput, batch: Any, source: str) -> tuple[Any, Any]:
    targets = out.targets
    if targets is None and isinstance(batch, Mapping):
        targets = batch.get("labels")
    if out.outputs is None or targets is None:
        missing = "outputs" if out.outputs is None else "targets"
        raise TypeError(
            f"metrics need the model's outputs and the targets, but the {source} result "
            f"has no {missing}: return {{'loss': ..., 'outputs': ..., 'targets': ...}} "
            "from it (or pass eval_fn= that does), or drop the metrics"
        )
    return out.outputs, targets


def _metric_value(name: str, value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise ValueError(f"metric {name!r} must return a number or a one-element "
                             f"tensor, got a tensor of shape {tuple(value.shape)}")
        return value.detach().double().reshape(())
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)  # NaN included: an undefined metric is reported, not refused
    return check.real(f"metric {name!r} result", value, finite=False)


class _Sums:
    """Size-weighted sums of the loss and each metric (tensors: no sync per batch)."""

    def __init__(self, names: Iterable[str]) -> None:
        self.loss: Any = 0.0
        self.metrics: dict[str, Any] = dict.fromkeys(names, 0.0)
        self.count = 0

    def values(self) -> list[Any]:
        return [self.loss, *self.metrics.values()]


def _one_batch(sums: _Sums, model: torch.nn.Module, batch: Any, step: StepFn,
               metrics: Mapping[str, MetricFn], numerics: Numerics, source: str) -> None:
    device = numerics.device
    if device is not None and device.type != "cpu":
        batch = to_device(batch, device)
    with numerics.autocast():
        out = read_output(step(model, batch), source=source)
    n = batch_size(batch) or 1
    sums.loss = sums.loss + out.loss.detach().double() * n
    if metrics:
        outputs, targets = _metric_inputs(out, batch, source)
        for name, fn in metrics.items():
            sums.metrics[name] = sums.metrics[name] + _metric_value(name, fn(outputs, targets)) * n
    sums.count += n


def evaluate_loader(
    model: torch.nn.Module, loader: Iterable[Any], step: StepFn,
    metrics: Mapping[str, MetricFn], numerics: Numerics, *, dist: Any = None,
    source: str = "eval_fn",
) -> dict[str, float]:
    """``{"loss": ..., <metric>: ...}`` over ``loader``, in eval mode under
    ``torch.no_grad()`` (each sub-module's train/eval flag is put back afterwards). With
    an active ``dist`` context the sums are all-reduced, so every rank gets the same.

    >>> from onecycle.step import default_step
    >>> m = torch.nn.Linear(2, 2); data = [(torch.ones(3, 2), torch.tensor([0, 1, 1]))]
    >>> sorted(evaluate_loader(m, data, default_step(torch.nn.functional.cross_entropy),
    ...                        {"accuracy": accuracy}, Numerics()))
    ['accuracy', 'loss']
    """
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    sums = _Sums(metrics)
    try:
        with torch.no_grad():
            for batch in loader:
                _one_batch(sums, model, batch, step, metrics, numerics, source)
    finally:
        for m, flag in modes:  # per module: frozen sub-modules stay frozen
            m.training = flag
    vals, count = sums.values(), sums.count
    if dist is not None and dist.active:
        dev = numerics.device if numerics.device is not None and \
            numerics.device.type == "cuda" else "cpu"
        t = torch.tensor([float(v) for v in vals] + [float(count)], dtype=torch.float64,
                         device=dev)
        dist.all_reduce_sum(t)
        vals, count = t[:-1].tolist(), int(t[-1].item())
    if count == 0:
        raise ValueError("evaluate(): the loader yielded no batches")
    result = {"loss": float(vals[0]) / count}
    for name, v in zip(metrics, vals[1:]):
        result[name] = float(v) / count
    return result
