"""From a range-test curve to the ``max_lr`` of a cycle: one rule, used everywhere.

The Trainer (``fit_one_cycle(max_lr=None)``), the recipe, the searches' short runs and
the command line all "take max_lr from the curve". They all call
:func:`choose_max_lr`, so they agree on the method, on what happens when the curve has
no usable pick (:class:`NoUsableLR`, with the curve's reason and what to do) and on
discriminative LRs: the range test sweeps every param group at a fixed ratio to group 0
(``result.config["group_ratios"]``), and the chosen peak keeps those ratios
(``choice.per_group``) instead of flattening every group to group 0's LR.

Pure numpy (no torch): the curve is all it needs.

Example:
    >>> import numpy as np
    >>> from onecycle.finder import LRFinderResult
    >>> lrs = np.geomspace(1e-5, 1, 51)
    >>> losses = (np.log10(lrs) + 2) ** 2
    >>> res = LRFinderResult(lrs, losses, losses, config={"group_ratios": [1.0, 10.0]})
    >>> c = choose_max_lr(res, method="minimum")
    >>> round(c.lr, 6), [round(v, 6) for v in c.per_group]
    (0.001, [0.001, 0.01])
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .. import _validate as check
from .budget import Budget, plan_budget, read_for_budget
from .suggest import Suggestion

__all__ = ["MaxLRChoice", "NoUsableLR", "choose_max_lr", "group_ratios", "NO_PICK_ADVICE"]

#: what a user can do when the curve gives no pick
NO_PICK_ADVICE = "pass max_lr explicitly, or look at res.plot() to choose one"


class NoUsableLR(ValueError):
    """The range test's curve gives no usable ``max_lr``.

    ``reason`` is the curve's own explanation (flat curve, diverged at once, too short a
    sweep, ...); ``suggestion`` the :class:`~onecycle.finder.Suggestion` without an
    ``lr`` (None when built from a plain reason). A ``ValueError``, so callers that
    catch that keep working.

    >>> err = NoUsableLR(Suggestion(None, method="auto", reason="flat curve"))
    >>> err.reason, isinstance(err, ValueError)
    ('flat curve', True)
    >>> print(err)
    the LR range test found no usable learning rate (auto: flat curve); pass max_lr explicitly, or look at res.plot() to choose one
    """

    def __init__(self, suggestion: Suggestion | str, advice: str = NO_PICK_ADVICE) -> None:
        if isinstance(suggestion, Suggestion):
            self.suggestion: Suggestion | None = suggestion
            self.reason = suggestion.reason or "no descent in the loss curve"
            what = f"{suggestion.method}: {self.reason}"
        else:
            self.suggestion = None
            self.reason = str(suggestion)
            what = self.reason
        self.advice = advice
        super().__init__(f"the LR range test found no usable learning rate ({what}); {advice}")

    def __reduce__(self) -> tuple[Any, ...]:
        # rebuilt from what it was made of (it crosses processes: workers, ranks)
        what = self.reason if self.suggestion is None else self.suggestion
        return (type(self), (what, self.advice))


@dataclass(frozen=True)
class MaxLRChoice:
    """The ``max_lr`` chosen from a range test.

    Attributes:
        lr: the peak LR for param group 0 (the LR the curve was recorded against).
        per_group: one peak LR per param group of the swept optimizer, at the ratios the
            sweep kept (``lr * ratio_g``); ``(lr,)`` when the result does not record them.
        suggestion: the :class:`~onecycle.finder.Suggestion` the pick came from (its
            range, confidence and reason).

    >>> c = MaxLRChoice(0.1, (0.1, 0.01), Suggestion(0.1, 0.05, 0.2, "auto", 0.9, "min"))
    >>> c.method, c.to_dict()["per_group"]
    ('auto', [0.1, 0.01])
    """

    lr: float
    per_group: tuple[float, ...]
    suggestion: Suggestion

    @property
    def method(self) -> str:
        """The suggestion method that gave the pick."""
        return self.suggestion.method

    @property
    def low(self) -> float | None:
        """The cautious end of the suggested range (group 0), if the method gives one."""
        return self.suggestion.low

    @property
    def high(self) -> float | None:
        """The bold end of the suggested range (group 0), if the method gives one."""
        return self.suggestion.high

    @property
    def confidence(self) -> float | None:
        """The suggestion's confidence in [0, 1] (None for the simple methods)."""
        return self.suggestion.confidence

    @property
    def reason(self) -> str:
        """Why the curve gave this pick."""
        return self.suggestion.reason

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``lr``, ``low``, ``high``, ``method``, ``confidence``, ``reason``,
        ``per_group`` (what ``history.meta["lr_find"]`` and the run summary record)."""
        s = self.suggestion
        return {"lr": self.lr, "low": s.low, "high": s.high, "method": s.method,
                "confidence": s.confidence, "reason": s.reason,
                "per_group": list(self.per_group)}


def group_ratios(result: Any) -> tuple[float, ...]:
    """The LR ratio of each param group to group 0 during the sweep (``(1.0,)`` when
    the result does not record them, e.g. one built from arrays).

    >>> import numpy as np
    >>> from onecycle.finder import LRFinderResult
    >>> r = LRFinderResult(np.array([0.1, 1.0]), np.ones(2), np.ones(2),
    ...                    config={"group_ratios": [1.0, 0.1]})
    >>> group_ratios(r)
    (1.0, 0.1)
    """
    config = getattr(result, "config", None) or {}
    raw = config.get("group_ratios") if isinstance(config, dict) else None
    if raw is None:
        return (1.0,)
    if isinstance(raw, (str, bytes)) or not isinstance(raw, (list, tuple)) or not raw:
        raise ValueError(f"result.config['group_ratios'] must be a non-empty list of "
                         f"positive numbers, got {raw!r}")
    return tuple(check.positive("group_ratios entry", q) for q in raw)


def _pick(result: Any, method: str, budget: Budget | None) -> Suggestion:
    # the single place a curve becomes a candidate pick
    if budget is None:
        return result.suggest(method)
    return read_for_budget(result, budget, method)


def choose_max_lr(
    result: Any, *, method: str | None = "auto", fallback: Sequence[str] = (),
    total_steps: int | None = None, style: str = "smith", warmup: float | None = None,
) -> MaxLRChoice:
    """The ``max_lr`` of a cycle from a range test (see the module docs).

    Args:
        result: an :class:`~onecycle.finder.LRFinderResult` (anything with
            ``suggest(method)`` and ``config``).
        method: the suggestion method (``None``: ``"auto"``); see
            :data:`onecycle.finder.SUGGESTERS`.
        fallback: methods tried in order when ``method`` gives no pick (default none).
        total_steps: the planned cycle's optimizer steps: ``auto`` then reads the curve
            for that budget (:mod:`onecycle.finder.budget`); None: the budget-free pick.
        style, warmup: the planned cycle's style (its ``pct_start`` gives the warm-up)
            or its warm-up in steps.

    Raises:
        NoUsableLR: no method gave a pick; the message carries the first method's reason
            and the advice to pass ``max_lr`` explicitly or look at ``res.plot()``.

    >>> import numpy as np
    >>> from onecycle.finder import LRFinderResult
    >>> lrs = np.geomspace(1e-5, 1, 60)
    >>> flat = LRFinderResult(lrs, np.ones(60), np.ones(60))
    >>> choose_max_lr(flat)
    Traceback (most recent call last):
    ...
    onecycle.finder.choose.NoUsableLR: the LR range test found no usable learning rate (auto: flat curve: ...); pass max_lr explicitly, or look at res.plot() to choose one
    """
    if not (callable(getattr(result, "suggest", None)) and hasattr(result, "config")):
        raise TypeError(
            f"result must be an LRFinderResult (from lr_find), got {type(result).__name__}"
        )
    first = "auto" if method is None else method
    if isinstance(fallback, str):
        fallback = (fallback,)
    ratios = group_ratios(result)
    budget = None if total_steps is None else plan_budget(total_steps, style=style,
                                                          warmup=warmup)
    tried: Suggestion | None = None
    for name in (first, *fallback):
        sug = _pick(result, name, budget)
        if sug.lr is not None and math.isfinite(sug.lr) and sug.lr > 0:
            lr = float(sug.lr)
            return MaxLRChoice(lr, tuple(lr * q for q in ratios), sug)
        if tried is None:  # the first method's reason is the one reported
            tried = sug
    assert tried is not None
    raise NoUsableLR(tried)
