"""The LRs a range test sweeps, and the two ways to space them (pure numpy).

Example:
    >>> lr_grid(1e-3, 1.0, 4).round(6).tolist()
    [0.001, 0.01, 0.1, 1.0]
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["lr_grid", "MODES", "check_mode"]

#: how a sweep spaces its LRs: geometrically (``"exp"``) or evenly (``"linear"``)
MODES = ("exp", "linear")


def check_mode(mode: Any) -> str:
    """``mode`` if it is one of :data:`MODES`.

    >>> check_mode("linear")
    'linear'
    """
    if not isinstance(mode, str) or mode not in MODES:
        raise ValueError(f"mode must be 'exp' or 'linear', got {mode!r}")
    return mode


def lr_grid(start_lr: float, end_lr: float, num_iter: int, mode: str = "exp") -> np.ndarray:
    """The LRs a range test sweeps: ``num_iter`` values from ``start_lr`` to ``end_lr``.

    ``"exp"``: geometric spacing, ``start * (end / start) ** (i / (num_iter - 1))``;
    ``"linear"``: evenly spaced. Both include both ends exactly.

    >>> lr_grid(0.01, 1.0, 3).round(6).tolist(), lr_grid(0.0, 1.0, 3, "linear").tolist()
    ([0.01, 0.1, 1.0], [0.0, 0.5, 1.0])
    """
    if check_mode(mode) == "exp":
        frac = np.arange(num_iter) / (num_iter - 1)
        g = start_lr * (end_lr / start_lr) ** frac
    else:
        g = np.linspace(start_lr, end_lr, num_iter)
    g[0], g[-1] = start_lr, end_lr
    return g
