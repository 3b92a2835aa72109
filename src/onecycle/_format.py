"""Numbers as text: the one set of formatters behind the terminal, the report and JSON
reasons, so a value printed in two places is printed the same way.

Example:
    >>> fmt_lr(0.037654), fmt_pct(0.98611), fmt_num(None)
    ('0.0377', '98.61 %', '—')
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["fmt_num", "fmt_lr", "fmt_pct", "fmt_seconds", "fmt_value", "as_float", "DASH"]

#: Shown where a number is missing (not run, diverged, not applicable).
DASH = "—"


def as_float(v: Any) -> float | None:
    """``v`` as a finite float, or None (missing, a bool, not a number, NaN or inf).

    >>> as_float("0.5"), as_float(True), as_float(float("nan"))
    (0.5, None, None)
    """
    if isinstance(v, bool) or v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def fmt_num(v: Any, digits: int = 4) -> str:
    """``digits`` significant digits (losses, noise levels).

    >>> fmt_num(0.0232145), fmt_num(1234.5, 3)
    ('0.02321', '1.23e+03')
    """
    f = as_float(v)
    return DASH if f is None else f"{f:.{digits}g}"


def fmt_lr(v: Any) -> str:
    """A learning rate or weight decay: three significant digits, everywhere.

    >>> fmt_lr(0.0376543), fmt_lr(1e-4), fmt_lr(0)
    ('0.0377', '0.0001', '0')
    """
    f = as_float(v)
    return DASH if f is None else f"{f:.3g}"


def fmt_pct(v: Any, digits: int = 2) -> str:
    """A fraction as a percentage.

    >>> fmt_pct(0.9765, 1), fmt_pct(None)
    ('97.7 %', '—')
    """
    f = as_float(v)
    return DASH if f is None else f"{100 * f:.{digits}f} %"


def fmt_seconds(v: Any) -> str:
    """Wall time: ``'3.2 s'``, ``'2 min 05 s'``.

    >>> fmt_seconds(3.21), fmt_seconds(125)
    ('3.2 s', '2 min 05 s')
    """
    f = as_float(v)
    if f is None:
        return DASH
    if f < 60:
        return f"{f:.1f} s"
    m, s = divmod(int(round(f)), 60)
    return f"{m} min {s:02d} s"


def fmt_value(v: Any) -> str:
    """A searched value: ``1e-04``, ``0``, ``(0.95, 0.85)``, ``64``.

    >>> fmt_value(1e-4), fmt_value((0.95, 0.85)), fmt_value(64), fmt_value(0.0)
    ('1e-04', '(0.95, 0.85)', '64', '0')
    """
    if isinstance(v, (tuple, list)):
        return "(" + ", ".join(fmt_value(x) for x in v) + ")"
    if isinstance(v, bool) or v is None:
        return str(v)
    if isinstance(v, int):
        return str(v)
    f = as_float(v)
    if f is None:
        return str(v)
    if f == 0:
        return "0"
    if f.is_integer() and abs(f) < 1e4 and not isinstance(v, float):
        return str(int(f))
    return f"{f:.3g}" if 1e-3 <= abs(f) < 1e4 else f"{f:.0e}"
