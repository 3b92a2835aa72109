"""Rebuild any schedule from its ``to_dict()``: the one reader of schedule specs.

Example:
    >>> from onecycle.schedule import join, linear
    >>> schedule_from_dict(join([linear(0, 1)], [0, 10]).to_dict())(5)
    0.5
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .alternatives import ALTERNATIVES, NamedSchedule
from .onecycle import OneCycleSchedule
from .piecewise import Piecewise, TimeWarp

__all__ = ["schedule_from_dict", "SPEC_TYPES"]

#: Every spec ``type`` and the class method that reads it.
SPEC_TYPES: dict[str, Callable[[Any], Any]] = {
    "onecycle": OneCycleSchedule.from_dict,
    "piecewise": Piecewise.from_dict,
    "timewarp": TimeWarp.from_dict,
    **{kind: NamedSchedule.from_dict for kind in ALTERNATIVES},
}


def schedule_from_dict(d: Mapping[str, Any]) -> Any:
    """Rebuild any schedule from its ``to_dict()`` (the spec is checked whole; a bad one
    is a ``ValueError``/``TypeError`` naming what is wrong).

    >>> from onecycle.schedule import wsd
    >>> schedule_from_dict(wsd(100, 1.0).to_dict()).lr(99) > 0
    True
    """
    if not isinstance(d, Mapping):
        raise TypeError(f"a schedule spec must be a dict, got {type(d).__name__}")
    kind = d.get("type")
    if kind not in SPEC_TYPES:
        raise ValueError(
            f"unknown schedule type {kind!r}; expected one of {', '.join(SPEC_TYPES)}"
        )
    return SPEC_TYPES[kind](d)
