"""Annealing curves: a start value, an end value and a shape, evaluated at ``pct`` in [0, 1].

The formulas keep the operation order of the libraries they reproduce (torch's
``OneCycleLR`` for ``"linear"`` and ``"cos"``, fastai v2's ``SchedCos`` for
``"fastai_cos"``), so the torch style matches torch bit for bit.

Example:
    >>> linear(1.0, 3.0)(0.5), cosine(1.0, 0.0)(0.5), exponential(1.0, 100.0)(0.5)
    (2.0, 0.5, 10.0)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .. import _validate

__all__ = [
    "Curve", "linear", "cosine", "exponential", "constant", "sqrt_decay", "CURVE_KINDS",
    "curve_function",
]


def _lin(start: float, end: float, pct: float) -> float:
    # torch's operation order (OneCycleLR._annealing_linear)
    return (end - start) * pct + start


def _cos(start: float, end: float, pct: float) -> float:
    # torch's operation order (OneCycleLR._annealing_cos)
    return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)


def _fastai_cos(start: float, end: float, pct: float) -> float:
    # fastai v2 SchedCos
    return start + (1 + math.cos(math.pi * (1 - pct))) * (end - start) / 2


def _exp(start: float, end: float, pct: float) -> float:
    return start * (end / start) ** pct


def _const(start: float, end: float, pct: float) -> float:
    return start


def _sqrt(start: float, end: float, pct: float) -> float:
    # the "1-sqrt" cooldown of warmup-stable-decay: start * (1 - sqrt(pct)) when end == 0
    return start + (end - start) * math.sqrt(pct)


_CURVE_FNS: dict[str, Callable[[float, float, float], float]] = {
    "linear": _lin,
    "cos": _cos,
    "fastai_cos": _fastai_cos,
    "exp": _exp,
    "constant": _const,
    "sqrt": _sqrt,
}

#: Every curve kind, in the order the docs list them.
CURVE_KINDS: tuple[str, ...] = tuple(_CURVE_FNS)


def curve_function(kind: str) -> Callable[[float, float, float], float]:
    """The bare ``f(start, end, pct)`` of a curve kind (for evaluation loops).

    >>> curve_function("linear")(0.0, 2.0, 0.25)
    0.5
    """
    return _CURVE_FNS[_validate.choice("curve kind", kind, CURVE_KINDS)]


@dataclass(frozen=True)
class Curve:
    """An annealing curve from ``start`` to ``end`` as ``pct`` goes 0 -> 1.

    ``kind`` is ``"linear"``, ``"cos"`` (torch's formula), ``"fastai_cos"`` (fastai's
    formula, the same curve written differently), ``"exp"`` (geometric),
    ``"constant"`` (holds ``start``) or ``"sqrt"`` (``start + (end - start) * sqrt(pct)``,
    the "1-sqrt" cooldown).

    >>> linear(1.0, 3.0)(0.5)
    2.0
    >>> Curve.from_dict(cosine(1.0, 0.0).to_dict()) == cosine(1.0, 0.0)
    True
    """

    kind: str
    start: float
    end: float

    def __post_init__(self) -> None:
        _validate.choice("curve kind", self.kind, CURVE_KINDS)
        object.__setattr__(self, "start", _validate.real("curve start", self.start))
        object.__setattr__(self, "end", _validate.real("curve end", self.end))
        if self.kind == "exp" and not (self.start > 0 and self.end > 0):
            raise ValueError(
                f"an exponential curve needs start > 0 and end > 0, got {self.start!r}, {self.end!r}"
            )

    def __call__(self, pct: float) -> float:
        return _CURVE_FNS[self.kind](self.start, self.end, pct)

    def to_dict(self) -> dict[str, Any]:
        """``{"kind", "start", "end"}``; :meth:`from_dict` rebuilds the curve.

        >>> linear(0, 1).to_dict()
        {'kind': 'linear', 'start': 0.0, 'end': 1.0}
        """
        return {"kind": self.kind, "start": self.start, "end": self.end}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Curve:
        """Inverse of :meth:`to_dict` (every field checked).

        >>> Curve.from_dict({"kind": "exp", "start": 1, "end": 10})(1.0)
        10.0
        """
        if not isinstance(d, Mapping) or set(d) != {"kind", "start", "end"}:
            raise ValueError(f"a curve spec is {{'kind', 'start', 'end'}}, got {d!r}")
        return cls(d["kind"], d["start"], d["end"])

    @property
    def max_slope(self) -> float:
        """Largest ``|d value / d pct|`` over [0, 1] (infinite for ``"sqrt"``).

        >>> linear(1.0, 3.0).max_slope
        2.0
        """
        delta = abs(self.end - self.start)
        if self.kind == "linear":
            return delta
        if self.kind in ("cos", "fastai_cos"):
            return delta * math.pi / 2
        if self.kind == "exp":
            lo, hi = sorted((self.start, self.end))
            return hi * abs(math.log(hi / lo))
        if self.kind == "sqrt":
            return math.inf if delta > 0 else 0.0
        return 0.0


def linear(start: float, end: float) -> Curve:
    """Linear curve.

    >>> linear(0, 1)(0.25)
    0.25
    """
    return Curve("linear", start, end)


def cosine(start: float, end: float) -> Curve:
    """Half-cosine curve (slow at both ends).

    >>> cosine(1, 0)(0.5)
    0.5
    """
    return Curve("cos", start, end)


def exponential(start: float, end: float) -> Curve:
    """Geometric curve, as used by the LR range test.

    >>> round(exponential(1, 100)(0.5), 12)
    10.0
    """
    return Curve("exp", start, end)


def constant(value: float) -> Curve:
    """A curve that holds ``value``.

    >>> constant(0.1)(0.7)
    0.1
    """
    return Curve("constant", value, value)


def sqrt_decay(start: float, end: float = 0.0) -> Curve:
    """The "1-sqrt" cooldown (Hägele et al. 2024): ``start + (end - start) * sqrt(pct)``,
    steep at first, flat at the end.

    >>> sqrt_decay(1.0)(0.25)
    0.5
    """
    return Curve("sqrt", start, end)
