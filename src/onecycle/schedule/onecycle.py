"""The 1cycle policy as a pure function of the step, built from its style's table.

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
from collections.abc import Mapping, Sequence
from typing import Any

from .. import _validate
from .base import Schedule
from .curves import Curve
from .piecewise import Piecewise
from .styles import OPTION_NAMES, STYLE_DEFAULT, STYLE_TABLE, layout, resolve_options

__all__ = ["OneCycleSchedule"]


def _checked_lr(what: str, value: float, formula: str, culprit: str, args: str) -> float:
    """An initial or final LR must come out a finite number > 0: name what made it not."""
    if not (math.isfinite(value) and value > 0):
        raise ValueError(
            f"{culprit} is out of range: the {what} LR {formula} = {args} = {value!r}, and an "
            f"LR must be a finite number > 0; choose {culprit} so that it is"
        )
    return value


class OneCycleSchedule(Schedule):
    """The 1cycle policy as a pure function of the step.

    Args:
        total_steps: number of optimizer steps in the cycle (>= 1).
        max_lr: peak learning rate (> 0).
        style: ``"smith"`` (default), ``"fastai"`` or ``"torch"``; sets the defaults below
            (:func:`~onecycle.schedule.style_defaults` reads them).
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

    Where ``style="torch"`` differs from ``OneCycleLR`` on purpose (the value after the
    last step, tiny cycles) is listed in docs/schedules.md.

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
        momentum: Sequence[float] | None = STYLE_DEFAULT,
        on_end: str = "hold",
    ) -> None:
        self.total_steps = _validate.integer("total_steps", total_steps, least=1)
        self.max_lr = _validate.positive("max_lr", max_lr)
        o = resolve_options(style, div, final_div, pct_start, annihilate, anneal,
                            three_phase, momentum, on_end)
        self.style: str = o["style"]
        self.div: float = o["div"]
        self.final_div: float = o["final_div"]
        self.pct_start: float = o["pct_start"]
        self.annihilate: float = o["annihilate"]
        self.anneal: str = o["anneal"]
        self.three_phase: bool = o["three_phase"]
        self.momentum_spec: tuple[float, ...] | None = o["momentum"]
        self.on_end: str = o["on_end"]
        self._warned = False
        self._check_lrs()
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
        unknown = sorted(set(options) - set(OPTION_NAMES))
        if unknown:
            raise TypeError(
                f"unknown 1cycle option {unknown[0]!r}; expected one of {sorted(OPTION_NAMES)}"
            )
        o = resolve_options(**options)
        if o["style"] != "smith":
            del o["annihilate"]
        return o

    # -- construction -----------------------------------------------------

    @property
    def initial_lr(self) -> float:
        """The LR at step 0: ``max_lr / div``.

        >>> OneCycleSchedule(10, 1.0, style="torch").initial_lr
        0.04
        """
        return self.max_lr / self.div

    @property
    def final_lr(self) -> float:
        """The LR the cycle ends at (``initial_lr / final_div`` in the torch style).

        >>> OneCycleSchedule(10, 1.0).final_lr, OneCycleSchedule(10, 1.0, style="torch").final_lr
        (0.001, 4e-06)
        """
        if STYLE_TABLE[self.style].final_of == "initial":
            return self.initial_lr / self.final_div
        return self.max_lr / self.final_div

    def _check_lrs(self) -> None:
        args = f"{self.max_lr!r} / {self.div!r}"
        _checked_lr("initial", self.initial_lr, "max_lr / div", "div", args)
        if STYLE_TABLE[self.style].final_of == "initial":
            formula, args = "max_lr / div / final_div", f"{args} / {self.final_div!r}"
        else:
            formula, args = "max_lr / final_div", f"{self.max_lr!r} / {self.final_div!r}"
        _checked_lr("final", self.final_lr, formula, "final_div", args)

    def _check_precision(self, phase: str, end: str, curve: Curve) -> None:
        """A curve between LRs many orders of magnitude apart loses its end value in float
        arithmetic ((end - start) * 1 + start is 0 when start / end > 2**53): refuse such
        a cycle, naming the divisor that made it."""
        v = curve(1.0)
        if math.isfinite(v) and v > 0 and abs(v - curve.end) <= 1e-3 * curve.end:
            return
        culprit = "final_div" if end == "final" else "div"
        raise ValueError(
            f"{culprit}={getattr(self, culprit)!r} spans too many orders of magnitude for "
            f"float arithmetic: the {phase} phase should end at an LR of {curve.end!r} but "
            f"comes out {v!r}; choose a less extreme {culprit}"
        )

    def _build(self) -> None:
        """The generic builder: the style's phase table -> LR and momentum curves."""
        st = STYLE_TABLE[self.style]
        phases = layout(self.style, three_phase=self.three_phase, annihilate=self.annihilate)
        T, p, a = self.total_steps, self.pct_start, self.annihilate
        knots = [0.0] + [ph.end(T, p, a) for ph in phases]
        kind = st.curves[self.anneal]
        lrs = {"initial": self.initial_lr, "max": self.max_lr, "final": self.final_lr}
        rules = {"strict": st.strict, "boundary": st.boundary}
        curves = [Curve(kind, lrs[ph.lr[0]], lrs[ph.lr[1]]) for ph in phases]
        for ph, c in zip(phases, curves):
            self._check_precision(ph.name, ph.lr[1], c)
        lr = Piecewise(curves, knots, **rules)
        mom = None
        if self.momentum_spec is not None:
            m = self.momentum_spec
            ms = {"start": m[0], "low": m[1], "end": m[2] if len(m) == 3 else m[0]}
            mom = Piecewise([Curve(kind, ms[ph.momentum[0]], ms[ph.momentum[1]])
                             for ph in phases], knots, **rules)
        self._set_curves(lr, mom, [ph.name for ph in phases])

    # -- serialisation ----------------------------------------------------

    def describe(self, total_steps: int | None = None) -> str:
        """One line for titles: style, LRs, length, momentum.

        >>> OneCycleSchedule(100, 0.8).describe()
        '1cycle (smith): max_lr=0.8, div=10, final_div=1000, 100 steps, momentum 0.95->0.85'
        """
        m = self.momentum_spec
        mom = "" if m is None else ", momentum " + "->".join(f"{v:g}" for v in m)
        return (
            f"1cycle ({self.style}): max_lr={self.max_lr:g}, div={self.div:g}, "
            f"final_div={self.final_div:g}, {total_steps or self.total_steps} steps{mom}"
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable spec; ``from_dict`` rebuilds an identical schedule.

        >>> OneCycleSchedule(10, 1.0).to_dict()["annihilate"]
        0.1
        """
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
    def from_dict(cls, d: Mapping[str, Any] | str) -> OneCycleSchedule:
        """Inverse of :meth:`to_dict` (accepts a JSON string too).

        >>> OneCycleSchedule.from_dict('{"total_steps": 10, "max_lr": 1.0}').style
        'smith'
        """
        if isinstance(d, str):
            d = json.loads(d)
        if not isinstance(d, Mapping):
            raise TypeError(f"from_dict expects a dict, got {type(d).__name__}")
        d = dict(d)
        kind = d.pop("type", "onecycle")
        if kind != "onecycle":
            raise ValueError(f"not a OneCycleSchedule spec: type={kind!r}")
        version = d.pop("version", 1)
        if version != 1:
            raise ValueError(f"unsupported OneCycleSchedule spec version {version!r}")
        unknown = set(d) - {"total_steps", "max_lr", *OPTION_NAMES}
        if unknown or not {"total_steps", "max_lr"} <= set(d):
            raise ValueError(
                f"a OneCycleSchedule spec needs total_steps and max_lr and may hold "
                f"{list(OPTION_NAMES)}; got unknown keys {sorted(unknown)}"
            )
        return cls(d.pop("total_steps"), d.pop("max_lr"), **d)

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
        div = _validate.positive("clr_beta div", vals[0])
        pct = _validate.in_range("clr_beta pct", vals[1], 0, 100, high_open=True)
        momentum = (vals[2], vals[3]) if len(vals) == 4 else None
        return cls(
            total_steps, max_lr, style="smith", div=div, final_div=div * 100,
            annihilate=pct / 100, three_phase=pct > 0, momentum=momentum, **kw,
        )

    def __repr__(self) -> str:
        mom = "None" if self.momentum_spec is None else str(self.momentum_spec)
        return (
            f"OneCycleSchedule(total_steps={self.total_steps}, max_lr={self.max_lr:g}, "
            f"style={self.style!r}, div={self.div:g}, final_div={self.final_div:g}, "
            f"pct_start={self.pct_start:g}, anneal={self.anneal!r}, momentum={mom})"
        )
