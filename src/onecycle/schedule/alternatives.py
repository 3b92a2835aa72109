"""The schedules 1cycle is compared with, as pure pieces built from curves and ``join``.

Each builder returns a :class:`NamedSchedule`: callable ``step -> lr`` (so it drives
``ParamScheduler(opt, {"lr": sched}, total_steps=T)`` directly), with ``lr(step)``,
``preview()``, ``phases`` and a ``to_dict()`` that
:func:`~onecycle.schedule.schedule_from_dict` turns back into the same schedule (so a
scheduler's ``state_dict`` resumes it). None of them touches momentum.

Time runs over the budget ``[0, T]``: the last optimizer step is ``T - 1`` and a decay
"to zero" reaches zero at ``T``, so every step that is taken has an LR > 0. A warm-up of
``W = warmup * T`` steps ramps linearly from ``peak / (W + 1)`` to ``peak`` at step
``W`` (nanoGPT's ``lr * (it + 1) / (warmup + 1)``), so no step is taken at LR 0.

* :func:`warmup_cosine` -- warm-up, then cosine to ``final_lr`` (optax's
  ``warmup_cosine_decay_schedule``, nanoGPT's schedule).
* :func:`linear_decay` -- linear decay to zero over the budget, optional warm-up (Li,
  Yumer and Ramanan, "Budgeted training", ICLR 2020: ``lr * (1 - t / T)``).
* :func:`wsd` -- warm-up, stable, decay (Hägele et al. 2024): the decay is the last
  ``decay`` fraction of the steps, linear or "1-sqrt" (``peak * (1 - sqrt(x))``).
* :func:`constant_lr` -- a constant LR after an optional warm-up.

Example:
    >>> from onecycle.schedule import schedule_from_dict
    >>> s = linear_decay(100, 1.0)
    >>> s.lr(0), s.lr(50), round(s.lr(99), 6)
    (1.0, 0.5, 0.01)
    >>> schedule_from_dict(s.to_dict()) == s
    True
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .. import _validate
from .base import Schedule
from .curves import Curve, constant, cosine, linear, sqrt_decay
from .piecewise import Piecewise

__all__ = ["NamedSchedule", "warmup_cosine", "linear_decay", "wsd", "constant_lr", "ALTERNATIVES"]


class NamedSchedule(Schedule):
    """An LR schedule made by one of the builders of this module: its LR curve, phase
    names, and the builder's name and arguments (which are its JSON spec).

    >>> s = wsd(100, 0.5)
    >>> s.kind, s.params["decay"], [p[0] for p in s.phases]
    ('wsd', 0.2, ['warm-up', 'stable', 'decay'])
    """

    def __init__(self, kind: str, total_steps: int, params: Mapping[str, Any],
                 lr: Piecewise, names: Any) -> None:
        self.kind = kind
        self.total_steps = total_steps
        self.params = dict(params)
        self.on_end = "hold"
        self._set_curves(lr, None, names)

    def to_dict(self) -> dict[str, Any]:
        """``{"type": kind, "version": 1, "total_steps": T, **arguments}``.

        >>> constant_lr(10, 0.1).to_dict()
        {'type': 'constant_lr', 'version': 1, 'total_steps': 10, 'lr': 0.1, 'warmup': 0.0}
        """
        return {"type": self.kind, "version": 1, "total_steps": self.total_steps, **self.params}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> NamedSchedule:
        """Inverse of :meth:`to_dict`: the builder called again with the same arguments.

        >>> NamedSchedule.from_dict(wsd(10, 1.0).to_dict()).lr(5)
        1.0
        """
        if not isinstance(d, Mapping):
            raise TypeError(f"a schedule spec must be a dict, got {type(d).__name__}")
        kind = d.get("type")
        if kind not in ALTERNATIVES:
            raise ValueError(f"not an alternative schedule: type={kind!r}; known: {sorted(ALTERNATIVES)}")
        if d.get("version", 1) != 1:
            raise ValueError(f"unsupported {kind} spec version {d.get('version')!r}")
        args = {k: v for k, v in d.items() if k not in ("type", "version")}
        if "total_steps" not in args:
            raise ValueError(f"a {kind} spec needs total_steps, got keys {sorted(d)}")
        try:
            return ALTERNATIVES[kind](**args)
        except TypeError as err:
            if "unexpected keyword" in str(err) or "missing" in str(err):
                raise ValueError(f"bad {kind} spec {dict(d)!r}: {err}") from None
            raise

    def describe(self, total_steps: int | None = None) -> str:
        """One line for titles (``total_steps``: the length to show, after a replan).

        >>> warmup_cosine(1000, 0.01).describe()
        'warmup_cosine: peak_lr=0.01, warmup=0.05, final_lr=0, 1000 steps'
        """
        args = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                         for k, v in self.params.items())
        return f"{self.kind}: {args}, {total_steps or self.total_steps} steps"

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{self.kind}({self.total_steps}, {args})"


def _start(total_steps: Any, peak_name: str, peak: Any, warmup: Any) -> tuple[int, float, float]:
    T = _validate.integer("total_steps", total_steps, least=1)
    lr = _validate.positive(peak_name, peak)
    w = _validate.in_range("warmup", warmup, 0.0, 1.0, high_open=True)
    return T, lr, w


def _build(kind: str, T: int, params: dict[str, Any], peak: float, W: float,
           rest: list[tuple[str, Curve, float]]) -> NamedSchedule:
    """A warm-up of ``W`` steps (none when ``W == 0``), then ``rest``: (name, curve, end)."""
    names, curves, knots = [], [], [0.0]
    if W > 0:
        names.append("warm-up")
        curves.append(linear(peak / (W + 1.0), peak))
        knots.append(W)
    for name, curve, end in rest:
        names.append(name)
        curves.append(curve)
        knots.append(end)
    return NamedSchedule(kind, T, params, Piecewise(curves, knots), names)


def warmup_cosine(total_steps: int, peak_lr: float, *, warmup: float = 0.05,
                  final_lr: float = 0.0) -> NamedSchedule:
    """Linear warm-up over ``warmup`` of the steps, then cosine down to ``final_lr``
    (reached at step ``total_steps``, after the last step).

    >>> s = warmup_cosine(100, 1.0, warmup=0.1)
    >>> round(s.lr(0), 4), s.lr(10), round(s.lr(55), 6)
    (0.0909, 1.0, 0.5)
    """
    T, peak, w = _start(total_steps, "peak_lr", peak_lr, warmup)
    final = _validate.nonnegative("final_lr", final_lr)
    if final > peak:
        raise ValueError(f"final_lr must be <= peak_lr = {peak!r}, got {final_lr!r}")
    W = w * T
    params = {"peak_lr": peak, "warmup": w, "final_lr": final}
    return _build("warmup_cosine", T, params, peak, W,
                  [("cosine decay", cosine(peak, final), float(T))])


def linear_decay(total_steps: int, peak_lr: float, *, warmup: float = 0.0) -> NamedSchedule:
    """Linear decay from ``peak_lr`` to zero over the budget (zero at step
    ``total_steps``), after an optional warm-up: Li et al.'s budgeted training.

    >>> [round(linear_decay(4, 1.0).lr(i), 3) for i in range(4)]
    [1.0, 0.75, 0.5, 0.25]
    """
    T, peak, w = _start(total_steps, "peak_lr", peak_lr, warmup)
    W = w * T
    return _build("linear_decay", T, {"peak_lr": peak, "warmup": w}, peak, W,
                  [("linear decay", linear(peak, 0.0), float(T))])


def wsd(total_steps: int, peak_lr: float, *, warmup: float = 0.05, decay: float = 0.2,
        shape: str = "linear") -> NamedSchedule:
    """Warmup-stable-decay (Hägele et al. 2024): warm-up, ``peak_lr`` held, then the last
    ``decay`` fraction of the steps down to zero, ``shape`` ``"linear"`` or ``"1-sqrt"``.

    >>> s = wsd(100, 1.0, warmup=0.0, decay=0.2, shape="1-sqrt")
    >>> s.lr(79), s.lr(80), s.lr(85)
    (1.0, 1.0, 0.5)
    """
    T, peak, w = _start(total_steps, "peak_lr", peak_lr, warmup)
    dec = _validate.in_range("decay", decay, 0.0, 1.0, low_open=True)
    shape = _validate.choice("shape", shape, ("linear", "1-sqrt"))
    if w + dec > 1.0:
        raise ValueError(
            f"warmup + decay must be <= 1 (the stable phase cannot be negative), got "
            f"warmup={warmup!r}, decay={decay!r}"
        )
    W, D = w * T, dec * T
    down = linear(peak, 0.0) if shape == "linear" else sqrt_decay(peak, 0.0)
    params = {"peak_lr": peak, "warmup": w, "decay": dec, "shape": shape}
    return _build("wsd", T, params, peak, W,
                  [("stable", constant(peak), max(T - D, W)), ("decay", down, float(T))])


def constant_lr(total_steps: int, lr: float, *, warmup: float = 0.0) -> NamedSchedule:
    """A constant ``lr``, after an optional warm-up.

    >>> s = constant_lr(10, 0.1, warmup=0.2)
    >>> round(s.lr(0), 4), s.lr(2), s.lr(9)
    (0.0333, 0.1, 0.1)
    """
    T, value, w = _start(total_steps, "lr", lr, warmup)
    return _build("constant_lr", T, {"lr": value, "warmup": w}, value, w * T,
                  [("constant", constant(value), float(T))])


#: Every builder by the ``type`` its schedules carry in ``to_dict()``.
ALTERNATIVES: dict[str, Callable[..., NamedSchedule]] = {
    "warmup_cosine": warmup_cosine,
    "linear_decay": linear_decay,
    "wsd": wsd,
    "constant_lr": constant_lr,
}

