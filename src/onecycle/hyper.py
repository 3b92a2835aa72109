"""Reading and writing hyper-parameters (lr, momentum, weight decay) on torch optimizers.

Every optimizer family stores "momentum" differently: SGD and RMSprop have a
``momentum`` key, the Adam family keeps it as ``betas[0]``. Instead of guessing from
key names (which breaks on third-party optimizers and silently clobbers beta2 in some
libraries), onecycle uses one explicit adapter per family, looked up along the
optimizer's class hierarchy. Unknown optimizers still get ``lr`` and ``weight_decay``;
asking them for momentum is a ``ValueError`` that says how to register an adapter.

Example:
    >>> import torch
    >>> from onecycle.hyper import adapter_for
    >>> opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=1e-3)
    >>> ad = adapter_for(opt)
    >>> ad.set(opt.param_groups[0], "momentum", 0.9)
    >>> opt.param_groups[0]["betas"]
    (0.9, 0.999)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import _validate

__all__ = [
    "HyperAdapter",
    "adapter_for",
    "register_optimizer",
    "get_hyper",
    "set_hyper",
    "validate_hyper",
    "supports_momentum",
    "optimizer_family",
]

Group = dict[str, Any]


def validate_hyper(name: str, value: Any, label: str | None = None) -> float:
    """Check a hyper-parameter value you set and return it as a float.

    ``lr`` must be > 0, ``momentum`` (or beta1) in [0, 1), ``weight_decay`` >= 0;
    every value must be finite. Other names only need to be finite. ``label`` is the
    name the message uses (``"max_lr"`` for a peak LR). The rules and messages are
    those of :mod:`onecycle._validate`.

    >>> validate_hyper("momentum", 0.9)
    0.9
    >>> validate_hyper("lr", 0.0, "max_lr")
    Traceback (most recent call last):
    ...
    ValueError: max_lr must be a finite number > 0, got 0.0
    """
    label = name if label is None else label
    check = _RULES.get(name, _validate.real)
    return check(label, value)


_RULES = {
    "lr": _validate.positive,
    "momentum": _validate.momentum,
    "weight_decay": _validate.nonnegative,
}


def _write_scalar(group: Group, key: str, value: float) -> None:
    old = group.get(key)
    # capturable / fused optimizers may keep lr as a tensor: update it in place.
    if old is not None and hasattr(old, "fill_") and hasattr(old, "dim"):
        old.fill_(value)
    else:
        group[key] = value


def _read_scalar(group: Group, key: str) -> float:
    v = group[key]
    return float(v.item()) if hasattr(v, "item") else float(v)


@dataclass(frozen=True)
class HyperAdapter:
    """How one optimizer family stores its hyper-parameters.

    ``momentum`` is the name of the group key holding momentum, or ``"betas[0]"`` for
    a tuple whose first entry is beta1 (beta2 is never touched), or ``None`` when the
    family has no momentum-like hyper-parameter.

    >>> HyperAdapter("Adam", momentum="betas[0]").momentum
    'betas[0]'
    """

    family: str
    momentum: str | None = None
    lr: str = "lr"
    weight_decay: str | None = "weight_decay"

    def key_for(self, name: str, optimizer_name: str = "optimizer") -> str:
        """The param-group key that holds ``name`` (``"betas[0]"`` for beta1), or the
        standard ``ValueError`` when this family has no such hyper-parameter.

        >>> HyperAdapter("Adam", momentum="betas[0]").key_for("momentum", "Adam")
        'betas[0]'
        >>> HyperAdapter("Adagrad").key_for("momentum", "Adagrad")
        Traceback (most recent call last):
        ...
        ValueError: optimizer Adagrad has no momentum-like hyper-parameter, so momentum cannot be cycled: pass momentum=None, or register an adapter with onecycle.hyper.register_optimizer(cls, momentum='key')
        """
        if name == "lr":
            return self.lr
        if name == "momentum":
            if self.momentum is None:
                raise ValueError(
                    f"optimizer {optimizer_name} has no momentum-like hyper-parameter, so "
                    "momentum cannot be cycled: pass momentum=None, or register an adapter "
                    "with onecycle.hyper.register_optimizer(cls, momentum='key')"
                )
            return self.momentum
        if name == "weight_decay":
            if self.weight_decay is None:
                raise ValueError(f"optimizer {optimizer_name} has no weight decay")
            return self.weight_decay
        return name

    def get(self, group: Group, name: str, optimizer_name: str = "optimizer") -> float:
        """Read ``name`` from one param group.

        >>> HyperAdapter("Adam", momentum="betas[0]").get({"betas": (0.9, 0.999)}, "momentum")
        0.9
        """
        key = self.key_for(name, optimizer_name)
        if key.endswith("[0]"):
            return float(group[key[:-3]][0])
        if key not in group:
            raise ValueError(
                f"{optimizer_name} param groups have no hyper-parameter {name!r}; "
                f"available: {sorted(k for k in group if k != 'params')}"
            )
        return _read_scalar(group, key)

    def set(self, group: Group, name: str, value: float, optimizer_name: str = "optimizer") -> None:
        """Write ``name`` into one param group (validated).

        >>> g = {"lr": 0.1, "momentum": 0.9}
        >>> HyperAdapter("SGD", momentum="momentum").set(g, "momentum", 0.85); g["momentum"]
        0.85
        """
        value = validate_hyper(name, value)
        key = self.key_for(name, optimizer_name)
        if key.endswith("[0]"):
            base = key[:-3]
            old = tuple(group[base])
            group[base] = (value, *old[1:])
            return
        if key not in group:
            raise ValueError(
                f"{optimizer_name} param groups have no hyper-parameter {name!r}; "
                f"available: {sorted(k for k in group if k != 'params')}"
            )
        _write_scalar(group, key, value)

    def has(self, name: str) -> bool:
        """Whether this family supports ``name`` at all.

        >>> HyperAdapter("Adagrad").has("momentum"), HyperAdapter("Adagrad").has("lr")
        (False, True)
        """
        if name == "momentum":
            return self.momentum is not None
        if name == "weight_decay":
            return self.weight_decay is not None
        return True


_REGISTRY: dict[type, HyperAdapter] = {}
_BY_NAME: dict[str, HyperAdapter] = {}


def register_optimizer(
    cls: type | str,
    *,
    momentum: str | None = None,
    lr: str = "lr",
    weight_decay: str | None = "weight_decay",
) -> HyperAdapter:
    """Register how an optimizer class stores its hyper-parameters.

    ``momentum`` is a param-group key (``"momentum"``, ``"beta1"``) or ``"betas[0]"``.

    >>> import torch
    >>> class MyOpt(torch.optim.SGD): ...
    >>> register_optimizer(MyOpt, momentum="momentum").family
    'MyOpt'
    """
    if momentum is not None and not isinstance(momentum, str):
        raise TypeError(f"momentum must be a key name (str) or None, got {momentum!r}")
    name = cls if isinstance(cls, str) else cls.__name__
    adapter = HyperAdapter(name, momentum=momentum, lr=lr, weight_decay=weight_decay)
    if isinstance(cls, str):
        _BY_NAME[cls] = adapter
    else:
        if not isinstance(cls, type):
            raise TypeError(f"cls must be a class or a class name, got {cls!r}")
        _REGISTRY[cls] = adapter
    return adapter


def _register_builtins() -> None:
    for name in ("SGD", "RMSprop"):
        register_optimizer(name, momentum="momentum")
    for name in ("Adam", "AdamW", "NAdam", "RAdam", "Adamax", "SparseAdam"):
        register_optimizer(name, momentum="betas[0]")
    for name in ("Adagrad", "Adadelta", "ASGD", "Rprop", "LBFGS", "Adafactor"):
        register_optimizer(name, momentum=None)
    _BY_NAME["SparseAdam"] = HyperAdapter("SparseAdam", momentum="betas[0]", weight_decay=None)
    _BY_NAME["Rprop"] = HyperAdapter("Rprop", momentum=None, weight_decay=None)
    _BY_NAME["LBFGS"] = HyperAdapter("LBFGS", momentum=None, weight_decay=None)


_register_builtins()

_GENERIC = HyperAdapter("generic", momentum=None)


def adapter_for(optimizer: Any) -> HyperAdapter:
    """The adapter for ``optimizer``: explicit registrations first, then the class MRO.

    Only ``torch.optim`` classes are matched by name, so a third-party class that
    happens to be called ``Adam`` is not mistaken for torch's.

    >>> import torch
    >>> adapter_for(torch.optim.NAdam([torch.nn.Parameter(torch.zeros(1))])).momentum
    'betas[0]'
    """
    if not hasattr(optimizer, "param_groups"):
        raise TypeError(
            f"optimizer must be a torch.optim.Optimizer (with param_groups), got "
            f"{type(optimizer).__name__}"
        )
    for klass in type(optimizer).__mro__:
        if klass in _REGISTRY:
            return _REGISTRY[klass]
        module = getattr(klass, "__module__", "")
        if module.startswith("torch.optim") and klass.__name__ in _BY_NAME:
            return _BY_NAME[klass.__name__]
    return _GENERIC


def supports_momentum(optimizer: Any) -> bool:
    """True when momentum (or beta1) of ``optimizer`` can be read and written.

    >>> import torch
    >>> supports_momentum(torch.optim.Adagrad([torch.nn.Parameter(torch.zeros(1))]))
    False
    """
    return adapter_for(optimizer).has("momentum")


def optimizer_family(optimizer: Any) -> str:
    """``"sgd"`` (SGD and subclasses), ``"adam"`` (momentum is ``betas[0]``: Adam, AdamW,
    NAdam, RAdam, ...) or ``"other"``: what the budget-aware max_lr and the comparison's
    alternatives need to know about an optimizer.

    >>> import torch
    >>> p = [torch.nn.Parameter(torch.zeros(1))]
    >>> optimizer_family(torch.optim.SGD(p, lr=0.1)), optimizer_family(torch.optim.AdamW(p))
    ('sgd', 'adam')
    """
    import torch

    if isinstance(optimizer, torch.optim.SGD):
        return "sgd"
    return "adam" if adapter_for(optimizer).momentum == "betas[0]" else "other"


def get_hyper(optimizer: Any, name: str) -> list[float]:
    """Current value of ``name`` for every param group.

    >>> import torch
    >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1, momentum=0.9)
    >>> get_hyper(opt, "momentum")
    [0.9]
    """
    ad = adapter_for(optimizer)
    oname = type(optimizer).__name__
    return [ad.get(g, name, oname) for g in optimizer.param_groups]


def set_hyper(optimizer: Any, name: str, values: float | list[float]) -> None:
    """Set ``name`` on every param group (one value, or one per group).

    >>> import torch
    >>> opt = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))])
    >>> set_hyper(opt, "lr", 0.01); opt.param_groups[0]["lr"]
    0.01
    """
    ad = adapter_for(optimizer)
    oname = type(optimizer).__name__
    groups = optimizer.param_groups
    if isinstance(values, (list, tuple)):
        if len(values) != len(groups):
            raise ValueError(
                f"{name}: got {len(values)} values for {len(groups)} param groups; "
                "pass one value or exactly one per param group"
            )
        vals = list(values)
    else:
        vals = [values] * len(groups)
    checked = [validate_hyper(name, v) for v in vals]  # validate all before writing any
    for g, v in zip(groups, checked):
        ad.set(g, name, v, oname)

