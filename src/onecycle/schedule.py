"""Pure schedule maths: annealing curves, piecewise schedules, and the 1cycle policy.

Nothing here imports torch. A schedule is a function of the integer step: plain floats
in, plain floats out, serialisable to JSON. Steps run ``0 .. total_steps - 1``.

Three styles of 1cycle (``style=``) pick a family of defaults:

* ``"smith"`` (default) -- Leslie Smith's policy: linear ``max/div -> max`` over the
  first half of the cycle, linear back to ``max/div`` over the second half, then an
  annihilation phase (the last ``annihilate`` fraction of the steps, 10 % by default)
  linearly down to ``max/final_div``. Momentum goes high -> low while the LR rises,
  back to high while it falls, and is held at high during annihilation.
* ``"fastai"`` -- fastai v2 ``fit_one_cycle``: cosine ``max/div -> max`` over
  ``pct_start``, cosine ``max -> max/final_div``, progress ``p = step / total_steps``.
* ``"torch"`` -- ``torch.optim.lr_scheduler.OneCycleLR`` step for step. As in torch,
  ``final_div`` divides the *initial* LR there (``min_lr = max/div/final_div``); in the
  two other styles it divides ``max_lr``.

Example:
    >>> s = OneCycleSchedule(total_steps=1000, max_lr=0.8)
    >>> round(s.lr(0), 6), round(s.lr(450), 6), round(s.lr(999), 6)
    (0.08, 0.8, 0.0008)
    >>> s.momentum(0), round(s.momentum(450), 6)
    (0.95, 0.85)
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Curve",
    "linear",
    "cosine",
    "exponential",
    "constant",
    "Piecewise",
    "join",
    "TimeWarp",
    "OneCycleSchedule",
    "STYLES",
    "StyleDefaults",
    "style_defaults",
    "schedule_from_dict",
]

# ---------------------------------------------------------------------------
# validation helpers


def _real(name: str, value: Any) -> float:
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        try:
            value = float(value)  # numpy scalars
        except (TypeError, ValueError):
            raise TypeError(f"{name} must be a real number, got {value!r}") from None
    v = float(value)
    if math.isnan(v):
        raise ValueError(f"{name} must not be NaN, got {value!r}")
    return v


def _positive(name: str, value: Any) -> float:
    v = _real(name, value)
    if not (v > 0 and math.isfinite(v)):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return v


def _int_steps(name: str, value: Any, minimum: int = 1) -> int:
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            try:
                import numbers

                if isinstance(value, numbers.Integral):
                    value = int(value)
                else:
                    raise TypeError
            except TypeError:
                raise TypeError(f"{name} must be an integer >= {minimum}, got {value!r}") from None
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


# ---------------------------------------------------------------------------
# curves: start/end values, evaluated at a fraction pct in [0, 1]


@dataclass(frozen=True)
class Curve:
    """An annealing curve from ``start`` to ``end`` as ``pct`` goes 0 -> 1.

    ``kind`` is ``"linear"``, ``"cos"`` (torch's formula), ``"fastai_cos"`` (fastai's
    formula, the same curve written differently), ``"exp"`` (geometric) or
    ``"constant"`` (holds ``start``).

    >>> linear(1.0, 3.0)(0.5)
    2.0
    """

    kind: str
    start: float
    end: float

    def __post_init__(self) -> None:
        if self.kind not in _CURVE_FNS:
            raise ValueError(f"curve kind must be one of {sorted(_CURVE_FNS)}, got {self.kind!r}")
        if self.kind == "exp" and not (self.start > 0 and self.end > 0):
            raise ValueError(
                f"an exponential curve needs start > 0 and end > 0, got {self.start!r}, {self.end!r}"
            )

    def __call__(self, pct: float) -> float:
        return _CURVE_FNS[self.kind](self.start, self.end, pct)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "start": self.start, "end": self.end}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Curve:
        return cls(str(d["kind"]), float(d["start"]), float(d["end"]))

    @property
    def max_slope(self) -> float:
        """Largest |d value / d pct| over [0, 1]."""
        delta = abs(self.end - self.start)
        if self.kind == "linear":
            return delta
        if self.kind in ("cos", "fastai_cos"):
            return delta * math.pi / 2
        if self.kind == "exp":
            lo, hi = sorted((self.start, self.end))
            return hi * abs(math.log(hi / lo)) if lo > 0 else 0.0
        return 0.0


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


_CURVE_FNS: dict[str, Callable[[float, float, float], float]] = {
    "linear": _lin,
    "cos": _cos,
    "fastai_cos": _fastai_cos,
    "exp": _exp,
    "constant": _const,
}


def linear(start: float, end: float) -> Curve:
    """Linear curve. ``linear(0, 1)(0.25) == 0.25``."""
    return Curve("linear", float(start), float(end))


def cosine(start: float, end: float) -> Curve:
    """Half-cosine curve (slow at both ends). ``cosine(1, 0)(0.5) == 0.5``."""
    return Curve("cos", float(start), float(end))


def exponential(start: float, end: float) -> Curve:
    """Geometric curve, as used by the LR range test. ``exponential(1, 100)(0.5) == 10``."""
    return Curve("exp", float(start), float(end))


def constant(value: float) -> Curve:
    """A curve that holds ``value``."""
    return Curve("constant", float(value), float(value))


# ---------------------------------------------------------------------------
# piecewise schedules


class Piecewise:
    """Curves joined end to end on the step axis (optax ``join_schedules``).

    ``knots`` are ``len(curves) + 1`` step positions (floats allowed, non-decreasing
    unless ``strict=False``, which torch's phase table for tiny step counts needs);
    curve ``i`` runs from ``knots[i]`` to ``knots[i+1]``. A step belongs to the first
    phase whose end is ``>= step`` (torch's rule), and its fraction is
    ``(step - start) / (end - start)``; zero-length phases evaluate to their end value.
    Before the first knot the first value is held; from the last knot on, the final
    value (so the last step of a cycle is exactly its final value).

    >>> s = join([linear(0.0, 1.0), linear(1.0, 0.0)], [0, 10, 20])
    >>> s(5), s(10), s(15), s(99)
    (0.5, 1.0, 0.5, 0.0)
    """

    def __init__(
        self, curves: Sequence[Curve], knots: Sequence[float], *, strict: bool = True
    ) -> None:
        if len(curves) == 0:
            raise ValueError("curves must contain at least one curve")
        if len(knots) != len(curves) + 1:
            raise ValueError(
                f"knots must have len(curves) + 1 = {len(curves) + 1} entries, got {len(knots)}"
            )
        ks = [_real("knots", k) for k in knots]
        if strict and any(b < a for a, b in zip(ks, ks[1:])):
            raise ValueError(f"knots must be non-decreasing, got {ks}")
        self.strict = bool(strict)
        self.curves: tuple[Curve, ...] = tuple(curves)
        self.knots: tuple[float, ...] = tuple(ks)
        self._ends = self.knots[1:]
        self._final = self.curves[-1](1.0)
        self._first = self.curves[0](0.0)
        self._first_knot = self.knots[0]
        self._last_knot = self.knots[-1]
        n = len(self.curves)
        self._fast = tuple(
            (a, b, _CURVE_FNS[c.kind], c.start, c.end, i == n - 1)
            for i, (c, a, b) in enumerate(zip(self.curves, self.knots, self._ends))
        )

    def __call__(self, step: float) -> float:
        if step >= self._last_knot:
            return self._final
        if step < self._first_knot or (step == self._first_knot and self.strict):
            return self._first
        for start, end, fn, a, b, is_last in self._fast:
            if step <= end or is_last:
                length = end - start
                return fn(a, b, 1.0 if length <= 0 else (step - start) / length)
        raise AssertionError("unreachable")  # pragma: no cover

    @property
    def end_value(self) -> float:
        return self.curves[-1](1.0)

    @property
    def max_slope(self) -> float:
        """Steepest |value change per step| over all phases (for continuity checks)."""
        best = 0.0
        for c, a, b in zip(self.curves, self.knots, self._ends):
            if b > a:
                best = max(best, c.max_slope / (b - a))
        return best

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "piecewise",
            "curves": [c.to_dict() for c in self.curves],
            "knots": list(self.knots),
            "strict": self.strict,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Piecewise:
        return cls(
            [Curve.from_dict(c) for c in d["curves"]],
            [float(k) for k in d["knots"]],
            strict=bool(d.get("strict", True)),
        )

    def __repr__(self) -> str:
        parts = ", ".join(
            f"{c.kind} {c.start:.4g}->{c.end:.4g} @[{a:g},{b:g}]"
            for c, a, b in zip(self.curves, self.knots, self._ends)
        )
        return f"Piecewise({parts})"


def join(curves: Sequence[Curve], knots: Sequence[float]) -> Piecewise:
    """Join curves into one schedule; see :class:`Piecewise`.

    >>> join([linear(1, 2)], [0, 4])(2)
    1.5
    """
    return Piecewise(curves, knots)


class TimeWarp:
    """``base`` run unchanged up to ``pivot``, then its remainder stretched or squeezed so
    that ``base``'s step ``old_last`` lands on ``new_last``. Used by ``replan``: the value
    at the pivot is unchanged (no jump) and the rest keeps its shape.

    >>> w = TimeWarp(join([linear(0, 10)], [0, 10]), pivot=5, old_last=10, new_last=15)
    >>> w(5), w(15)
    (5.0, 10.0)
    """

    def __init__(self, base: Any, pivot: float, old_last: float, new_last: float) -> None:
        if new_last < pivot:
            raise ValueError(
                f"cannot replan to end at step {new_last:g}: step {pivot:g} has already run"
            )
        self.base = base
        self.pivot = float(pivot)
        self.old_last = float(old_last)
        self.new_last = float(new_last)
        span_new = self.new_last - self.pivot
        span_old = self.old_last - self.pivot
        self._scale = span_old / span_new if span_new > 0 and span_old > 0 else 0.0

    def __call__(self, step: float) -> float:
        if step <= self.pivot:
            return self.base(step)
        return self.base(self.pivot + (min(step, self.new_last) - self.pivot) * self._scale)

    @property
    def max_slope(self) -> float:
        slope = getattr(self.base, "max_slope", math.inf)
        return slope * max(1.0, self._scale)

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "timewarp",
            "base": self.base.to_dict(),
            "pivot": self.pivot,
            "old_last": self.old_last,
            "new_last": self.new_last,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TimeWarp:
        return cls(schedule_from_dict(d["base"]), d["pivot"], d["old_last"], d["new_last"])


# ---------------------------------------------------------------------------
# 1cycle


@dataclass(frozen=True)
class StyleDefaults:
    """The defaults of one 1cycle style (see :func:`style_defaults`).

    ``pct_start`` is ``None`` for the smith style, where it follows from
    ``annihilate``: ``(1 - annihilate) / 2``.

    >>> style_defaults("torch").div, style_defaults("torch").final_div
    (25.0, 10000.0)
    """

    div: float
    final_div: float
    pct_start: float | None  # None: derived from annihilate
    anneal: str
    three_phase: bool
    annihilate: float
    momentum: tuple[float, ...]


#: The defaults of every style, by name; :func:`style_defaults` reads one.
STYLES: dict[str, StyleDefaults] = {
    "smith": StyleDefaults(10.0, 1000.0, None, "linear", True, 0.1, (0.95, 0.85)),
    "fastai": StyleDefaults(25.0, 1e5, 0.25, "cos", False, 0.0, (0.95, 0.85, 0.95)),
    "torch": StyleDefaults(25.0, 1e4, 0.3, "cos", False, 0.0, (0.95, 0.85)),
}

_MISSING: Any = object()


def style_defaults(style: str = "smith") -> StyleDefaults:
    """The defaults of a 1cycle style: the one place other modules read them from.

    >>> style_defaults("smith").div, style_defaults("fastai").pct_start
    (10.0, 0.25)
    """
    if not isinstance(style, str) or style not in STYLES:
        raise ValueError(f"style must be one of {sorted(STYLES)}, got {style!r}")
    return STYLES[style]


def _resolve_options(
    style: str = "smith",
    div: float | None = None,
    final_div: float | None = None,
    pct_start: float | None = None,
    annihilate: float | None = None,
    anneal: str | None = None,
    three_phase: bool | None = None,
    momentum: Sequence[float] | None = _MISSING,
    on_end: str = "hold",
) -> dict[str, Any]:
    """Every 1cycle option checked and resolved against its style's defaults."""
    d = style_defaults(style)
    out: dict[str, Any] = {"style": style}
    out["div"] = _positive("div", d.div if div is None else div)
    out["final_div"] = _positive("final_div", d.final_div if final_div is None else final_div)
    anneal = d.anneal if anneal is None else anneal
    if anneal not in ("linear", "cos"):
        raise ValueError(f"anneal must be 'linear' or 'cos', got {anneal!r}")
    out["anneal"] = anneal
    if three_phase is None:
        three_phase = d.three_phase
    if not isinstance(three_phase, bool):
        raise TypeError(f"three_phase must be True or False, got {three_phase!r}")
    out["three_phase"] = three_phase

    if style == "smith":
        a = d.annihilate if annihilate is None else _real("annihilate", annihilate)
        if not three_phase:
            if annihilate is not None and a != 0:
                raise ValueError(
                    f"annihilate={annihilate!r} contradicts three_phase=False "
                    "(no annihilation phase); drop one of them"
                )
            a = 0.0
        if not 0.0 <= a < 1.0:
            raise ValueError(f"annihilate must be in [0, 1), got {annihilate!r}")
        out["annihilate"] = a
        default_pct = (1.0 - a) / 2.0
    else:
        if annihilate is not None:
            raise ValueError(
                f"annihilate applies to style='smith' only (got annihilate={annihilate!r} "
                f"with style={style!r}); use three_phase=True for torch's layout"
            )
        out["annihilate"] = 0.0
        default_pct = d.pct_start  # type: ignore[assignment]
    p = default_pct if pct_start is None else _real("pct_start", pct_start)
    if not 0.0 < p < 1.0:
        raise ValueError(f"pct_start must be in (0, 1), got {pct_start!r}")
    if style == "smith" and p >= 1.0 - out["annihilate"]:
        raise ValueError(
            f"pct_start must be < 1 - annihilate = {1.0 - out['annihilate']:g} so the LR "
            f"can come back down before annihilation, got {pct_start!r}"
        )
    if style != "smith" and three_phase and p >= 0.5:
        raise ValueError(
            f"pct_start must be < 0.5 with three_phase=True (two phases of pct_start "
            f"each), got {pct_start!r}"
        )
    out["pct_start"] = float(p)

    if momentum is _MISSING:
        momentum = d.momentum
    if momentum is None:
        out["momentum"] = None
    else:
        try:
            mom = tuple(_real("momentum", m) for m in momentum)
        except TypeError:
            raise TypeError(
                f"momentum must be a (high, low) pair, a (start, low, end) triple or "
                f"None, got {momentum!r}"
            ) from None
        if len(mom) not in (2, 3):
            raise ValueError(
                f"momentum must be a (high, low) pair or a (start, low, end) triple, "
                f"got {momentum!r}"
            )
        for m in mom:
            if not 0.0 <= m < 1.0:
                raise ValueError(f"momentum values must be in [0, 1), got {momentum!r}")
        out["momentum"] = mom
    if on_end not in ("hold", "raise"):
        raise ValueError(f"on_end must be 'hold' or 'raise', got {on_end!r}")
    out["on_end"] = on_end
    return out


class OneCycleSchedule:
    """The 1cycle policy as a pure function of the step.

    Args:
        total_steps: number of optimizer steps in the cycle (>= 1).
        max_lr: peak learning rate (> 0).
        style: ``"smith"`` (default), ``"fastai"`` or ``"torch"``; sets the defaults below.
        div: initial LR is ``max_lr / div``.
        final_div: final LR is ``max_lr / final_div`` (``torch`` style: ``max_lr / div /
            final_div``, as in torch).
        pct_start: fraction of the steps spent raising the LR. Smith style default:
            ``(1 - annihilate) / 2`` (a symmetric cycle); a smaller value gives a longer
            descent.
        annihilate: smith style: fraction of the steps in the final annihilation phase.
        anneal: ``"linear"`` or ``"cos"``.
        three_phase: torch/fastai: torch's ``three_phase`` layout; smith: ``False`` drops
            the annihilation phase (the descent then ends at the final LR).
        momentum: ``(high, low)`` or ``(start, low, end)``; ``None`` leaves momentum alone.
        on_end: ``"hold"`` (default: past the last step hold the final values, warning
            once) or ``"raise"`` (``ValueError`` past ``total_steps``, like torch).

    >>> s = OneCycleSchedule(100, 1.0, style="torch")
    >>> round(s.lr(0), 6), round(s.lr(29), 6)
    (0.04, 1.0)
    >>> OneCycleSchedule.from_dict(s.to_dict()).lr(50) == s.lr(50)
    True
    """

    def __init__(
        self,
        total_steps: int,
        max_lr: float,
        *,
        style: str = "smith",
        div: float | None = None,
        final_div: float | None = None,
        pct_start: float | None = None,
        annihilate: float | None = None,
        anneal: str | None = None,
        three_phase: bool | None = None,
        momentum: Sequence[float] | None = _MISSING,
        on_end: str = "hold",
    ) -> None:
        style_defaults(style)
        self.total_steps = _int_steps("total_steps", total_steps)
        self.max_lr = _positive("max_lr", max_lr)
        o = _resolve_options(style, div, final_div, pct_start, annihilate, anneal,
                             three_phase, momentum, on_end)
        self.style = style
        self.div, self.final_div = o["div"], o["final_div"]
        self.anneal, self.three_phase = o["anneal"], o["three_phase"]
        self.annihilate, self.pct_start = o["annihilate"], o["pct_start"]
        self.momentum_spec: tuple[float, ...] | None = o["momentum"]
        self.on_end = o["on_end"]
        self._warned = False
        self._build()

    @staticmethod
    def check_options(**options: Any) -> dict[str, Any]:
        """Check 1cycle options without building a schedule; return them resolved
        against the style's defaults (the keys of :meth:`to_dict` after ``max_lr``).

        Cheap: no curve is built. ``OneCycleSchedule(T, lr, **check_options(**opts))``
        is the same schedule as ``OneCycleSchedule(T, lr, **opts)``.

        >>> o = OneCycleSchedule.check_options(style="torch", pct_start=0.25)
        >>> o["div"], o["pct_start"], o["momentum"]
        (25.0, 0.25, (0.95, 0.85))
        >>> OneCycleSchedule.check_options(pct_start=1.5)
        Traceback (most recent call last):
        ...
        ValueError: pct_start must be in (0, 1), got 1.5
        """
        allowed = set(_OPTION_NAMES)
        unknown = sorted(set(options) - allowed)
        if unknown:
            raise TypeError(
                f"unknown 1cycle option {unknown[0]!r}; expected one of {sorted(allowed)}"
            )
        o = _resolve_options(**options)
        if o["style"] != "smith":
            del o["annihilate"]
        return o

    # -- construction -----------------------------------------------------

    @property
    def initial_lr(self) -> float:
        return self.max_lr / self.div

    @property
    def final_lr(self) -> float:
        if self.style == "torch":
            return self.initial_lr / self.final_div
        return self.max_lr / self.final_div

    def _build(self) -> None:
        T = self.total_steps
        lo, hi, fin = self.initial_lr, self.max_lr, self.final_lr
        kind = {"linear": "linear", "cos": "cos"}[self.anneal]
        mom = self.momentum_spec
        if mom is not None:
            m_start, m_low = mom[0], mom[1]
            m_end = mom[2] if len(mom) == 3 else mom[0]
        p = self.pct_start
        if self.style == "torch":
            # torch's phase table: end steps pct*T-1, (2*pct*T-2), T-1.
            if self.three_phase:
                knots = [0.0, p * T - 1, 2 * p * T - 2, T - 1.0]
                lr_c = [Curve(kind, lo, hi), Curve(kind, hi, lo), Curve(kind, lo, fin)]
                names = ["warm-up", "cool-down", "annihilation"]
            else:
                knots = [0.0, p * T - 1, T - 1.0]
                lr_c = [Curve(kind, lo, hi), Curve(kind, hi, fin)]
                names = ["warm-up", "annealing"]
        elif self.style == "fastai":
            kind = "fastai_cos" if kind == "cos" else kind
            if self.three_phase:
                knots = [0.0, p * T, 2 * p * T, float(T)]
                lr_c = [Curve(kind, lo, hi), Curve(kind, hi, lo), Curve(kind, lo, fin)]
                names = ["warm-up", "cool-down", "annihilation"]
            else:
                knots = [0.0, p * T, float(T)]
                lr_c = [Curve(kind, lo, hi), Curve(kind, hi, fin)]
                names = ["warm-up", "annealing"]
        else:  # smith: knots at pct*T and (1-a)*T, clamped to the last step T-1
            last = T - 1.0
            if self.annihilate > 0:
                # annihilation keeps at least one step when there are steps to spare
                k2 = min((1 - self.annihilate) * T, max(last - 1.0, 0.0))
                k1 = min(p * T, k2)
                knots = [0.0, k1, k2, last]
                lr_c = [Curve(kind, lo, hi), Curve(kind, hi, lo), Curve(kind, lo, fin)]
                names = ["warm-up", "cool-down", "annihilation"]
            else:
                knots = [0.0, min(p * T, max(last - 1.0, 0.0)), last]
                lr_c = [Curve(kind, lo, hi), Curve(kind, hi, fin)]
                names = ["warm-up", "cool-down"]
        strict = self.style != "torch"
        self._lr = Piecewise(lr_c, knots, strict=strict)
        if mom is None:
            self._mom: Piecewise | None = None
        else:
            mkind = lr_c[0].kind
            if len(lr_c) == 3:
                m_c = [Curve(mkind, m_start, m_low), Curve(mkind, m_low, m_end),
                       Curve(mkind, m_end, m_end)]
            else:
                m_c = [Curve(mkind, m_start, m_low), Curve(mkind, m_low, m_end)]
            self._mom = Piecewise(m_c, knots, strict=strict)
        self._names = names
        self._fastai = self.style == "fastai"

    # -- evaluation -------------------------------------------------------

    def _pos(self, step: int) -> float:
        if step < 0:
            raise ValueError(f"step must be >= 0, got {step!r}")
        if step >= self.total_steps:
            if self.on_end == "raise" and step > self.total_steps:
                raise ValueError(
                    f"Tried to step {step} times. The specified number of total steps is "
                    f"{self.total_steps}"
                )
            if self.on_end == "hold" and step > self.total_steps:
                if not self._warned:
                    self._warned = True
                    warnings.warn(
                        f"step {step} is past the end of the {self.total_steps}-step cycle; "
                        "holding the final values (use replan() or fit_tail() to continue)",
                        RuntimeWarning,
                        stacklevel=3,
                    )
                step = self.total_steps - 1
        return float(step)

    def lr(self, step: int) -> float:
        """Learning rate at ``step`` (0-based)."""
        return self._lr(self._pos(step))

    def momentum(self, step: int) -> float | None:
        """Momentum (or beta1) at ``step``; ``None`` when momentum is not scheduled."""
        if self._mom is None:
            return None
        return self._mom(self._pos(step))

    def values(self, step: int) -> dict[str, float]:
        """``{"lr": ..., "momentum": ...}`` at ``step`` (no momentum key when disabled)."""
        s = self._pos(step)
        out = {"lr": self._lr(s)}
        if self._mom is not None:
            out["momentum"] = self._mom(s)
        return out

    @property
    def lr_schedule(self) -> Piecewise:
        """The LR as a :class:`Piecewise` function of the step (no end handling)."""
        return self._lr

    @property
    def momentum_schedule(self) -> Piecewise | None:
        return self._mom

    @property
    def phases(self) -> list[tuple[str, float, float]]:
        """``(name, first_step, last_step)`` of each phase, clipped to ``[0, T-1]``."""
        out = []
        last = self.total_steps - 1.0
        ks = self._lr.knots
        for name, a, b in zip(self._names, ks, ks[1:]):
            a, b = min(max(a, 0.0), last), min(max(b, 0.0), last)
            out.append((name, a, b))
        return out

    def preview(self) -> dict[str, Any]:
        """Arrays of ``step``, ``lr`` (and ``momentum``) over every step.

        >>> OneCycleSchedule(10, 1.0).preview()["lr"].shape
        (10,)
        """
        import numpy as np

        steps = np.arange(self.total_steps)
        out: dict[str, Any] = {
            "step": steps,
            "lr": np.array([self._lr(float(i)) for i in steps]),
        }
        if self._mom is not None:
            out["momentum"] = np.array([self._mom(float(i)) for i in steps])
        return out

    # -- serialisation ----------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable spec; ``from_dict`` rebuilds an identical schedule."""
        d: dict[str, Any] = {
            "type": "onecycle",
            "version": 1,
            "total_steps": self.total_steps,
            "max_lr": self.max_lr,
            "style": self.style,
            "div": self.div,
            "final_div": self.final_div,
            "pct_start": self.pct_start,
            "anneal": self.anneal,
            "three_phase": self.three_phase,
            "momentum": None if self.momentum_spec is None else list(self.momentum_spec),
            "on_end": self.on_end,
        }
        if self.style == "smith":
            d["annihilate"] = self.annihilate
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> OneCycleSchedule:
        """Inverse of :meth:`to_dict` (accepts a JSON string too)."""
        if isinstance(d, str):
            d = json.loads(d)
        if not isinstance(d, dict):
            raise TypeError(f"from_dict expects a dict, got {type(d).__name__}")
        d = dict(d)
        kind = d.pop("type", "onecycle")
        if kind != "onecycle":
            raise ValueError(f"not a OneCycleSchedule spec: type={kind!r}")
        version = d.pop("version", 1)
        if version != 1:
            raise ValueError(f"unsupported OneCycleSchedule spec version {version!r}")
        allowed = {
            "total_steps", "max_lr", "style", "div", "final_div", "pct_start", "anneal",
            "three_phase", "momentum", "on_end", "annihilate",
        }
        unknown = set(d) - allowed
        if unknown:
            raise ValueError(f"unknown keys in OneCycleSchedule spec: {sorted(unknown)}")
        mom = d.pop("momentum", _MISSING)
        return cls(d.pop("total_steps"), d.pop("max_lr"), momentum=mom, **d)

    @classmethod
    def from_clr_beta(
        cls, total_steps: int, max_lr: float, clr_beta: Sequence[float], **kw: Any
    ) -> OneCycleSchedule:
        """fastai 0.7's ``use_clr_beta=(div, pct, max_mom, min_mom)`` on the smith style.

        ``pct`` is the percentage of steps in annihilation; the final LR is
        ``max_lr / (div * 100)`` as in fastai 0.7.

        >>> s = OneCycleSchedule.from_clr_beta(100, 1.0, (10, 10, 0.95, 0.85))
        >>> s.div, s.final_div, s.annihilate
        (10.0, 1000.0, 0.1)
        """
        vals = tuple(clr_beta)
        if len(vals) not in (2, 4):
            raise ValueError(
                f"clr_beta must be (div, pct) or (div, pct, max_mom, min_mom), got {clr_beta!r}"
            )
        div = _positive("clr_beta div", vals[0])
        pct = _real("clr_beta pct", vals[1])
        if not 0 <= pct < 100:
            raise ValueError(f"clr_beta pct must be in [0, 100), got {pct!r}")
        momentum = (vals[2], vals[3]) if len(vals) == 4 else None
        return cls(
            total_steps, max_lr, style="smith", div=div, final_div=div * 100,
            annihilate=pct / 100, three_phase=pct > 0, momentum=momentum, **kw,
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, OneCycleSchedule) and self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash(json.dumps(self.to_dict(), sort_keys=True))

    def __repr__(self) -> str:
        mom = "None" if self.momentum_spec is None else str(self.momentum_spec)
        return (
            f"OneCycleSchedule(total_steps={self.total_steps}, max_lr={self.max_lr:g}, "
            f"style={self.style!r}, div={self.div:g}, final_div={self.final_div:g}, "
            f"pct_start={self.pct_start:g}, anneal={self.anneal!r}, momentum={mom})"
        )


_OPTION_NAMES = (
    "style", "div", "final_div", "pct_start", "annihilate", "anneal", "three_phase",
    "momentum", "on_end",
)


def schedule_from_dict(d: dict[str, Any]) -> Any:
    """Rebuild any schedule from its ``to_dict()``.

    >>> s = join([linear(0, 1)], [0, 10])
    >>> schedule_from_dict(s.to_dict())(5)
    0.5
    """
    kind = d.get("type")
    if kind == "onecycle":
        return OneCycleSchedule.from_dict(d)
    if kind == "piecewise":
        return Piecewise.from_dict(d)
    if kind == "timewarp":
        return TimeWarp.from_dict(d)
    raise ValueError(f"unknown schedule type {kind!r}; expected onecycle, piecewise or timewarp")
