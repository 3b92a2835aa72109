"""The selection rules of the searches, one place each.

* :func:`select_by_curves` -- Smith's rule on range tests: the largest value (of a
  regulariser) whose curve still reaches the best loss at a high LR;
* :func:`pick_short_run` -- short trainings: the best final validation loss (or metric);
* :func:`confirm_candidates` and :func:`default_confirm_epochs` -- the range tests only
  bound the weight decay from above, so short runs of a quarter of the budget decide
  among the winner and the smaller values;
* :func:`rule_text` -- the curve rule in words, for reports.

Example:
    >>> confirm_candidates([1e-2, 1e-3, 0.0], 1e-3), default_confirm_epochs(8)
    ([0.001, 0.0], 2)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from .._format import fmt_lr, fmt_value
from .._validate import nonnegative
from .curves import CurveStats, curve_signal

__all__ = [
    "PREFER",
    "select_by_curves",
    "finder_rows",
    "rule_text",
    "rank_by_signal",
    "short_run_rows",
    "pick_short_run",
    "confirm_candidates",
    "default_confirm_epochs",
    "shown",
]

#: how :func:`select_by_curves` picks among the values that reach the best loss
PREFER = ("largest", "smallest", "lowest_loss")
_PICK = {"largest": "the largest", "smallest": "the smallest", "lowest_loss": "the lowest-loss"}


# ----------------------------------------------------------------------------- curve rule


def _judge(values: Sequence[Any], stats: Sequence[CurveStats], usable: list[int], b: int,
           tolerance: float, lr_slack: float) -> tuple[list[dict[str, Any]], list[int]]:
    """One row per value and the indices accepted against the best curve ``b``."""
    sb = stats[b]
    rows: list[dict[str, Any]] = []
    accepted: list[int] = []
    for i, (v, s) in enumerate(zip(values, stats)):
        row: dict[str, Any] = {
            "value": v, "min_loss": s.min_loss, "lr_at_min": s.lr_at_min,
            "lr_diverge": s.lr_diverge, "descent": s.descent, "noise_se": s.se,
        }
        rows.append(row)
        if i not in usable:
            row.update(tolerance=None, accepted=False,
                       why="no usable curve (fewer than 3 finite points)")
            continue
        tol = max(tolerance * max(sb.descent, 0.0), 2.0 * math.hypot(sb.se, s.se))
        row["tolerance"] = tol
        why = ""
        if s.min_loss > sb.min_loss + tol:
            why = (f"its minimum {s.min_loss:.4g} is above the best {sb.min_loss:.4g} by more "
                   f"than the tolerance {tol:.3g}")
        elif math.log10(s.lr_at_min) < math.log10(sb.lr_at_min) - lr_slack:
            why = (f"its minimum lies at lr {fmt_lr(s.lr_at_min)}, more than {lr_slack:g} "
                   f"decades below the best curve's {fmt_lr(sb.lr_at_min)} (a shorter usable "
                   "LR range)")
        row["accepted"] = not why
        row["why"] = why or "reaches the best loss at a high LR"
        if not why:
            accepted.append(i)
    return rows, accepted


def _as_num(values: Sequence[Any], i: int) -> float:
    try:
        return float(values[i])
    except (TypeError, ValueError):
        return float(i)


def _order(values: Sequence[Any], stats: Sequence[CurveStats], usable: list[int],
           accepted: list[int], prefer: str) -> tuple[list[int], list[int]]:
    """The accepted values in the order of preference, then the rest by their minimum."""
    if prefer == "largest":
        acc = sorted(accepted, key=lambda i: (-_as_num(values, i), i))
    elif prefer == "smallest":
        acc = sorted(accepted, key=lambda i: (_as_num(values, i), i))
    else:
        acc = sorted(accepted, key=lambda i: (stats[i].min_loss, i))
    rest = sorted((i for i in range(len(values)) if i not in accepted),
                  key=lambda i: (0 if i in usable else 1,
                                 stats[i].min_loss if i in usable else 0.0, i))
    return acc, rest


def shown(param: str) -> Any:
    """How values of ``param`` are written in reasons: a weight decay or an LR as every LR
    is shown (:func:`onecycle._format.fmt_lr`), anything else by ``fmt_value``.

    >>> shown("weight_decay")(1e-4), shown("dropout")(0.3)
    ('0.0001', '0.3')
    """
    return fmt_lr if param in ("weight_decay", "wd", "lr", "max_lr") else fmt_value


def _curve_reason(param: str, values: Sequence[Any], stats: Sequence[CurveStats],
                  rows: list[dict[str, Any]], order: list[int], acc: list[int],
                  rest: list[int], usable: list[int], b: int, prefer: str, signal: str) -> str:
    """The choice in short sentences: the winner's curve, the others that qualified,
    those rejected and why, the runner-up, and a warning when the curves say little."""
    w, sw, sb = order[0], stats[order[0]], stats[b]
    fv = shown(param)
    parts = [f"{param}={fv(values[w])}: its range test reaches a smoothed {signal} of "
             f"{sw.min_loss:.4g} at lr {fmt_lr(sw.lr_at_min)}"
             + (", the lowest of all curves." if w == b else
                f", within {rows[w]['tolerance']:.3g} of the lowest ({sb.min_loss:.4g}, "
                f"{param}={fv(values[b])}).")]
    if len(acc) > 1:
        parts.append(f"{len(acc)} values reach the best loss at a high LR "
                     f"({', '.join(fv(values[i]) for i in acc)}); this is {_PICK[prefer]}.")
    elif prefer != "lowest_loss":
        parts.append("No other value reaches the best loss at as high an LR.")
    rejected = [i for i in rest if i in usable]
    if prefer == "largest":
        rejected = [i for i in rejected if _as_num(values, i) > _as_num(values, w)]
    elif prefer == "smallest":
        rejected = [i for i in rejected if _as_num(values, i) < _as_num(values, w)]
    for i in rejected:
        parts.append(f"Rejected: {fv(values[i])}, {rows[i]['why']}.")
    if len(order) > 1:
        r = order[1]
        note = (" (also reaches the best loss)" if rows[r]["accepted"] else
                "" if r in rejected else f" ({rows[r]['why']})")
        parts.append(f"Runner-up: {param}={fv(values[r])}{note}.")
    if sb.descent <= 2 * sb.se:
        parts.append("Warning: even the best curve barely descends (within its noise), so "
                     "the comparison says little: widen the LR sweep or raise num_iter.")
    return " ".join(parts)


def select_by_curves(
    param: str,
    values: Sequence[Any],
    stats: Sequence[CurveStats],
    *,
    prefer: str = "largest",
    tolerance: float = 0.05,
    lr_slack: float = 0.25,
    signal: str = "training loss",
) -> tuple[list[int], list[dict[str, Any]], str]:
    """Smith's rule on range-test curves: the largest value that still trains at a high LR.

    A value is *accepted* when its curve (1) reaches a smoothed minimum within the
    tolerance of the best curve's minimum, ``tol = max(tolerance x best descent,
    2 x combined standard error of the two smoothed minima)``, and (2) reaches that
    minimum at an LR no more than ``lr_slack`` decades below the best curve's
    (its usable LR range is not shorter). Among the accepted values ``prefer`` picks:
    ``"largest"`` (regularisers: weight decay, dropout), ``"smallest"`` or
    ``"lowest_loss"`` (the best curve itself). The ranking puts the accepted values
    first (in the order of preference), then the others by their minimum.

    Returns ``(order, rows, reason)``: indices best first, one row per value, and the
    choice in words.

    >>> import numpy as np
    >>> from onecycle.search.curves import curve_stats
    >>> lrs = np.geomspace(1e-4, 1, 50)
    >>> good = curve_stats(lrs, (np.log10(lrs) + 1) ** 2)
    >>> worse = curve_stats(lrs, (np.log10(lrs) + 1) ** 2 + 0.5)
    >>> order, rows, _ = select_by_curves("wd", [1e-2, 1e-4], [worse, good])
    >>> order, [r["accepted"] for r in rows]
    ([1, 0], [False, True])
    """
    if prefer not in PREFER:
        raise ValueError(f"prefer must be one of {PREFER}, got {prefer!r}")
    tolerance = nonnegative("tolerance", tolerance)
    lr_slack = nonnegative("lr_slack", lr_slack)
    usable = [i for i, s in enumerate(stats) if s.n >= 3 and math.isfinite(s.min_loss)]
    if not usable:
        raise RuntimeError(
            f"no {param} range test produced a usable curve (every one blew up at once or "
            "had fewer than 3 points); lower start_lr or raise num_iter"
        )
    b = min(usable, key=lambda i: (stats[i].min_loss, i))
    rows, accepted = _judge(values, stats, usable, b, tolerance, lr_slack)
    acc, rest = _order(values, stats, usable, accepted, prefer)
    order = acc + rest
    for k, i in enumerate(order):
        rows[i]["rank"] = k + 1
        rows[i]["selected"] = k == 0
    reason = _curve_reason(param, values, stats, rows, order, acc, rest, usable, b, prefer,
                           signal)
    return order, rows, reason


def finder_rows(
    param: str,
    values: Sequence[Any],
    curves: Sequence[Any],
    *,
    use_val: bool,
    prefer: str,
    tolerance: float,
    lr_slack: float,
    method: str = "auto",
) -> tuple[list[int], list[dict[str, Any]], str]:
    """:func:`select_by_curves` on finder results, each row with the curve's own
    suggestion by ``method`` (``suggested_lr``, ``suggestion_confidence``) and how the
    sweep ended."""
    stats = [curve_signal(c, use_val) for c in curves]
    signal = "validation loss" if use_val else "training loss"
    order, rows, reason = select_by_curves(
        param, values, stats, prefer=prefer, tolerance=tolerance, lr_slack=lr_slack,
        signal=signal,
    )
    for row, c in zip(rows, curves):
        s = c.suggest(method)
        row["suggested_lr"] = s.lr
        row["suggestion_confidence"] = s.confidence
        row["stop_reason"] = c.stop_reason
        row["points"] = len(c)
    return order, rows, reason


def rule_text(param: str, prefer: str, tolerance: float, lr_slack: float, use_val: bool) -> str:
    """The curve rule in words.

    >>> rule_text("weight_decay", "largest", 0.05, 0.25, False).split(".")[0]
    'One LR range test per weight_decay value, all from the same initial weights, seed and data order'
    """
    sig = "validation loss (measured during the sweep)" if use_val else "training loss"
    return (
        f"One LR range test per {param} value, all from the same initial weights, seed and "
        f"data order. Each curve's {sig} is smoothed (zero-phase); a value qualifies when "
        f"its minimum is within max({tolerance:g} x the best curve's descent, 2 x the "
        f"combined noise) of the lowest minimum, and it reaches that minimum no more than "
        f"{lr_slack:g} decades of LR below the best curve (its usable LR range is not "
        f"shorter). The choice is {_PICK[prefer]} qualifying value."
    )


# ----------------------------------------------------------------------------- short runs


def rank_by_signal(
    values: Sequence[Any], scores: Sequence[float], higher_is_better: bool = False
) -> list[int]:
    """Indices ordered best first; NaN/inf (diverged) scores last, ties in given order.

    >>> rank_by_signal(["a", "b", "c"], [0.3, float("nan"), 0.2])
    [2, 0, 1]
    """
    def key(i: int) -> tuple[int, float, int]:
        s = scores[i]
        if s is None or not math.isfinite(s):
            return (1, 0.0, i)
        return (0, -s if higher_is_better else s, i)

    return sorted(range(len(values)), key=key)


def short_run_rows(
    values: Sequence[Any], outs: Sequence[dict[str, Any]], signal: str
) -> tuple[list[dict[str, Any]], list[float]]:
    """One row per short run (its final losses and metrics) and the scores compared."""
    rows, scores = [], []
    finals = [o.get("final", {}) for o in outs]
    if finals and all(signal not in f for f in finals if f):
        keys = sorted({k for f in finals for k in f})
        raise ValueError(f"select={signal!r} is not in the epoch records; available: {keys}")
    for v, o in zip(values, outs):
        fin = o.get("final", {})
        row: dict[str, Any] = {"value": v}
        for k in sorted(fin):
            if k in ("train_loss", "val_loss") or k.startswith("val_"):
                row[k] = fin[k]
        row["epochs"] = len(o["history"]["records"]) if "history" in o else None
        row["diverged"] = o.get("diverged", False)
        row["wall_time"] = o.get("wall_time")
        s = fin.get(signal)
        score = math.nan if s is None or o.get("diverged") else float(s)
        row[signal] = fin.get(signal, math.nan)
        rows.append(row)
        scores.append(score)
    return rows, scores


def pick_short_run(
    param: str,
    values: Sequence[Any],
    rows: list[dict[str, Any]],
    scores: Sequence[float],
    signal: str,
    epochs_text: str,
) -> tuple[Any, Any, str]:
    """Best and runner-up by ``signal`` (lower is better unless it is a metric); ties go
    to the value listed first."""
    higher = signal.startswith("val_") and signal != "val_loss"
    order = rank_by_signal(values, scores, higher_is_better=higher)
    for i, r in enumerate(rows):
        r["selected"] = False
        r["rank"] = order.index(i) + 1
    best_i = order[0]
    if not math.isfinite(scores[best_i]):
        raise RuntimeError(
            f"every {param} trial diverged or produced no {signal}; lower max_lr or check "
            "the model and data"
        )
    rows[best_i]["selected"] = True
    best = values[best_i]
    runner = values[order[1]] if len(order) > 1 else None
    word = "highest" if higher else "lowest"
    fv = shown(param)
    sig = signal.replace("_", " ").replace("val ", "validation ")
    reason = (f"{param}={fv(best)} reached the {word} {sig} ({scores[best_i]:.4g}) "
              f"after {epochs_text}.")
    if runner is not None:
        rs = scores[order[1]]
        if math.isfinite(rs):
            reason += (f" Runner-up: {param}={fv(runner)} with {rs:.4g} (gap "
                       f"{abs(rs - scores[best_i]):.3g}).")
        else:
            reason += f" Runner-up: {param}={fv(runner)}, which diverged."
    bad = [values[i] for i in order if not math.isfinite(scores[i])]
    if bad:
        reason += f" Diverged: {', '.join(fv(b) for b in bad)}."
    return best, runner, reason


# ----------------------------------------------------------------------------- confirmation


def confirm_candidates(values: Sequence[float], winner: float, most: int = 4) -> list[float]:
    """The range tests' winner and every smaller value tried, largest first, thinned to at
    most ``most`` spread evenly over the list (the winner and the smallest kept): the
    values that short runs compare after a range test bounded them from above.

    >>> confirm_candidates([1e-2, 1e-3, 1e-4, 1e-5, 0.0, 1e-1], 1e-2)
    [0.01, 0.001, 1e-05, 0.0]
    """
    below = sorted({float(v) for v in values if float(v) <= float(winner)}, reverse=True)
    if len(below) <= most:
        return below
    idx = sorted({round(i * (len(below) - 1) / (most - 1)) for i in range(most)})
    return [below[i] for i in idx]


def default_confirm_epochs(budget_epochs: int) -> int:
    """Length of the short runs that decide the weight decay and the momentum: a quarter
    of the budget, rounded up (weight decay acts per step, so its cost grows with the
    run; one-epoch runs favour the most aggressive momentum pair).

    >>> default_confirm_epochs(3), default_confirm_epochs(8), default_confirm_epochs(10)
    (1, 2, 3)
    """
    return max(1, math.ceil(int(budget_epochs) / 4))
