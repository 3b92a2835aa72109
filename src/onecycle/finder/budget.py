"""The max_lr for a cycle of a given length: the range test's pick, read for the budget.

A range test takes ``N`` optimizer steps (its ``num_iter``) with the LR growing
exponentially; a 1cycle climbs to its peak over ``W`` steps (its warm-up: ``pct_start``
of the cycle's ``total_steps``). Where the two differ a lot, the LR the sweep tolerated
need not be the LR the cycle tolerates. The rule, measured on the benchmark suite's
design settings and judged on settings and seeds held out (docs/finder.md, "The training budget"):

* **SGD-like optimizers** (a ``momentum`` key): ``auto``'s pick, whatever the budget. On
  every SGD setting of the suite the best max_lr of the grid was the same for the short
  and the long cycle (within the grid's half-decade), and ``auto`` sat within a factor
  two of it at both.
* **Adam-like optimizers** (momentum is ``betas[0]``): fastai's ``valley`` pick (the
  steepest part of the descent: with Adam the loss usually falls to the very end of the
  sweep, so there is no minimum to read), times ``2 * (W / N) ** (2/3)``, clipped to
  ``[1/3, 6]``. On the character-level transformer with AdamW the grid's best max_lr
  was about 3x higher for a 927-step cycle than for a 309-step one (a longer warm-up
  tolerates more), and at both it sat 2-5x above the valley pick.

The optimizer's family is recorded by :func:`onecycle.lr_find` in ``result.config``
(``"family"``); a result without it is read as SGD-like. Pure Python: no torch.

Example:
    >>> plan_budget(1000).warmup_steps
    450.0
    >>> round(budget_factor(plan_budget(1000), 100, "adam"), 2), budget_factor(plan_budget(1000), 100, "sgd")
    (5.45, 1.0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .. import _validate as check
from .suggest import Suggestion

__all__ = [
    "ADAPTIVE_METHOD",
    "SCALE",
    "EXPONENT",
    "CLIP",
    "Budget",
    "plan_budget",
    "budget_factor",
    "read_for_budget",
    "family_of",
]

#: the suggestion method whose pick is scaled for Adam-like optimizers
ADAPTIVE_METHOD = "valley"
#: the adaptive pick at a warm-up as long as the sweep, relative to the valley pick
SCALE = 2.0
#: how fast the adaptive pick grows with the warm-up / sweep length ratio
EXPONENT = 2.0 / 3.0
#: the factor never moves the pick beyond these
CLIP = (1.0 / 3.0, 6.0)


@dataclass(frozen=True)
class Budget:
    """A planned cycle: its length and its warm-up, in optimizer steps.

    >>> Budget(200, 90.0).total_steps
    200
    """

    total_steps: int
    warmup_steps: float

    def to_dict(self) -> dict[str, Any]:
        return {"total_steps": self.total_steps, "warmup_steps": self.warmup_steps}


def plan_budget(total_steps: int, *, style: str = "smith", warmup: float | None = None,
                pct_start: float | None = None) -> Budget:
    """The :class:`Budget` of a cycle of ``total_steps`` optimizer steps.

    ``warmup`` gives the warm-up in steps directly; otherwise it is ``pct_start`` (default:
    the style's, e.g. 0.45 for ``"smith"``, 0.25 ``"fastai"``, 0.3 ``"torch"``) of the cycle.

    >>> plan_budget(400, style="fastai").warmup_steps, plan_budget(400, warmup=50).warmup_steps
    (100.0, 50.0)
    """
    steps = check.integer("total_steps", total_steps, least=1)
    if warmup is not None:
        w = check.nonnegative("warmup", warmup)
        if w > steps:
            raise ValueError(f"warmup must be at most total_steps={steps}, got {warmup!r}")
        return Budget(steps, w)
    from ..schedule import OneCycleSchedule

    opts: dict[str, Any] = {"style": style}
    if pct_start is not None:
        opts["pct_start"] = pct_start
    p = OneCycleSchedule.check_options(**opts)["pct_start"]
    return Budget(steps, float(p) * steps)


def family_of(result: Any) -> str:
    """``"sgd"``, ``"adam"`` or ``"other"``: the swept optimizer's family as the range
    test recorded it (``"sgd"`` when it did not).

    >>> class R: config = {"family": "adam"}
    >>> family_of(R())
    'adam'
    """
    config = getattr(result, "config", None) or {}
    fam = config.get("family") if isinstance(config, dict) else None
    return fam if fam in ("sgd", "adam", "other") else "sgd"


def budget_factor(budget: Budget, sweep_steps: int, family: str) -> float:
    """The factor the budget applies to the pick (1 for SGD-like optimizers).

    >>> round(budget_factor(Budget(309, 139.05), 100, "adam"), 2)
    2.49
    """
    if family != "adam":
        return 1.0
    n = check.integer("sweep_steps", sweep_steps, least=1)
    ratio = max(budget.warmup_steps, 1.0) / n
    lo, hi = CLIP
    return min(hi, max(lo, SCALE * ratio ** EXPONENT))


def read_for_budget(result: Any, budget: Budget, method: str = "auto", **options: Any) -> Suggestion:
    """The suggestion for a cycle of ``budget``: ``method`` as it is for SGD-like
    optimizers; for Adam-like ones with ``method="auto"``, the scaled ``valley`` pick
    (see the module docs). Its range is scaled alike and its reason says so.

    >>> import numpy as np
    >>> from onecycle.finder import LRFinderResult
    >>> lrs = np.geomspace(1e-6, 1, 100); losses = 5 - np.log10(lrs)
    >>> res = LRFinderResult(lrs, losses, losses, config={"family": "adam", "num_iter": 100})
    >>> base = res.suggest("valley").lr
    >>> round(read_for_budget(res, plan_budget(1000)).lr / base, 2)
    5.45
    """
    family = family_of(result)
    if family != "adam" or method != "auto":
        return result.suggest(method, **options)
    base = result.suggest(ADAPTIVE_METHOD, **options)
    if base.lr is None:
        return base
    config = getattr(result, "config", None) or {}
    sweep = int(config.get("num_iter") or max(len(getattr(result, "lrs", ())), 1))
    f = budget_factor(budget, sweep, family)

    def scaled(v: float | None) -> float | None:
        return None if v is None or not math.isfinite(v) else v * f

    reason = (f"{base.reason}; for an Adam-like optimizer the cycle's peak is that LR x "
              f"{f:.3g} = {SCALE:g} x (warm-up {budget.warmup_steps:.0f} steps / sweep "
              f"{sweep} steps) ** {EXPONENT:.3g}, within [{CLIP[0]:.3g}, {CLIP[1]:g}]")
    return Suggestion(scaled(base.lr), scaled(base.low), scaled(base.high), "auto",
                      base.confidence, reason)
