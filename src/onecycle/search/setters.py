"""Setters: how a search applies one value to a fresh model and optimizer.

A *setter* is ``setter(model, optimizer, value)``. The built-ins are
:func:`set_dropout` (``p`` of every dropout module), :func:`set_weight_decay`,
:func:`set_momentum`, and :func:`hyper_setter` / :func:`attr_setter` for any optimizer
hyper-parameter or model attribute. A built-in carries a ``check`` so a grid is
validated before any trial runs; a setter that raises during a trial becomes a
:class:`SetterError` naming the parameter and the value.

Example:
    >>> import torch
    >>> m = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.1))
    >>> apply_setter(set_dropout, m, None, "dropout", 0.3); m[1].p
    0.3
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from .._format import fmt_value
from .._validate import function, in_range, momentum, nonnegative

__all__ = [
    "Setter",
    "SetterError",
    "apply_setter",
    "set_dropout",
    "set_weight_decay",
    "set_momentum",
    "hyper_setter",
    "attr_setter",
    "SETTERS",
    "resolve_setter",
    "check_with_setter",
]

Setter = Callable[[nn.Module, torch.optim.Optimizer, Any], None]


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


def apply_setter(
    setter: Callable[..., Any], model: nn.Module, optimizer: Any, param: str, value: Any
) -> None:
    """Call ``setter(model, optimizer, value)``, re-raising failures as :class:`SetterError`.

    >>> apply_setter(attr_setter("1.p"), nn.Sequential(nn.Linear(1, 1), nn.Dropout()), None,
    ...              "p", 0.2)
    """
    try:
        setter(model, optimizer, value)
    except SetterError:
        raise
    except Exception as exc:
        name = getattr(setter, "__name__", None) or type(setter).__name__
        err = SetterError(
            f"setting {param}={fmt_value(value)} failed: the setter {name} raised "
            f"{type(exc).__name__}: {exc}"
        )
        err.param, err.value = param, value
        raise err from exc


def _dropout_modules(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if isinstance(m, nn.modules.dropout._DropoutNd)]


def _check_dropout(p: Any) -> None:
    in_range("dropout p", p, 0.0, 1.0, high_open=True)


def set_dropout(model: nn.Module, optimizer: Any, p: float) -> None:
    """Set ``p`` on every dropout module (``nn.Dropout``, ``Dropout1d/2d/3d``,
    ``AlphaDropout``, ...) of ``model``. ``p`` must be in [0, 1).

    >>> m = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.1), nn.Dropout2d(0.2))
    >>> set_dropout(m, None, 0.5); [d.p for d in m if isinstance(d, nn.Dropout | nn.Dropout2d)]
    [0.5, 0.5]
    """
    _check_dropout(p)
    mods = _dropout_modules(model)
    if not mods:
        raise ValueError(
            f"model {type(model).__name__} has no dropout module (nn.Dropout, ...) to set p "
            "on; add one (p=0 is the identity) or pass your own setter"
        )
    for m in mods:
        m.p = float(p)


set_dropout.check = _check_dropout  # type: ignore[attr-defined]


def _check_wd(value: Any) -> None:
    nonnegative("weight_decay", value)


def _dtype_max(optimizer: torch.optim.Optimizer) -> float:
    """The largest number every floating-point parameter of ``optimizer`` can hold."""
    sizes = [float(torch.finfo(p.dtype).max) for g in optimizer.param_groups
             for p in g["params"] if p.is_floating_point()]
    return min(sizes, default=float("inf"))


def set_weight_decay(model: Any, optimizer: torch.optim.Optimizer, value: float) -> None:
    """Set the weight decay of the optimizer's param groups to ``value`` (>= 0).

    Groups deliberately kept free of weight decay are left alone: when some groups
    have ``weight_decay > 0`` and others exactly 0 (biases, norms), only the decayed
    groups are set; otherwise every group is.

    >>> w, b = nn.Parameter(torch.zeros(2)), nn.Parameter(torch.zeros(1))
    >>> opt = torch.optim.SGD([{"params": [w], "weight_decay": 1e-4},
    ...                        {"params": [b], "weight_decay": 0.0}], lr=0.1)
    >>> set_weight_decay(None, opt, 1e-2); [g["weight_decay"] for g in opt.param_groups]
    [0.01, 0.0]
    """
    from ..hyper import get_hyper, set_hyper

    _check_wd(value)
    top = _dtype_max(optimizer)
    if value > top:
        raise ValueError(f"weight_decay={value:g} is larger than the parameters' dtype can "
                         f"hold ({top:.3g}); a weight decay that large would overflow in the "
                         "optimizer step")
    current = get_hyper(optimizer, "weight_decay")
    decayed = [c > 0 for c in current]
    if any(decayed) and not all(decayed):
        set_hyper(optimizer, "weight_decay", [float(value) if d else 0.0 for d in decayed])
    else:
        set_hyper(optimizer, "weight_decay", float(value))


set_weight_decay.check = _check_wd  # type: ignore[attr-defined]


def _check_momentum(value: Any) -> None:
    momentum("momentum", value)


def set_momentum(model: Any, optimizer: torch.optim.Optimizer, value: float) -> None:
    """Set a constant momentum (beta1 for Adam-like optimizers) on every param group.

    >>> opt = torch.optim.Adam([nn.Parameter(torch.zeros(1))])
    >>> set_momentum(None, opt, 0.8); opt.param_groups[0]["betas"]
    (0.8, 0.999)
    """
    from ..hyper import set_hyper

    _check_momentum(value)
    set_hyper(optimizer, "momentum", float(value))


set_momentum.check = _check_momentum  # type: ignore[attr-defined]


class hyper_setter:  # noqa: N801 - used like a function
    """A setter for any optimizer hyper-parameter (``lr``, ``eps``, ``momentum``, ...),
    written to every param group through :func:`onecycle.hyper.set_hyper`.

    >>> opt = torch.optim.Adam([nn.Parameter(torch.zeros(1))])
    >>> hyper_setter("eps")(None, opt, 1e-6); opt.param_groups[0]["eps"]
    1e-06
    """

    def __init__(self, name: str) -> None:
        if not isinstance(name, str) or not name:
            raise TypeError(f"name must be a hyper-parameter name (str), got {name!r}")
        self.name = name
        self.__name__ = f"hyper_setter({name!r})"

    def __call__(self, model: Any, optimizer: torch.optim.Optimizer, value: Any) -> None:
        from ..hyper import set_hyper

        set_hyper(optimizer, self.name, value)

    def __repr__(self) -> str:
        return self.__name__


class attr_setter:  # noqa: N801 - used like a function
    """A setter for a model attribute given by a dotted path (``"encoder.0.p"``,
    ``"temperature"``): the submodule is looked up with ``get_submodule``.

    >>> m = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.1))
    >>> attr_setter("1.p")(m, None, 0.4); m[1].p
    0.4
    """

    def __init__(self, path: str) -> None:
        if not isinstance(path, str) or not path:
            raise TypeError(f"path must be a dotted attribute path (str), got {path!r}")
        self.path = path
        self.__name__ = f"attr_setter({path!r})"

    def __call__(self, model: nn.Module, optimizer: Any, value: Any) -> None:
        owner_path, _, attr = self.path.rpartition(".")
        owner = model.get_submodule(owner_path) if owner_path else model
        if not hasattr(owner, attr):
            raise AttributeError(f"{type(owner).__name__} at {owner_path or 'model'!r} has no "
                                 f"attribute {attr!r}")
        setattr(owner, attr, value)

    def __repr__(self) -> str:
        return self.__name__


#: built-in setters by parameter name
SETTERS: dict[str, Setter] = {
    "dropout": set_dropout,
    "weight_decay": set_weight_decay,
    "momentum": set_momentum,
}


def resolve_setter(param: str, setter: Setter | str | None) -> Setter:
    """The setter to use: a callable as is, a built-in by name, or (``None``) the
    built-in for ``param``.

    >>> resolve_setter("dropout", None) is set_dropout
    True
    """
    if not isinstance(param, str) or not param:
        raise TypeError(f"param must be a non-empty name (str), got {param!r}")
    if setter is None:
        setter = param
    if isinstance(setter, str):
        if setter in SETTERS:
            return SETTERS[setter]
        raise ValueError(
            f"no built-in setter named {setter!r} (for param {param!r}); built-ins: "
            f"{sorted(SETTERS)}; or pass setter=callable(model, optimizer, value), "
            "hyper_setter(name) or attr_setter('path.to.attr')"
        )
    return function("setter", setter, "setter(model, optimizer, value)")


def check_with_setter(param: str, setter: Setter, values: Sequence[Any]) -> None:
    """Validate every value up front when the setter knows how (built-ins do)."""
    check = getattr(setter, "check", None)
    if check is None:
        return
    for v in values:
        try:
            check(v)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"values for {param}: {exc} (in {list(values)!r})") from None
