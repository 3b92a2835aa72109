"""What a comparison trains: the model, the optimizer, the data and the task, per seed.

:func:`resolve_workload` turns ``compare``'s arguments into a :class:`Workload`:

* ``data``: a dataset name or path, a :class:`~onecycle.data.DatasetBundle`, a tuple of
  ``(train, val[, test])`` loaders, or a function ``seed -> (train, val[, test])``;
* ``model``: a registered model name, an ``nn.Module`` (its weights are the initial
  ones of every seed), a zero-argument factory, or a factory called as
  ``factory(input_shape, num_classes)`` with a bundle; ``None``: the dataset's default;
* ``optimizer``: ``"sgd"``, ``"adam"``, ``"adamw"`` (built as ``onecycle run`` builds
  them) or ``make_optimizer(model)`` / an optimizer class or ``functools.partial`` of
  one. Its LR does not matter: every fit sets its own;
* the task (loss, step, metrics, headline and its direction) from the bundle, or
  classification, with ``loss_fn``/``step_fn``/``metrics``/``task`` overriding it.

A factory is called with torch seeded by the seed, so the initial weights are a function
of the seed; every alternative of a seed starts from a copy of the same model and sees
the same batches in the same order.

Example:
    >>> w = resolve_workload("mlp", "digits", None)
    >>> w.task.headline, w.optimizer_name, len(w.loaders(0))
    ('accuracy', 'sgd', 3)
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

__all__ = ["Workload", "resolve_workload", "NamedOptimizer", "load_bundle", "same_weights"]


class NamedOptimizer:
    """``make_optimizer(model)`` for ``"sgd"``/``"adam"``/``"adamw"``, built by
    :meth:`onecycle.config.OptimizerConfig.build` with the configuration's momentum and
    weight decay defaults (picklable, for worker processes).

    >>> type(NamedOptimizer("adamw")(nn.Linear(2, 2))).__name__
    'AdamW'
    """

    def __init__(self, name: str, weight_decay: float | None = None) -> None:
        from ..config import OptimizerConfig, WeightDecayConfig

        self.config = OptimizerConfig(name=name)
        if self.config.name not in ("sgd", "adam", "adamw"):
            raise ValueError(f"optimizer must be 'sgd', 'adam', 'adamw' or a function "
                             f"make_optimizer(model), got {name!r}")
        self.name = self.__name__ = name
        self.weight_decay = WeightDecayConfig().value if weight_decay is None else weight_decay

    def __call__(self, model: nn.Module) -> torch.optim.Optimizer:
        # the LR is a placeholder > 0: the range test and every fit set their own
        return self.config.build(model.parameters(), 1e-3, self.weight_decay)


@dataclass(frozen=True)
class Workload:
    """One model + optimizer + data + task, buildable for any seed.

    Attributes:
        dataset, model_name, optimizer_name: names for reports.
        task: the :class:`onecycle.tasks.Task` (loss, step, metrics, headline).
        make_model: ``seed -> nn.Module`` with that seed's initial weights.
        make_optimizer: ``make_optimizer(model) -> Optimizer``.
        loaders: ``seed -> (train, val, test)`` (val and test may be None).
    """

    dataset: str
    model_name: str
    optimizer_name: str
    task: Any
    make_model: Callable[[int], nn.Module]
    make_optimizer: Callable[[nn.Module], torch.optim.Optimizer]
    loaders: Callable[[int], tuple[Any, Any, Any]]

    def optimizer(self, model: nn.Module) -> torch.optim.Optimizer:
        """The user's optimizer over ``model`` (checked to be one)."""
        from ..search.factories import build_optimizer

        return build_optimizer(self.make_optimizer, model)


def _takes_no_arguments(fn: Any) -> bool:
    try:
        inspect.signature(fn).bind()
    except TypeError:
        return False
    except ValueError:  # no signature (a builtin): assume the documented factory form
        return False
    return True


def _model_maker(model: Any, bundle: Any) -> tuple[Callable[[int], nn.Module], str]:
    from ..search.factories import initial_model

    if isinstance(model, nn.Module):
        return (lambda seed: copy.deepcopy(model)), type(model).__name__
    if callable(model) and _takes_no_arguments(model):
        return (lambda seed: initial_model(model, seed)), getattr(model, "__name__", "model")
    if bundle is None:
        raise TypeError("with loaders instead of a dataset, model must be an nn.Module or a "
                        f"zero-argument factory, got {model!r}")
    from .. import data, models

    spec = data.default_model(bundle.name) if model is None else model
    label = spec if isinstance(spec, str) else getattr(spec, "__name__", "model")

    def make(seed: int) -> nn.Module:
        return initial_model(
            lambda: models.resolve(spec, bundle.input_shape, bundle.num_classes), seed)

    return make, label


def _loaders(data_spec: Any, batch_size: int | None) -> tuple[Any, Callable[[int], Any], str]:
    """``(bundle or None, seed -> (train, val, test), name)``."""
    from .. import data
    from ..config import RunConfig

    if callable(data_spec) and not isinstance(data_spec, (str, os.PathLike, data.DatasetBundle)):
        return None, lambda seed: _three(data_spec(seed)), getattr(data_spec, "__name__", "data")
    if isinstance(data_spec, (tuple, list)):
        fixed = _three(data_spec)
        return None, lambda seed: fixed, "loaders"
    bundle = load_bundle(data_spec)
    bs = RunConfig().batch_size if batch_size is None else batch_size
    return bundle, lambda seed: bundle.loaders(bs, seed=seed), bundle.name


def load_bundle(spec: Any = None, *, allow_imports: bool = True) -> Any:
    """The :class:`~onecycle.data.DatasetBundle` of a dataset name, path, import spec or
    bundle (``None``: ``"digits"``), split as ``onecycle run`` splits it (its
    ``val_fraction``, seed 0: the same split for every seed of a comparison).

    >>> load_bundle().name
    'digits'
    """
    from .. import data
    from ..config import RunConfig

    return data.resolve("digits" if spec is None else spec,
                        val_fraction=RunConfig().val_fraction, seed=0,
                        allow_imports=allow_imports)


def _three(loaders: Any) -> tuple[Any, Any, Any]:
    if not isinstance(loaders, (tuple, list)) or len(loaders) not in (2, 3):
        raise TypeError("data must give (train_loader, val_loader) or (train_loader, "
                        f"val_loader, test_loader), got {type(loaders).__name__}")
    out = tuple(loaders) + (None,) * (3 - len(loaders))
    if out[1] is None and out[2] is None:
        raise ValueError("data needs a validation or a test loader: the comparison is "
                         "judged on held-out data")
    return out  # type: ignore[return-value]


def _task(bundle: Any, task: Any, overrides: dict[str, Any]) -> Any:
    from ..tasks import TASKS, task_for

    if task is None:
        t = task_for(bundle) if bundle is not None else TASKS["classification"]
    elif isinstance(task, str):
        if task not in TASKS:
            raise ValueError(f"task must be one of {', '.join(TASKS)} or a Task, got {task!r}")
        t = TASKS[task]
    else:
        t = task
    given = {k: v for k, v in overrides.items() if v is not None}
    if "metrics" in given:
        from ..train.metrics import parse_metrics

        given["metrics"] = parse_metrics(given["metrics"])
    return dataclasses.replace(t, **given) if given else t


def resolve_workload(model: Any, data_spec: Any, optimizer: Any, *,
                     batch_size: int | None = None, task: Any = None,
                     loss_fn: Any = None, step_fn: Any = None,
                     metrics: Any = None) -> Workload:
    """A :class:`Workload` from ``compare``'s arguments (see the module docs).

    >>> resolve_workload(None, "digits", "adamw").model_name
    'small_cnn'
    """
    bundle, loaders, name = _loaders(data_spec, batch_size)
    make_model, model_name = _model_maker(model, bundle)
    if optimizer is None or isinstance(optimizer, str):
        make_opt: Any = NamedOptimizer("sgd" if optimizer is None else optimizer)
        opt_name = make_opt.name
    elif callable(optimizer):
        make_opt, opt_name = optimizer, getattr(optimizer, "__name__", "optimizer")
    else:
        raise TypeError(f"optimizer must be 'sgd', 'adam', 'adamw' or make_optimizer(model), "
                        f"got {optimizer!r}")
    t = _task(bundle, task, {"loss_fn": loss_fn, "step_fn": step_fn, "metrics": metrics})
    return Workload(name, str(model_name), str(opt_name), t, make_model, make_opt, loaders)


def same_weights(a: nn.Module, b: nn.Module) -> bool:
    """Whether two models hold exactly the same parameters and buffers (a check that
    every alternative starts from the same point).

    >>> m = nn.Linear(2, 2); same_weights(m, copy.deepcopy(m))
    True
    """
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)

