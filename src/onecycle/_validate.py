"""Argument checks shared by every layer: one rule, one message, one place.

Each check takes the argument's name and value and returns the value in its canonical
type, or raises ``TypeError`` (wrong kind of value) / ``ValueError`` (right kind, out of
range) with a message that names the argument, repeats the value and says what is
allowed. Pure Python: no torch, so the schedule maths can use it too.

Strings and booleans are never numbers here: ``"0.1"`` and ``True`` are refused as a
learning rate, while numpy scalars and 0-d tensors are accepted (they convert exactly).

Example:
    >>> positive("max_lr", 0.5)
    0.5
    >>> positive("max_lr", "0.5")
    Traceback (most recent call last):
    ...
    TypeError: max_lr must be a real number, got '0.5' (str)
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

__all__ = [
    "real",
    "positive",
    "nonnegative",
    "in_range",
    "integer",
    "seed",
    "momentum",
    "momentum_cycle",
    "choice",
    "flag",
    "function",
    "values",
    "grouped_options",
    "MAX_SEED",
]

#: The largest seed accepted: torch's generators take 64-bit seeds; larger ints overflow
#: deep inside torch with an unrelated message.
MAX_SEED = 2**63 - 1


def _kind(value: Any) -> str:
    return type(value).__name__


def _in_bounds(name: str, value: Any, allowed: str) -> float:
    """``value`` as a finite float; NaN and infinities get the range check's own message
    (``"lr must be a finite number > 0, got nan"``), wrong kinds a ``TypeError``."""
    try:
        return real(name, value)
    except ValueError:
        raise ValueError(f"{name} must be {allowed}, got {value!r}") from None


def real(name: str, value: Any, *, finite: bool = True) -> float:
    """``value`` as a float; NaN always refused, infinities unless ``finite=False``.

    >>> real("pct", 1), real("end", float("inf"), finite=False)
    (1.0, inf)
    """
    if isinstance(value, (str, bytes, bool)) or value is None:
        raise TypeError(f"{name} must be a real number, got {value!r} ({_kind(value)})")
    if isinstance(value, numbers.Real):
        v = float(value)
    else:
        try:  # numpy scalars, 0-d tensors
            v = float(value)
        except (TypeError, ValueError, RuntimeError):
            raise TypeError(
                f"{name} must be a real number, got {value!r} ({_kind(value)})"
            ) from None
    if math.isnan(v):
        raise ValueError(f"{name} must be a number, got NaN")
    if finite and math.isinf(v):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return v


def _above_zero(name: str, value: Any, *, strict: bool) -> float:
    allowed = f"a finite number {'>' if strict else '>='} 0"
    v = _in_bounds(name, value, allowed)
    if v < 0 or (strict and v == 0):
        raise ValueError(f"{name} must be {allowed}, got {value!r}")
    return v


def positive(name: str, value: Any) -> float:
    """A finite number > 0 (a learning rate, a divisor, a scale).

    >>> positive("div", 25)
    25.0
    """
    return _above_zero(name, value, strict=True)


def nonnegative(name: str, value: Any) -> float:
    """A finite number >= 0 (a weight decay, a clipping norm of 0 is refused elsewhere).

    >>> nonnegative("weight_decay", 0)
    0.0
    """
    return _above_zero(name, value, strict=False)


def in_range(
    name: str, value: Any, low: float, high: float, *, low_open: bool = False,
    high_open: bool = False,
) -> float:
    """A number in the interval from ``low`` to ``high`` (ends open or closed).

    >>> in_range("pct_start", 0.3, 0, 1, low_open=True, high_open=True)
    0.3
    """
    span = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    v = _in_bounds(name, value, f"in {span}")
    ok_low = v > low if low_open else v >= low
    ok_high = v < high if high_open else v <= high
    if not (ok_low and ok_high):
        raise ValueError(f"{name} must be in {span}, got {value!r}")
    return v


def integer(name: str, value: Any, least: int | None = 0, most: int | None = None) -> int:
    """An int (numpy ints and integral floats such as ``3.0`` accepted) within bounds.

    >>> integer("epochs", 3, least=1), integer("epochs", 3.0, least=1)
    (3, 3)
    """
    if least is None and most is None:
        allowed = ""
    elif most is None:
        allowed = f" >= {least}"
    elif least is None:
        allowed = f" <= {most}"
    else:
        allowed = f" in [{least}, {most}]"
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        v = int(value)
    elif isinstance(value, float) and value.is_integer():
        v = int(value)
    else:  # bool, str, None, 2.5, NaN: the message says what is allowed all the same
        raise TypeError(f"{name} must be an integer{allowed}, got {value!r} ({_kind(value)})")
    if (least is not None and v < least) or (most is not None and v > most):
        raise ValueError(f"{name} must be an integer{allowed}, got {value!r}")
    return v


def seed(name: str, value: Any) -> int:
    """A random seed: an integer in ``[0, 2**63 - 1]``.

    >>> seed("seed", 7)
    7
    """
    return integer(name, value, least=0, most=MAX_SEED)


def momentum(name: str, value: Any) -> float:
    """A momentum (or Adam's beta1) in ``[0, 1)``.

    >>> momentum("momentum", 0.9)
    0.9
    """
    return in_range(name, value, 0.0, 1.0, high_open=True)


def momentum_cycle(name: str, value: Any) -> tuple[float, ...]:
    """A momentum cycle: ``(high, low)`` or ``(start, low, end)`` with every value in
    ``[0, 1)`` and ``low`` no higher than the ends (momentum falls while the LR rises).

    >>> momentum_cycle("momentum", (0.95, 0.85))
    (0.95, 0.85)
    >>> momentum_cycle("momentum", (0.85, 0.95))
    Traceback (most recent call last):
    ...
    ValueError: momentum must be (high, low) with low <= high (momentum falls while the LR rises), got (0.85, 0.95)
    """
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise TypeError(
            f"{name} must be a (high, low) pair or a (start, low, end) triple, got {value!r}"
        )
    vals = tuple(value)
    if len(vals) not in (2, 3):
        raise ValueError(
            f"{name} must be a (high, low) pair or a (start, low, end) triple, got {value!r}"
        )
    try:
        out = tuple(momentum(f"{name} entry", v) for v in vals)
    except ValueError:  # name the whole cycle: "(1.0, 0.85)" says more than "1.0"
        raise ValueError(f"{name} values must be in [0, 1), got {value!r}") from None
    if len(out) == 2 and out[1] > out[0]:
        raise ValueError(
            f"{name} must be (high, low) with low <= high (momentum falls while the LR "
            f"rises), got {value!r}"
        )
    if len(out) == 3 and out[1] > min(out[0], out[2]):
        raise ValueError(
            f"{name} must be (start, low, end) with low <= start and low <= end, got {value!r}"
        )
    return out


def choice(name: str, value: Any, allowed: Sequence[Any]) -> Any:
    """``value`` if it is one of ``allowed``.

    >>> choice("mode", "exp", ("exp", "linear"))
    'exp'
    """
    try:
        ok = value in allowed
    except TypeError:
        ok = False
    if not ok or isinstance(value, bool) and not any(a is value for a in allowed):
        shown = ", ".join(repr(a) for a in allowed)
        raise ValueError(f"{name} must be one of {shown}, got {value!r}")
    return value


def flag(name: str, value: Any) -> bool:
    """A real ``True``/``False`` (not 0, 1 or a string).

    >>> flag("three_phase", False)
    False
    """
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {value!r} ({_kind(value)})")
    return value


def function(name: str, value: Any, how: str) -> Callable[..., Any]:
    """A callable; ``how`` says how it is called, for the message.

    >>> function("loss_fn", len, "loss_fn(outputs, targets)") is len
    True
    """
    if not callable(value):
        raise TypeError(f"{name} must be callable as {how}, got {value!r} ({_kind(value)})")
    return value


def values(name: str, items: Any, check: Callable[[str, Any], Any] | None = None) -> list[Any]:
    """A non-empty sequence (not a string) without repeats, each entry checked.

    >>> values("grid", [1e-3, 0], nonnegative)
    [0.001, 0.0]
    """
    if isinstance(items, (str, bytes)) or not isinstance(items, Iterable):
        raise TypeError(f"{name} must be a non-empty sequence of values, got {items!r}")
    vals = list(items)
    if not vals:
        raise ValueError(f"{name} must not be empty: give at least one value")
    out = [check(f"{name} entry", v) if check is not None else v for v in vals]
    seen: list[Any] = []
    for v in out:
        if any(_same(v, s) for s in seen):
            raise ValueError(f"{name} contains {v!r} twice; give each value once")
        seen.append(v)
    return out


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except Exception:  # arrays and other odd values: never equal
        return False


def grouped_options(cls: type, options: Any, keywords: Mapping[str, Any], caller: str) -> Any:
    """The grouped-options rule: ``options`` (an instance of the dataclass ``cls``;
    ``None``: all defaults) with ``keywords`` replacing its fields (checked again by its
    ``__post_init__``); an unknown keyword is a ``TypeError`` naming ``caller`` and
    listing the known ones.

    >>> import dataclasses
    >>> @dataclasses.dataclass(frozen=True)
    ... class Opts:
    ...     seed: int = 0
    >>> grouped_options(Opts, None, {"seed": 3}, "f()").seed
    3
    >>> grouped_options(Opts, None, {"sed": 3}, "f()")
    Traceback (most recent call last):
    ...
    TypeError: f() got an unexpected keyword argument 'sed'; its options are ['seed']
    """
    import dataclasses

    if options is not None and not isinstance(options, cls):
        raise TypeError(f"options must be a {cls.__name__}, got {type(options).__name__}")
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(keywords) - names)
    if unknown:
        raise TypeError(f"{caller} got an unexpected keyword argument {unknown[0]!r}; "
                        f"its options are {sorted(names)}")
    base = options if options is not None else cls()
    return dataclasses.replace(base, **keywords) if keywords else base
