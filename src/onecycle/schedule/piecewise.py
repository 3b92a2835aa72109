"""Curves joined end to end on the step axis, and a time warp for changing a plan.

Two rules say which curve a step that lies exactly on a knot belongs to:

* ``boundary="next"`` (:func:`join`, the default): the step starts the next curve, as in
  optax's ``join_schedules`` and fastai's ``combine_scheds``, so a warm restart (SGDR)
  restarts on its knot, not one step late.
* ``boundary="previous"``: the step ends the previous curve, the rule of torch's
  ``OneCycleLR`` phase table ("the first phase whose end >= step"); the torch and smith
  styles of 1cycle use it, so the torch style stays identical to torch (see
  docs/schedules.md).

For curves that meet (a 1cycle's phases) both rules give the same value on a knot.

Example:
    >>> sgdr = join([cosine(1.0, 0.0), cosine(1.0, 0.0)], [0, 5, 10])
    >>> sgdr(4) > 0, sgdr(5), sgdr(10)
    (True, 1.0, 0.0)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from .. import _validate
from .curves import Curve, constant, cosine, curve_function, linear  # noqa: F401  (the examples use them)

__all__ = ["Piecewise", "join", "TimeWarp", "BOUNDARIES"]

#: The two rules for a step on a knot (see the module docs).
BOUNDARIES = ("next", "previous")


def _spec(d: Any, kind: str, keys: set[str], required: set[str]) -> Mapping[str, Any]:
    """``d`` as a mapping of type ``kind`` with only ``keys`` and at least ``required``."""
    if not isinstance(d, Mapping):
        raise TypeError(f"a {kind} spec must be a dict, got {type(d).__name__}")
    if d.get("type", kind) != kind:
        raise ValueError(f"not a {kind} spec: type={d.get('type')!r}")
    unknown = sorted(set(d) - keys - {"type"})
    missing = sorted(required - set(d))
    if unknown or missing:
        raise ValueError(f"bad {kind} spec: unknown keys {unknown}, missing keys {missing}")
    return d


class Piecewise:
    """Curves joined end to end on the step axis (optax ``join_schedules``).

    ``knots`` are ``len(curves) + 1`` step positions (floats allowed, non-decreasing
    unless ``strict=False``, which torch's phase table for tiny step counts needs);
    curve ``i`` runs from ``knots[i]`` to ``knots[i+1]`` and a step's fraction in it is
    ``(step - start) / (end - start)``. ``boundary`` says where a step on a knot belongs
    (see the module docs); zero-length curves are skipped with ``"next"`` and evaluate to
    their end value with ``"previous"``. Before the first knot the first value is held;
    from the last knot on, the final value (so the last step of a cycle is exactly its
    final value). Steps may be floats here: this is the evaluation the schedulers use.

    >>> s = join([linear(0.0, 1.0), linear(1.0, 0.0)], [0, 10, 20])
    >>> s(5), s(10), s(15), s(99)
    (0.5, 1.0, 0.5, 0.0)
    """

    def __init__(
        self, curves: Sequence[Curve], knots: Sequence[float], *, strict: bool = True,
        boundary: str = "next",
    ) -> None:
        if isinstance(curves, (str, bytes)) or not isinstance(curves, Sequence) or not curves:
            raise ValueError(f"curves must be a non-empty sequence of Curve, got {curves!r}")
        for c in curves:
            if not isinstance(c, Curve):
                raise TypeError(f"curves must hold Curve objects, got {c!r}")
        if isinstance(knots, (str, bytes)) or not isinstance(knots, Sequence):
            raise TypeError(f"knots must be a sequence of step positions, got {knots!r}")
        if len(knots) != len(curves) + 1:
            raise ValueError(
                f"knots must have len(curves) + 1 = {len(curves) + 1} entries, got {len(knots)}"
            )
        ks = [_validate.real("knots entry", k) for k in knots]
        self.strict = _validate.flag("strict", strict)
        if strict and any(b < a for a, b in zip(ks, ks[1:])):
            raise ValueError(f"knots must be non-decreasing, got {ks}")
        self.boundary = _validate.choice("boundary", boundary, BOUNDARIES)
        self.curves: tuple[Curve, ...] = tuple(curves)
        self.knots: tuple[float, ...] = tuple(ks)
        self._ends = self.knots[1:]
        self._final = self.curves[-1](1.0)
        self._first = self.curves[0](0.0)
        self._first_knot = self.knots[0]
        self._last_knot = self.knots[-1]
        self._next = self.boundary == "next"
        n = len(self.curves)
        # per curve, what the evaluation loop needs, looked up once
        self._fast = tuple(
            (a, b, curve_function(c.kind), c.start, c.end, i == n - 1)
            for i, (c, a, b) in enumerate(zip(self.curves, self.knots, self._ends))
        )

    def __call__(self, step: float) -> float:
        if step >= self._last_knot:
            return self._final
        if self._next:
            if step < self._first_knot:
                return self._first
            for start, end, fn, a, b, _ in self._fast:
                if step < end:
                    length = end - start
                    return fn(a, b, (step - start) / length if length > 0 else 1.0)
            return self._final  # only non-monotone knots get here
        if step < self._first_knot or (step == self._first_knot and self.strict):
            return self._first
        for start, end, fn, a, b, is_last in self._fast:
            if step <= end or is_last:
                length = end - start
                return fn(a, b, 1.0 if length <= 0 else (step - start) / length)
        raise AssertionError("unreachable")  # pragma: no cover

    @property
    def end_value(self) -> float:
        """The value from the last knot on.

        >>> join([linear(1, 3)], [0, 4]).end_value
        3.0
        """
        return self._final

    @property
    def max_slope(self) -> float:
        """Steepest ``|value change per step|`` over all curves (for continuity checks).

        >>> join([linear(0, 10)], [0, 5]).max_slope
        2.0
        """
        best = 0.0
        for c, a, b in zip(self.curves, self.knots, self._ends):
            if b > a:
                best = max(best, c.max_slope / (b - a))
        return best

    def to_dict(self) -> dict[str, Any]:
        """A JSON spec; :meth:`from_dict` rebuilds an identical schedule.

        >>> join([constant(0.1)], [0, 10]).to_dict()["boundary"]
        'next'
        """
        return {
            "type": "piecewise",
            "curves": [c.to_dict() for c in self.curves],
            "knots": list(self.knots),
            "strict": self.strict,
            "boundary": self.boundary,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Piecewise:
        """Inverse of :meth:`to_dict`. A spec without ``"boundary"`` was written before
        the rule was a choice, when every piecewise used ``"previous"``: it keeps it, so
        an old checkpoint resumes with exactly the values it was saved with.

        >>> s = join([linear(0, 1), linear(0, 1)], [0, 2, 4])
        >>> Piecewise.from_dict(s.to_dict())(2)
        0.0
        """
        d = _spec(d, "piecewise", {"curves", "knots", "strict", "boundary"}, {"curves", "knots"})
        curves = d["curves"]
        if not isinstance(curves, list):
            raise TypeError(f"piecewise curves must be a list, got {type(curves).__name__}")
        return cls(
            [Curve.from_dict(c) for c in curves],
            d["knots"],
            strict=d.get("strict", True),
            boundary=d.get("boundary", "previous"),
        )

    def __repr__(self) -> str:
        parts = ", ".join(
            f"{c.kind} {c.start:.4g}->{c.end:.4g} @[{a:g},{b:g}]"
            for c, a, b in zip(self.curves, self.knots, self._ends)
        )
        return f"Piecewise({parts})"


def join(curves: Sequence[Curve], knots: Sequence[float]) -> Piecewise:
    """Join curves into one schedule; a step on a knot starts the next curve, as in
    optax's ``join_schedules`` and fastai's ``combine_scheds`` (see :class:`Piecewise`).

    >>> join([linear(1, 2)], [0, 4])(2)
    1.5
    >>> join([cosine(1, 0), cosine(1, 0)], [0, 5, 10])(5)  # a warm restart, on time
    1.0
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
        _validate.function("base", base, "base(step) -> float")
        self.pivot = _validate.real("pivot", pivot)
        self.old_last = _validate.real("old_last", old_last)
        self.new_last = _validate.real("new_last", new_last)
        if self.new_last < self.pivot:
            raise ValueError(
                f"cannot replan to end at step {self.new_last:g}: step {self.pivot:g} has "
                "already run"
            )
        self.base = base
        span_new = self.new_last - self.pivot
        span_old = self.old_last - self.pivot
        self._scale = span_old / span_new if span_new > 0 and span_old > 0 else 0.0

    def __call__(self, step: float) -> float:
        if step <= self.pivot:
            return self.base(step)
        return self.base(self.pivot + (min(step, self.new_last) - self.pivot) * self._scale)

    @property
    def max_slope(self) -> float:
        """The base's steepest slope, times the squeeze.

        >>> TimeWarp(join([linear(0, 10)], [0, 10]), 5, 10, 15).max_slope
        1.0
        """
        slope = getattr(self.base, "max_slope", math.inf)
        return slope * max(1.0, self._scale)

    def to_dict(self) -> dict[str, Any]:
        """A JSON spec (the base's spec nested).

        >>> TimeWarp(join([linear(0, 10)], [0, 10]), 5, 10, 15).to_dict()["type"]
        'timewarp'
        """
        return {
            "type": "timewarp",
            "base": self.base.to_dict(),
            "pivot": self.pivot,
            "old_last": self.old_last,
            "new_last": self.new_last,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TimeWarp:
        """Inverse of :meth:`to_dict`.

        >>> w = TimeWarp(join([linear(0, 10)], [0, 10]), 5, 10, 15)
        >>> TimeWarp.from_dict(w.to_dict())(15)
        10.0
        """
        from .spec import schedule_from_dict  # the registry knows every type of base

        keys = {"base", "pivot", "old_last", "new_last"}
        d = _spec(d, "timewarp", keys, keys)
        return cls(schedule_from_dict(d["base"]), d["pivot"], d["old_last"], d["new_last"])

