"""Pure schedule maths: annealing curves, piecewise schedules, the 1cycle policy and the
schedules it is compared with.

Nothing here imports torch. A schedule is a function of the integer step: plain floats
in, plain floats out, serialisable to JSON. Steps run ``0 .. total_steps - 1``.

Three styles of 1cycle (``style=``) pick a family of defaults
(:func:`style_defaults` reads them; :mod:`onecycle.schedule.styles` holds their tables):

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

The modules: :mod:`~onecycle.schedule.curves` (shapes), :mod:`~onecycle.schedule.piecewise`
(``join``, ``Piecewise``, ``TimeWarp``), :mod:`~onecycle.schedule.styles` (the styles as
data), :mod:`~onecycle.schedule.onecycle` (``OneCycleSchedule``),
:mod:`~onecycle.schedule.alternatives` (warm-up + cosine, linear decay, WSD, constant) and
:mod:`~onecycle.schedule.spec` (``schedule_from_dict``).

Example:
    >>> cycle = OneCycleSchedule(total_steps=100, max_lr=0.8, style="torch")
    >>> round(cycle.lr(29), 6), style_defaults("torch").div
    (0.8, 25.0)
    >>> warm = join([linear(0.0, 1.0), cosine(1.0, 0.0)], [0, 10, 100])
    >>> warm(10), round(wsd(100, 0.8).lr(90), 6)
    (1.0, 0.4)
"""

from __future__ import annotations

from .alternatives import ALTERNATIVES, NamedSchedule, constant_lr, linear_decay, warmup_cosine, wsd
from .base import ON_END, Schedule
from .curves import CURVE_KINDS, Curve, constant, cosine, exponential, linear, sqrt_decay
from .onecycle import OneCycleSchedule
from .piecewise import BOUNDARIES, Piecewise, TimeWarp, join
from .spec import schedule_from_dict
from .styles import OPTION_NAMES, STYLE_DEFAULT, STYLES, StyleDefaults, style_defaults

__all__ = [
    "Curve", "linear", "cosine", "exponential", "constant", "sqrt_decay", "CURVE_KINDS",
    "Piecewise", "join", "TimeWarp", "BOUNDARIES",
    "Schedule", "ON_END",
    "OneCycleSchedule", "STYLES", "StyleDefaults", "style_defaults", "STYLE_DEFAULT",
    "OPTION_NAMES",
    "NamedSchedule", "warmup_cosine", "linear_decay", "wsd", "constant_lr", "ALTERNATIVES",
    "schedule_from_dict",
]
