"""Plain data for JSON: one converter for every file onecycle writes, one reader back.

:func:`to_plain` turns results, configurations and histories into strict JSON: numpy
and torch scalars become Python numbers, arrays and tuples lists, paths strings, objects
with ``to_dict()`` their dict. Non-finite floats have no JSON spelling, so ``+-inf``
becomes ``"inf"``/``"-inf"`` and NaN becomes ``nan`` (``None`` by default; histories
keep the string ``"nan"`` so a NaN loss reads back as NaN). :func:`from_plain` undoes
the strings.

Example:
    >>> to_plain({"a": (1.0, float("nan")), "b": float("inf")})
    {'a': [1.0, None], 'b': 'inf'}
    >>> from_plain(["inf", "nan", 2.0])
    [inf, nan, 2.0]
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any

__all__ = ["to_plain", "from_plain"]

_SPECIAL = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


_INF = ("inf", "-inf")


def _float(f: float, nan: Any, inf: tuple[Any, Any]) -> Any:
    if math.isnan(f):
        return nan
    if math.isinf(f):
        return inf[0] if f > 0 else inf[1]
    return f


def to_plain(obj: Any, *, nan: Any = None, inf: tuple[Any, Any] = _INF) -> Any:
    """A strict-JSON copy of ``obj`` (see the module docs); ``nan`` is what NaN becomes,
    ``inf`` what ``(+inf, -inf)`` become.

    >>> import numpy as np
    >>> to_plain({"x": np.float32(0.5), "y": np.arange(2)}, nan="nan")
    {'x': 0.5, 'y': [0, 1]}
    >>> to_plain([float("inf"), float("-inf")], inf=(None, None))
    [None, None]
    """
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        return _float(obj, nan, inf)
    if isinstance(obj, Mapping):
        return {str(k): to_plain(v, nan=nan, inf=inf) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [to_plain(v, nan=nan, inf=inf) for v in obj]
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    for method in ("tolist", "item", "to_dict"):  # numpy / torch values, result objects
        fn = getattr(obj, method, None)
        if callable(fn):
            try:
                return to_plain(fn(), nan=nan, inf=inf)
            except (TypeError, ValueError, RuntimeError):
                if method == "to_dict":
                    raise
    return str(obj)


def from_plain(obj: Any) -> Any:
    """Inverse of :func:`to_plain` for numbers: ``"inf"``, ``"-inf"``, ``"nan"`` -> floats.

    >>> from_plain({"loss": "nan", "lr": [0.1, "inf"]})
    {'loss': nan, 'lr': [0.1, inf]}
    """
    if isinstance(obj, str):
        return _SPECIAL.get(obj, obj)
    if isinstance(obj, dict):
        return {k: from_plain(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [from_plain(v) for v in obj]
    return obj
