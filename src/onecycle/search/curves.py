"""What a search reads from one range-test curve: its minimum, the LR there, the noise.

:func:`curve_stats` smooths a curve without lag (the finder's zero-phase smoother),
finds its minimum, the starting level before it, the descent and the standard error of
the smoothed curve (from the curve's own noise), and where it climbed back above its
start. :func:`curve_signal` reads a finder result's training or validation curve.

Example:
    >>> import numpy as np
    >>> lrs = np.geomspace(1e-4, 1, 41)
    >>> s = curve_stats(lrs, (np.log10(lrs) + 2) ** 2)
    >>> round(s.lr_at_min, 3), s.min_loss < 0.05
    (0.01, True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["CurveStats", "curve_stats", "curve_signal"]


@dataclass
class CurveStats:
    """What a search reads from one range-test curve (train or validation).

    ``level`` is the highest smoothed loss before the minimum (the starting level),
    ``se`` the standard error of the smoothed curve, ``lr_diverge`` where the loss
    climbed back above its starting level (None: it never did).
    """

    n: int
    min_loss: float
    lr_at_min: float
    level: float
    descent: float
    se: float
    lr_diverge: float | None


def curve_stats(lrs: Any, losses: Any, stop_lr: float | None = None) -> CurveStats:
    """Minimum of the zero-phase smoothed curve, its LR, the descent and the noise.

    The curve is cut at its first non-finite loss. ``stop_lr`` is where the sweep
    stopped (its ``lr_diverge`` when the loss never climbed back).

    >>> s = curve_stats([1e-3, 1e-2, 1e-1], [2.0, float("nan"), 1.0])
    >>> s.n, s.lr_diverge
    (1, 0.01)
    """
    from ..finder.suggest import noise_level, smooth_curve

    x = np.asarray(lrs, dtype=float)
    y = np.asarray(losses, dtype=float)
    bad = ~np.isfinite(y)
    cut = int(np.argmax(bad)) if bad.any() else len(y)
    diverge_at = float(x[cut]) if cut < len(y) else None
    x, y = x[:cut], y[:cut]
    n = len(y)
    if n == 0:
        return CurveStats(0, math.nan, math.nan, math.nan, 0.0, math.inf, diverge_at)
    ys = smooth_curve(y) if n >= 3 else y.copy()
    i_min = int(np.argmin(ys))
    level = float(np.max(ys[: i_min + 1]))
    noise = noise_level(y, ys) if n >= 3 else 0.0
    sigma = max(1.0, n / 25.0)
    neff = min(float(n), 2.0 * math.sqrt(math.pi) * sigma)
    se = noise / math.sqrt(neff)
    above = np.flatnonzero(ys[i_min:] > level)
    if len(above):
        lr_div: float | None = float(x[i_min + int(above[0])])
    elif diverge_at is not None:
        lr_div = diverge_at
    else:
        lr_div = stop_lr
    return CurveStats(n, float(ys[i_min]), float(x[i_min]), level, level - float(ys[i_min]),
                      se, lr_div)


def curve_signal(res: Any, use_val: bool) -> CurveStats:
    """Read a finder result: the validation curve when ``use_val``, else training.

    >>> from onecycle.finder import LRFinderResult
    >>> lrs = np.geomspace(1e-4, 1, 30)
    >>> curve_signal(LRFinderResult(lrs, (np.log10(lrs) + 2) ** 2, lrs * 0), False).n
    30
    """
    stop = None
    if res.stop_index is not None and res.stop_index < len(res.lrs):
        stop = float(res.lrs[res.stop_index])
    if use_val:
        return curve_stats(res.val_lrs, res.val_losses, stop)
    return curve_stats(res.lrs, res.losses, stop)
