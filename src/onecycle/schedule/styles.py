"""The three styles of 1cycle as data: each style's defaults and its phase layout.

A layout is a table of phases. Each phase names where it ends (a knot, as a function of
the cycle length ``T``, ``pct_start`` and ``annihilate``) and which values its LR and
momentum curves run between: ``"initial"`` (``max_lr / div``), ``"max"`` and
``"final"`` for the LR, ``"start"``, ``"low"`` and ``"end"`` of the momentum cycle.
:class:`~onecycle.schedule.OneCycleSchedule` builds any style from its table with one
builder. The tables mirror torch's ``OneCycleLR._schedule_phases`` (see
docs/schedules.md for where each style comes from).

Example:
    >>> d = style_defaults("fastai")
    >>> d.div, d.final_div, d.pct_start, d.momentum
    (25.0, 100000.0, 0.25, (0.95, 0.85, 0.95))
    >>> [p.name for p in layout("torch", three_phase=True)]
    ['warm-up', 'cool-down', 'annihilation']
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .. import _validate
from .base import ON_END

__all__ = [
    "StyleDefaults", "STYLES", "style_defaults", "Phase", "Style", "layout", "resolve_options",
    "STYLE_DEFAULT", "OPTION_NAMES",
]


class _StyleDefault:
    """The marker for "the style's default" where ``None`` already means "off"."""

    def __repr__(self) -> str:
        return "STYLE_DEFAULT"


#: ``momentum=STYLE_DEFAULT`` (the default) takes the style's momentum cycle;
#: ``momentum=None`` leaves the optimizer's momentum alone.
STYLE_DEFAULT: Any = _StyleDefault()

#: The keyword options of a 1cycle, besides its length and ``max_lr``.
OPTION_NAMES = (
    "style", "div", "final_div", "pct_start", "annihilate", "anneal", "three_phase",
    "momentum", "on_end",
)


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


Knot = Callable[[int, float, float], float]  # (T, pct_start, annihilate) -> step


@dataclass(frozen=True)
class Phase:
    """One row of a layout: the phase's name, the knot where it ends, and the values its
    LR and momentum curves run between.

    >>> p = layout("fastai", three_phase=False)[0]
    >>> p.name, p.end(100, 0.25, 0.0), p.lr, p.momentum
    ('warm-up', 25.0, ('initial', 'max'), ('start', 'low'))
    """

    name: str
    end: Knot
    lr: tuple[str, str]
    momentum: tuple[str, str]


@dataclass(frozen=True)
class Style:
    """A style: its defaults, its two layouts and how its numbers are read.

    ``curves`` maps ``anneal`` to a curve kind; ``final_of`` is what ``final_div``
    divides (``"max"``, or ``"initial"`` as in torch); ``boundary`` and ``strict`` are
    the :class:`~onecycle.schedule.Piecewise` rules; with ``annihilation`` the third
    phase exists when ``annihilate > 0`` (smith), else when ``three_phase`` is set.

    >>> STYLE_TABLE["torch"].final_of, STYLE_TABLE["fastai"].boundary
    ('initial', 'next')
    """

    defaults: StyleDefaults
    two: tuple[Phase, ...]
    three: tuple[Phase, ...]
    curves: dict[str, str]
    final_of: str = "max"
    boundary: str = "previous"
    strict: bool = True
    annihilation: bool = False


def _phases(
    names: Sequence[str], ends: Sequence[Knot], lrs: Sequence[str], moms: Sequence[str]
) -> tuple[Phase, ...]:
    """Phases from the value names at each knot (``lrs[0]`` at the start, ...)."""
    return tuple(
        Phase(n, e, (lrs[i], lrs[i + 1]), (moms[i], moms[i + 1]))
        for i, (n, e) in enumerate(zip(names, ends))
    )


_TWO = ("warm-up", "annealing")
_THREE = ("warm-up", "cool-down", "annihilation")
_LR2, _LR3 = ("initial", "max", "final"), ("initial", "max", "initial", "final")
_M2, _M3 = ("start", "low", "end"), ("start", "low", "end", "end")


def _smith_cooldown_end(T: int, p: float, a: float) -> float:
    # annihilation keeps at least one step when there are steps to spare
    return min((1 - a) * T, max(T - 1.0 - 1.0, 0.0))


# The knot expressions keep torch's operation order (``p * T - 1``, ``2 * p * T - 2``):
# the torch style is compared with OneCycleLR bit for bit.
STYLE_TABLE: dict[str, Style] = {
    "smith": Style(
        StyleDefaults(10.0, 1000.0, None, "linear", True, 0.1, (0.95, 0.85)),
        two=_phases(("warm-up", "cool-down"),
                    (lambda T, p, a: min(p * T, max(T - 1.0 - 1.0, 0.0)),
                     lambda T, p, a: T - 1.0), _LR2, _M2),
        three=_phases(_THREE,
                      (lambda T, p, a: min(p * T, _smith_cooldown_end(T, p, a)),
                       _smith_cooldown_end, lambda T, p, a: T - 1.0), _LR3, _M3),
        curves={"linear": "linear", "cos": "cos"}, annihilation=True,
    ),
    "fastai": Style(
        StyleDefaults(25.0, 1e5, 0.25, "cos", False, 0.0, (0.95, 0.85, 0.95)),
        two=_phases(_TWO, (lambda T, p, a: p * T, lambda T, p, a: float(T)), _LR2, _M2),
        three=_phases(_THREE, (lambda T, p, a: p * T, lambda T, p, a: 2 * p * T,
                               lambda T, p, a: float(T)), _LR3, _M3),
        curves={"linear": "linear", "cos": "fastai_cos"}, boundary="next",
    ),
    "torch": Style(
        StyleDefaults(25.0, 1e4, 0.3, "cos", False, 0.0, (0.95, 0.85)),
        two=_phases(_TWO, (lambda T, p, a: p * T - 1, lambda T, p, a: T - 1.0), _LR2, _M2),
        three=_phases(_THREE, (lambda T, p, a: p * T - 1, lambda T, p, a: 2 * p * T - 2,
                               lambda T, p, a: T - 1.0), _LR3, _M3),
        curves={"linear": "linear", "cos": "cos"}, final_of="initial", strict=False,
    ),
}

#: The defaults of every style, by name; :func:`style_defaults` reads one.
STYLES: dict[str, StyleDefaults] = {name: s.defaults for name, s in STYLE_TABLE.items()}


def style_defaults(style: str = "smith") -> StyleDefaults:
    """The defaults of a 1cycle style: the one place other modules read them from.

    >>> style_defaults("smith").div, style_defaults("fastai").pct_start
    (10.0, 0.25)
    """
    return STYLE_TABLE[_validate.choice("style", style, tuple(STYLE_TABLE))].defaults


def layout(style: str, *, three_phase: bool, annihilate: float = 0.0) -> tuple[Phase, ...]:
    """The phase table a style uses with these options.

    >>> [p.name for p in layout("smith", three_phase=True, annihilate=0.0)]
    ['warm-up', 'cool-down']
    """
    s = STYLE_TABLE[_validate.choice("style", style, tuple(STYLE_TABLE))]
    three = annihilate > 0 if s.annihilation else three_phase
    return s.three if three else s.two


def _annihilate(style: str, d: StyleDefaults, annihilate: Any, three_phase: bool) -> float:
    if style != "smith":
        if annihilate is not None:
            raise ValueError(
                f"annihilate applies to style='smith' only (got annihilate={annihilate!r} "
                f"with style={style!r}); use three_phase=True for torch's layout"
            )
        return 0.0
    if annihilate is None:
        return d.annihilate if three_phase else 0.0
    a = _validate.in_range("annihilate", annihilate, 0.0, 1.0, high_open=True)
    if not three_phase and a != 0:
        raise ValueError(
            f"annihilate={annihilate!r} contradicts three_phase=False (no annihilation "
            "phase); drop one of them"
        )
    return a


def _pct_start(style: str, d: StyleDefaults, pct_start: Any, a: float, three: bool) -> float:
    if pct_start is None:
        return (1.0 - a) / 2.0 if d.pct_start is None else d.pct_start
    p = _validate.in_range("pct_start", pct_start, 0.0, 1.0, low_open=True, high_open=True)
    if style == "smith" and p >= 1.0 - a:
        raise ValueError(
            f"pct_start must be < 1 - annihilate = {1.0 - a:g} so the LR can come back "
            f"down before annihilation, got {pct_start!r}"
        )
    if style != "smith" and three and p >= 0.5:
        raise ValueError(
            f"pct_start must be < 0.5 with three_phase=True (two phases of pct_start "
            f"each), got {pct_start!r}"
        )
    return p


def resolve_options(
    style: str = "smith", div: Any = None, final_div: Any = None, pct_start: Any = None,
    annihilate: Any = None, anneal: Any = None, three_phase: Any = None,
    momentum: Any = STYLE_DEFAULT, on_end: str = "hold",
) -> dict[str, Any]:
    """Every 1cycle option checked and resolved against its style's defaults; the keys
    are :data:`OPTION_NAMES` (``annihilate`` is 0 outside the smith style).

    >>> resolve_options("torch", div=10)["div"], resolve_options()["pct_start"]
    (10.0, 0.45)
    """
    d = style_defaults(style)
    three = d.three_phase if three_phase is None else _validate.flag("three_phase", three_phase)
    a = _annihilate(style, d, annihilate, three)
    if momentum is STYLE_DEFAULT:
        momentum = d.momentum
    return {
        "style": style,
        "div": _validate.positive("div", d.div if div is None else div),
        "final_div": _validate.positive("final_div", d.final_div if final_div is None else final_div),
        "pct_start": _pct_start(style, d, pct_start, a, three),
        "annihilate": a,
        "anneal": _validate.choice("anneal", d.anneal if anneal is None else anneal,
                                   ("linear", "cos")),
        "three_phase": three,
        "momentum": None if momentum is None else _validate.momentum_cycle("momentum", momentum),
        "on_end": _validate.choice("on_end", on_end, ON_END),
    }
