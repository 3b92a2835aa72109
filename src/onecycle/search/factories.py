"""What the searches build for each trial: the initial model, the optimizer, the loaders.

A search is given a model (or a zero-argument factory) and ``make_optimizer(model)``;
every trial builds its optimizer through :func:`build_optimizer`, so an optimizer class
or a ``functools.partial`` of one works as well as a function. :class:`WithWeightDecay`
fixes the weight decay of such a factory (the recipe's momentum runs use the weight
decay chosen before them), and :func:`tensor_loaders` turns in-memory tensors into the
loaders the recipe uses.

Example:
    >>> import functools, torch
    >>> m = initial_model(lambda: torch.nn.Linear(2, 1), seed=0)
    >>> opt = WithWeightDecay(functools.partial(torch.optim.SGD, lr=0.1), 1e-4)(m)
    >>> type(opt).__name__, opt.param_groups[0]["weight_decay"]
    ('SGD', 0.0001)
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

__all__ = [
    "MakeOptimizer",
    "ModelLike",
    "LossFn",
    "initial_model",
    "build_optimizer",
    "WithWeightDecay",
    "as_tensors",
    "tensor_loaders",
    "auto_metrics",
]

#: ``make_optimizer(model) -> Optimizer`` (or an optimizer class / partial of one)
MakeOptimizer = Callable[[Any], torch.optim.Optimizer]
#: a model, or a zero-argument factory of one
ModelLike = nn.Module | Callable[[], nn.Module]
#: ``loss_fn(outputs, targets) -> scalar``
LossFn = Callable[..., torch.Tensor]


def initial_model(model: Any, seed: int | None) -> nn.Module:
    """The initial model of a search: ``model`` itself, or ``model()`` for a factory.

    A factory is called with torch seeded by ``seed`` (so the initial weights are a
    function of the seed); the global RNG state is put back afterwards.

    >>> a = initial_model(lambda: nn.Linear(3, 1), seed=1)
    >>> b = initial_model(lambda: nn.Linear(3, 1), seed=1)
    >>> torch.equal(a.weight, b.weight)
    True
    """
    if isinstance(model, nn.Module):
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
    if not isinstance(built, nn.Module):
        raise TypeError(f"make_model() must return a torch.nn.Module, got {type(built).__name__}")
    return built


def _takes_params(make_optimizer: Any) -> bool:
    """True for an optimizer class (or a partial of one): call it with the parameters."""
    f = make_optimizer
    while isinstance(f, functools.partial):
        f = f.func
    return isinstance(f, type) and issubclass(f, torch.optim.Optimizer)


def build_optimizer(make_optimizer: Any, model: nn.Module) -> torch.optim.Optimizer:
    """``make_optimizer(model)``; an optimizer class or ``functools.partial`` of one is
    called with ``model.parameters()`` instead.

    >>> m = nn.Linear(2, 1)
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


class WithWeightDecay:
    """``make_optimizer`` followed by a fixed weight decay (picklable for workers).

    ``weight_decay=None`` leaves the optimizer as built. Groups kept at 0 stay at 0
    (see :func:`onecycle.search.set_weight_decay`).

    >>> opt = WithWeightDecay(functools.partial(torch.optim.SGD, lr=0.1), 0.01)(nn.Linear(2, 1))
    >>> opt.param_groups[0]["weight_decay"]
    0.01
    """

    def __init__(self, make_optimizer: Any, weight_decay: float | None) -> None:
        self.make_optimizer = make_optimizer
        self.weight_decay = weight_decay

    def __call__(self, model: nn.Module) -> torch.optim.Optimizer:
        from .setters import set_weight_decay

        opt = build_optimizer(self.make_optimizer, model)
        if self.weight_decay is not None:
            set_weight_decay(model, opt, self.weight_decay)
        return opt


def as_tensors(name: str, data: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """``(inputs, targets)`` from a ``TensorDataset`` or a pair of tensors/arrays.

    >>> x, y = as_tensors("train_data", (np.zeros((4, 2), "float32"), np.arange(4)))
    >>> tuple(x.shape), y.tolist()
    ((4, 2), [0, 1, 2, 3])
    """
    from torch.utils.data import TensorDataset

    if isinstance(data, TensorDataset):
        tensors = tuple(data.tensors)
    elif isinstance(data, (tuple, list)) and len(data) == 2:
        tensors = tuple(torch.as_tensor(np.asarray(t)) if isinstance(t, np.ndarray) else t
                        for t in data)
    else:
        raise TypeError(
            f"{name} must be a TensorDataset or an (inputs, targets) pair of tensors, got "
            f"{type(data).__name__}"
        )
    if len(tensors) != 2 or not all(isinstance(t, torch.Tensor) for t in tensors):
        raise TypeError(f"{name} must hold exactly two tensors (inputs, targets)")
    x, y = tensors
    if len(x) != len(y) or len(x) == 0:
        raise ValueError(f"{name}: inputs and targets must have the same, non-zero length "
                         f"(got {len(x)} and {len(y)})")
    return x, y


def tensor_loaders(
    train: tuple[torch.Tensor, torch.Tensor],
    val: tuple[torch.Tensor, torch.Tensor] | None,
    batch_size: int,
    eval_batch_size: int | None,
    seed: int,
) -> tuple[Any, Any]:
    """A shuffled training loader and an evaluation loader (batches of
    ``eval_batch_size``, default 4 x ``batch_size``) over in-memory tensors.

    >>> t = (torch.zeros(10, 2), torch.zeros(10))
    >>> tl, vl = tensor_loaders(t, t, 4, None, seed=0)
    >>> len(tl), len(vl)
    (3, 1)
    """
    from ..data import TensorLoader

    tl = TensorLoader(train, batch_size, shuffle=True, seed=seed)
    vl = None
    if val is not None:
        vl = TensorLoader(val, max(1, min(len(val[0]), eval_batch_size or 4 * batch_size)))
    return tl, vl


def auto_metrics(metrics: Any, targets: torch.Tensor) -> Any:
    """``metrics`` as given, or for ``"auto"``: accuracy for integer class targets.

    >>> auto_metrics("auto", torch.tensor([0, 1])), auto_metrics("auto", torch.zeros(2))
    (['accuracy'], None)
    """
    if metrics != "auto":
        return metrics
    if targets.dtype in (torch.int64, torch.int32, torch.int16, torch.uint8) and targets.dim() == 1:
        return ["accuracy"]
    return None
