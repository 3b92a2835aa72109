"""What every named schedule (1cycle and the alternatives) has in common: a length, an
LR curve (and maybe a momentum curve), phase names, and checked public step arguments.

Public methods take integer steps ``0 .. total_steps - 1`` (checked: ``lr(2.5)`` and
``lr("a")`` are ``TypeError``); past the end the final values are held, warning once,
or ``on_end="raise"`` raises as torch does. Calling the schedule itself, ``s(step)``, is
the unchecked float evaluation a torch scheduler uses on every step.

Example:
    >>> from onecycle.schedule import OneCycleSchedule
    >>> s = OneCycleSchedule(10, 1.0)
    >>> s.lr(0) == s(0), [name for name, _, _ in s.phases]
    (True, ['warm-up', 'cool-down', 'annihilation'])
"""

from __future__ import annotations

import json
import warnings
from typing import Any

from .. import _validate
from .piecewise import Piecewise

__all__ = ["Schedule", "ON_END"]

#: What a schedule does past its last step: hold the final values, or raise like torch.
ON_END = ("hold", "raise")


class Schedule:
    """Base class of the named schedules; subclasses set ``total_steps``, ``on_end`` and
    call :meth:`_set_curves`, and give ``to_dict()`` and ``describe()``.

    >>> from onecycle.schedule import wsd
    >>> s = wsd(100, 1.0)
    >>> s.values(50), s.momentum(50)
    ({'lr': 1.0}, None)
    """

    total_steps: int
    on_end: str = "hold"
    _lr: Piecewise
    _mom: Piecewise | None = None
    _names: tuple[str, ...] = ()
    _warned: bool = False

    def _set_curves(self, lr: Piecewise, momentum: Piecewise | None, names: Any) -> None:
        self._lr, self._mom, self._names = lr, momentum, tuple(names)

    # -- evaluation -------------------------------------------------------

    def _pos(self, step: Any) -> float:
        step = _validate.integer("step", step, least=0)
        T = self.total_steps
        if step > T:
            # step T is where a loop lands after its last optimizer step (torch allows it
            # too); only going beyond it is reported
            if self.on_end == "raise":
                raise ValueError(
                    f"Tried to step {step} times. The specified number of total steps is {T}"
                )
            if not self._warned:
                self._warned = True
                warnings.warn(
                    f"step {step} is past the end of the {T}-step schedule; holding the "
                    "final values (use replan() or fit_tail() to continue)",
                    RuntimeWarning,
                    stacklevel=3,
                )
        return float(min(step, T - 1))

    def __call__(self, step: float) -> float:
        return self._lr(step)

    def lr(self, step: int) -> float:
        """Learning rate at ``step`` (an integer >= 0).

        >>> from onecycle.schedule import linear_decay
        >>> linear_decay(10, 1.0).lr(5)
        0.5
        """
        return self._lr(self._pos(step))

    def momentum(self, step: int) -> float | None:
        """Momentum (or beta1) at ``step``; ``None`` when momentum is not scheduled.

        >>> from onecycle.schedule import OneCycleSchedule
        >>> OneCycleSchedule(10, 1.0).momentum(0)
        0.95
        """
        s = self._pos(step)
        return None if self._mom is None else self._mom(s)

    def values(self, step: int) -> dict[str, float]:
        """``{"lr": ..., "momentum": ...}`` at ``step`` (no momentum key when not scheduled).

        >>> from onecycle.schedule import OneCycleSchedule
        >>> OneCycleSchedule(10, 1.0, momentum=None).values(0)
        {'lr': 0.1}
        """
        s = self._pos(step)
        out = {"lr": self._lr(s)}
        if self._mom is not None:
            out["momentum"] = self._mom(s)
        return out

    @property
    def lr_schedule(self) -> Piecewise:
        """The LR as a :class:`~onecycle.schedule.Piecewise` of the step (no end handling).

        >>> from onecycle.schedule import wsd
        >>> wsd(10, 1.0, warmup=0.0).lr_schedule.knots
        (0.0, 8.0, 10.0)
        """
        return self._lr

    @property
    def momentum_schedule(self) -> Piecewise | None:
        """The momentum as a :class:`~onecycle.schedule.Piecewise`, or ``None``.

        >>> from onecycle.schedule import OneCycleSchedule
        >>> OneCycleSchedule(10, 1.0, style="torch").momentum_schedule(0)
        0.95
        """
        return self._mom

    @property
    def phases(self) -> list[tuple[str, float, float]]:
        """``(name, first_step, last_step)`` of each phase, clipped to ``[0, T-1]``.

        >>> from onecycle.schedule import wsd
        >>> wsd(100, 1.0).phases
        [('warm-up', 0.0, 5.0), ('stable', 5.0, 80.0), ('decay', 80.0, 99.0)]
        """
        last = self.total_steps - 1.0
        ks = self._lr.knots
        return [
            (name, min(max(a, 0.0), last), min(max(b, 0.0), last))
            for name, a, b in zip(self._names, ks, ks[1:])
        ]

    def preview(self) -> dict[str, Any]:
        """Arrays of ``step``, ``lr`` (and ``momentum``) over every step, for tables and
        plots.

        >>> from onecycle.schedule import OneCycleSchedule
        >>> sorted(OneCycleSchedule(10, 1.0).preview()), OneCycleSchedule(10, 1.0).preview()["lr"].shape
        (['lr', 'momentum', 'step'], (10,))
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

    # -- identity ---------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:  # pragma: no cover - every subclass has one
        """The JSON spec that :func:`~onecycle.schedule.schedule_from_dict` reads back."""
        raise NotImplementedError

    def describe(self, total_steps: int | None = None) -> str:  # pragma: no cover
        """One line: the kind of schedule and its numbers (a plot title); every subclass
        has one."""
        raise NotImplementedError

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self.to_dict() == other.to_dict()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(json.dumps(self.to_dict(), sort_keys=True))
