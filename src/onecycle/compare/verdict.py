"""Ahead, tie or behind: ours against one alternative at one budget, from paired seeds.

Every alternative of a seed starts from the same initial weights and sees the same
batches, so the runs pair up by seed. The verdict looks at the paired differences
``d_s = ours_s - alt_s`` (turned round when lower is better, so ``d > 0`` always means
ours is better): with mean ``m`` and standard error ``se = sd / sqrt(n)``,

* ``|m| <= se`` -- a **tie** (within one standard error);
* ``m > se`` -- ours is **ahead**; ``m < -se`` -- ours is **behind**.

A run without a number (it diverged to NaN) counts at ``floor`` -- the task's chance
level -- when one is given, else its pair is left out. With one seed there is no error
bar (``se = 0``): only an exact tie is a tie, and the words say so.

Pure Python: numbers in, words out.

Example:
    >>> v = judge([0.95, 0.96, 0.94], [0.90, 0.92, 0.91], higher_is_better=True)
    >>> v.status, round(v.diff, 3)
    ('ahead', 0.04)
    >>> judge([1.2, 1.3], [1.0, 1.1], higher_is_better=False).status  # lower is better
    'behind'
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Verdict", "judge", "describe", "budget_summary", "STATUSES", "epochs_text"]

#: what ours can be against an alternative ("no data": no pair had numbers)
STATUSES = ("ahead", "tie", "behind", "no data")


@dataclass(frozen=True)
class Verdict:
    """Ours against one alternative at one budget.

    Attributes:
        alternative, budget: which comparison.
        status: ``"ahead"``, ``"tie"``, ``"behind"`` (ours, against it) or ``"no data"``.
        diff: mean paired difference, positive when ours is better (None: no data).
        se: its standard error (0 with a single pair).
        n: pairs compared; missing: runs without a number (ours, the alternative).

    >>> Verdict("wsd", 2, "tie", 0.1, 0.2, 3).to_dict()["status"]
    'tie'
    """

    alternative: str
    budget: int
    status: str
    diff: float | None
    se: float | None
    n: int
    missing: tuple[int, int] = (0, 0)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"alternative": self.alternative, "budget": self.budget,
                "status": self.status, "diff": self.diff, "se": self.se, "n": self.n,
                "missing": list(self.missing)}


def _number(v: Any) -> float | None:
    if v is None or isinstance(v, bool):
        return None
    f = float(v)
    return f if math.isfinite(f) else None


def judge(ours: Sequence[float | None], alt: Sequence[float | None], *,
          higher_is_better: bool, floor: float | None = None, alternative: str = "",
          budget: int = 0) -> Verdict:
    """The verdict from per-seed values of ours and of the alternative, paired by
    position (see the module docs).

    >>> judge([0.9, 0.9], [0.9, 0.9], higher_is_better=True).status
    'tie'
    >>> judge([0.5, None], [0.6, 0.7], higher_is_better=True, floor=0.1).diff
    -0.35
    """
    if len(ours) != len(alt):
        raise ValueError(f"ours and alt must pair up by seed, got {len(ours)} and {len(alt)} "
                         "values")
    sign = 1.0 if higher_is_better else -1.0
    diffs, missing_o, missing_a = [], 0, 0
    for o, a in zip(ours, alt):
        o, a = _number(o), _number(a)
        missing_o += o is None
        missing_a += a is None
        o = floor if o is None else o
        a = floor if a is None else a
        if o is not None and a is not None:
            diffs.append(sign * (o - a))
    missing = (missing_o, missing_a)
    if not diffs:
        return Verdict(alternative, budget, "no data", None, None, 0, missing)
    m = statistics.fmean(diffs)
    se = statistics.stdev(diffs) / math.sqrt(len(diffs)) if len(diffs) > 1 else 0.0
    # equal scores differ by rounding only (0.9694 - 0.9694): not a win
    tol = 1e-9 * max(1.0, max(abs(d) for d in diffs))
    status = "tie" if abs(m) <= se + tol else ("ahead" if m > 0 else "behind")
    return Verdict(alternative, budget, status, m, se, len(diffs), missing)


def epochs_text(budget: int) -> str:
    """``'1 epoch'``, ``'8 epochs'``.

    >>> epochs_text(1), epochs_text(8)
    ('1 epoch', '8 epochs')
    """
    return f"{budget} epoch" + ("" if budget == 1 else "s")


def describe(v: Verdict, label: str, unit: str, *, ours: str = "1cycle") -> str:
    """One verdict in plain words, e.g. ``'1cycle is ahead of linear decay by 1.20 ±
    0.40 points at 2 epochs'``.

    >>> describe(Verdict("wsd", 8, "behind", -0.5, 0.1, 3), "WSD", "points")
    'WSD is ahead of 1cycle by 0.50 ± 0.10 points at 8 epochs: it wins here'
    """
    at = epochs_text(v.budget)
    if v.status == "no data" or v.diff is None:
        return f"{ours} vs {label} at {at}: no run gave a number to compare"
    pm = f"{abs(v.diff):.2f} ± {v.se:.2f} {unit}".rstrip()
    note = " (1 seed: no error bar)" if v.n == 1 else ""
    if v.status == "ahead":
        return f"{ours} is ahead of {label} by {pm} at {at}{note}"
    if v.status == "behind":
        return f"{label} is ahead of {ours} by {pm} at {at}: it wins here{note}"
    return f"{ours} ties with {label} at {at} ({v.diff:+.2f} ± {v.se:.2f} {unit}){note}".rstrip()


def budget_summary(verdicts: Sequence[Verdict], labels: dict[str, str], *,
                   ours: str = "1cycle") -> list[str]:
    """One line per budget: whom ours is ahead of, ties with, is behind.

    >>> vs = [Verdict("a", 2, "ahead", 1.0, 0.1, 3), Verdict("b", 2, "tie", 0.0, 0.1, 3)]
    >>> budget_summary(vs, {"a": "A", "b": "B"})
    ['At 2 epochs 1cycle is ahead of A; ties with B.']
    """
    lines = []
    for b in sorted({v.budget for v in verdicts}):
        parts = []
        for status, words in (("ahead", "is ahead of"), ("tie", "ties with"),
                              ("behind", "is behind")):
            names = [labels.get(v.alternative, v.alternative) for v in verdicts
                     if v.budget == b and v.status == status]
            if names:
                parts.append(f"{words} {', '.join(names)}")
        if parts:
            lines.append(f"At {epochs_text(b)} {ours} " + "; ".join(parts) + ".")
    return lines
