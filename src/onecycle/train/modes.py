"""Optimizers with train and eval modes (schedule-free): where their weights are judged.

Schedule-free SGD and AdamW (PyPI ``schedulefree``, Defazio et al. 2024) keep two
sequences: the model's parameters hold the point the gradients are taken at (``y``)
while training, and the averaged weights (``x``) -- the ones that are evaluated and
kept -- only after ``optimizer.eval()``. Their README: call ``optimizer.train()`` where
``model.train()`` is called, ``optimizer.eval()`` where ``model.eval()`` is, and keep
the optimizer in eval mode when storing checkpoints. The Trainer does exactly that
through this module, for any optimizer that looks like theirs (:func:`has_modes`):

* a fit switches the optimizer to train mode before its first step and leaves it in
  eval mode when it ends (the model then holds the averaged weights);
* every evaluation and every checkpoint happens inside :func:`averaged_weights`, which
  switches to eval mode and back;
* BatchNorm statistics collected while training belong to ``y``, not ``x``: before an
  evaluation they are recomputed at ``x`` over the first :data:`BN_REFRESH_BATCHES`
  training batches (the README's recipe; :func:`refresh_batchnorm`), with the global
  RNGs put back afterwards so training is not perturbed.

For every other optimizer all of this does nothing.

Example:
    >>> import torch
    >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    >>> has_modes(opt)
    False
    >>> with averaged_weights(opt) as switched:
    ...     switched
    False
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterable, Iterator
from typing import Any

import torch

from .._rng import rng_state, set_rng_state
from ..step import Numerics, StepFn, to_device

__all__ = [
    "has_modes",
    "in_train_mode",
    "set_train_mode",
    "set_eval_mode",
    "averaged_weights",
    "has_batchnorm",
    "refresh_batchnorm",
    "BN_REFRESH_BATCHES",
]

#: training batches over which BatchNorm statistics are recomputed at the averaged
#: weights (the schedulefree README's ``itertools.islice(train_loader, 50)``)
BN_REFRESH_BATCHES = 50


def has_modes(optimizer: Any) -> bool:
    """Whether ``optimizer`` has schedule-free style ``train()``/``eval()`` modes: both
    methods and a ``train_mode`` flag in its param groups.

    >>> has_modes(torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))]))
    False
    """
    groups = getattr(optimizer, "param_groups", None)
    return (callable(getattr(optimizer, "train", None))
            and callable(getattr(optimizer, "eval", None))
            and bool(groups) and "train_mode" in groups[0])


def in_train_mode(optimizer: Any) -> bool:
    """True when an optimizer with modes is in train mode (False for the others).

    >>> in_train_mode(torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1))
    False
    """
    return has_modes(optimizer) and bool(optimizer.param_groups[0]["train_mode"])


def set_train_mode(optimizer: Any) -> None:
    """``optimizer.train()`` for an optimizer with modes that is not in train mode.

    >>> set_train_mode(torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1))
    """
    if has_modes(optimizer) and not in_train_mode(optimizer):
        optimizer.train()


def set_eval_mode(optimizer: Any) -> None:
    """``optimizer.eval()`` for an optimizer with modes that is in train mode.

    >>> set_eval_mode(torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1))
    """
    if in_train_mode(optimizer):
        optimizer.eval()


@contextlib.contextmanager
def averaged_weights(optimizer: Any) -> Iterator[bool]:
    """Inside: the optimizer in eval mode (the model holds the averaged weights); on
    exit the mode it had. Yields whether it switched.

    >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    >>> with averaged_weights(opt) as switched:
    ...     print(switched)
    False
    """
    switched = in_train_mode(optimizer)
    if switched:
        optimizer.eval()
    try:
        yield switched
    finally:
        if switched:
            optimizer.train()


#: the layers whose running statistics belong to the weights they were gathered at
_NORMS = (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d, torch.nn.BatchNorm3d,
          torch.nn.SyncBatchNorm)


def has_batchnorm(model: torch.nn.Module) -> bool:
    """Whether ``model`` has BatchNorm layers that keep running statistics.

    >>> has_batchnorm(torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2)))
    True
    """
    return any(isinstance(m, _NORMS) and m.track_running_stats for m in model.modules())


def refresh_batchnorm(model: torch.nn.Module, loader: Iterable[Any], step: StepFn,
                      numerics: Numerics | None = None, *,
                      batches: int = BN_REFRESH_BATCHES) -> int:
    """Recompute the running statistics of every BatchNorm layer of ``model`` as the
    exact average over the first ``batches`` batches of ``loader`` (forward passes of
    ``step(model, batch)`` in train mode, without gradients). The model's train/eval
    flags, the global RNGs and a loader's ``epoch`` counter are put back. Returns the
    batches used (0 when the model has no BatchNorm layer).

    >>> m = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2))
    >>> data = [(torch.randn(8, 2), torch.zeros(8, dtype=torch.long))] * 3
    >>> refresh_batchnorm(m, data, lambda mod, b: mod(b[0]).sum())
    3
    """
    norms = [m for m in model.modules() if isinstance(m, _NORMS) and m.track_running_stats]
    if not norms:
        return 0
    numerics = numerics or Numerics()
    device = numerics.device
    modes = [(m, m.training) for m in model.modules()]
    momenta = [m.momentum for m in norms]
    rng = rng_state()
    epoch = getattr(loader, "epoch", None)
    used = 0
    try:
        for m in norms:
            m.reset_running_stats()
            m.momentum = None  # a cumulative average: exact over the batches seen
        model.train()
        with torch.no_grad(), numerics.autocast(device):
            for batch in itertools.islice(loader, batches):
                step(model, to_device(batch, device))
                used += 1
    finally:
        for m, mom in zip(norms, momenta):
            m.momentum = mom
        for m, flag in modes:
            m.training = flag
        set_rng_state(rng)
        if isinstance(epoch, int) and callable(getattr(loader, "set_epoch", None)):
            loader.set_epoch(epoch)
    return used
