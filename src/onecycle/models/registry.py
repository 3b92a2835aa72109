"""The model registry: names to factories, and the resolver for names, specs and callables.

Example:
    >>> m = create("mlp", (4,), 1)  # one output: a regression head
    >>> m[-1].out_features, "char_transformer" in MODELS
    (1, True)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from torch import nn

from .._imports import import_object, is_import_spec
from .hf import hf_gpt2_tiny
from .resnet import resnet20, resnet56
from .sequence import cnn1d
from .transformer import char_transformer
from .vision import caffe_lenet, lenet, mlp, small_cnn

__all__ = ["MODELS", "count_parameters", "create", "register_model", "resolve"]


#: Model factories by name: ``factory(input_shape, num_classes, **kw) -> nn.Module``.
MODELS: dict[str, Callable[..., nn.Module]] = {
    "mlp": mlp,
    "lenet": lenet,
    "caffe_lenet": caffe_lenet,
    "small_cnn": small_cnn,
    "resnet20": resnet20,
    "resnet56": resnet56,
    "cnn1d": cnn1d,
    "char_transformer": char_transformer,
    "hf_gpt2_tiny": hf_gpt2_tiny,  # imports transformers only when called
}


def _key(name: str) -> str:
    return name.strip().lower().replace("-", "_")


def register_model(name: str, factory: Callable[..., nn.Module]) -> None:
    """Add ``factory(input_shape, num_classes, **kw)`` to :data:`MODELS` under ``name``.

    Example:
        >>> register_model("linear", lambda shape, k: mlp(shape, k, hidden=()))
        >>> "linear" in MODELS
        True
        >>> del MODELS["linear"]
    """
    if not callable(factory):
        raise TypeError(f"factory must be callable, got {type(factory).__name__}")
    MODELS[_key(name)] = factory


def create(name: str, input_shape: Sequence[int], num_classes: int, **kw: object) -> nn.Module:
    """Build the model registered as ``name`` (case-insensitive, ``-`` same as ``_``).

    Example:
        >>> import torch
        >>> create("caffe-lenet", (1, 8, 8), 10)(torch.zeros(1, 1, 8, 8)).shape
        torch.Size([1, 10])
    """
    key = _key(name)
    if key not in MODELS:
        raise ValueError(
            f"name={name!r} is not a known model; allowed: {', '.join(repr(k) for k in MODELS)}"
        )
    return MODELS[key](input_shape, num_classes, **kw)


def count_parameters(model: nn.Module, *, trainable_only: bool = True) -> int:
    """Number of (trainable) parameters of ``model``.

    Example:
        >>> count_parameters(mlp((4,), 3, hidden=(5,)))
        43
    """
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def resolve(
    spec: str | Callable[..., Any],
    input_shape: Sequence[int],
    num_classes: int,
    *,
    allow_imports: bool = True,
    **options: Any,
) -> nn.Module:
    """Build a model from a registered name, a ``"package.module:factory"`` spec or a callable.

    The factory is called as ``factory(input_shape, num_classes, **options)`` and must
    return an ``nn.Module``. An import spec goes through
    :func:`onecycle._imports.import_object`, so with ``allow_imports=False`` (a spec
    read from a config file without ``--allow-imports``) it is refused before anything
    is imported.

    Example:
        >>> resolve("mlp", (1, 8, 8), 10, hidden=(16,)).__class__.__name__
        'Sequential'
        >>> resolve("torch.nn:Bilinear", (4,), 3, allow_imports=False)
        Traceback (most recent call last):
        ...
        ValueError: model 'torch.nn:Bilinear' is an import path, and importing it runs code; it is refused here: pass --allow-imports (or give it on the command line, or pass allow_imports=True from Python)
    """
    if callable(spec) and not isinstance(spec, str):
        factory, label = spec, getattr(spec, "__name__", "model")
    elif is_import_spec(spec):
        factory = import_object(spec, "model", allowed=allow_imports)
        label = str(spec).strip()
        if not callable(factory):
            raise ValueError(f"model {label!r} is not callable (it is called as "
                             "factory(input_shape, num_classes, **model_options))")
    elif isinstance(spec, str):
        try:
            return create(spec, tuple(input_shape), num_classes, **options)
        except TypeError as err:
            raise TypeError(f"model {spec!r}: bad model_options {options!r} ({err})") from None
    else:
        raise TypeError(
            f"model must be a model name, a 'package.module:factory' string or a callable, "
            f"got {spec!r} ({type(spec).__name__})"
        )
    model = factory(tuple(input_shape), num_classes, **options)
    if not isinstance(model, nn.Module):
        raise TypeError(
            f"model factory {label!r} returned {type(model).__name__}, expected a "
            "torch.nn.Module (it is called as factory(input_shape, num_classes))"
        )
    return model
