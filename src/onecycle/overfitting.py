"""Overfitting seen in a training history: the validation loss rose well above its low
while the training loss kept falling.

A range test reads the training loss of ~100 steps, so no max_lr pick can see that a
small data set is over-trained by a long cycle (on scikit-learn's diabetes, 319
patients, the best max_lr of an 80-epoch cycle is 3x below a 20-epoch cycle's, and
the range test's pick is the same for both). The epoch records can: this rule reads
them after training and names the epochs where validation was best, so the report can
say so instead of leaving a worse number unexplained.

The rule: with at least ``2 * WINDOW`` epochs, compare means of ``WINDOW`` consecutive
epochs (one noisy epoch on a small validation split moves a mean of three by a third
as much). It fires when the mean validation loss of the last ``WINDOW`` epochs is at
least ``RISE`` (10 %) above the lowest such mean, and the mean training loss of the
last epochs is below every epoch's training loss up to the end of that lowest window
(a training loss that rose too, or never got below an early value, is instability,
not overfitting). Pure Python: no torch.

Example:
    >>> val = [1.0, 0.6, 0.5, 0.5, 0.5, 0.6, 0.7, 0.8, 0.8]
    >>> train = [1.0, 0.6, 0.5, 0.4, 0.35, 0.3, 0.25, 0.2, 0.15]
    >>> o = detect(val, train)
    >>> o.first, o.last, round(o.low, 3), round(o.final, 3), round(o.rise, 2)
    (2, 4, 0.5, 0.767, 0.53)
    >>> detect(train, train) is None
    True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from . import _validate as check

__all__ = ["Overfit", "detect", "RISE", "WINDOW"]

#: the final validation loss must be this fraction above the lowest to count
RISE = 0.10
#: validation (and training) losses are averaged over this many consecutive epochs
WINDOW = 3


@dataclass(frozen=True)
class Overfit:
    """Where the validation loss was lowest and how far it rose after.

    Attributes:
        first, last: the epochs (0-based, inclusive) of the lowest window.
        low: the mean validation loss over that window.
        final: the mean validation loss over the last ``window`` epochs.
        rise: ``final / low - 1``.
        epochs: how many epochs the history has.
    """

    first: int
    last: int
    low: float
    final: float
    rise: float
    epochs: int


def _means(values: Sequence[float], window: int) -> list[float]:
    return [sum(values[i:i + window]) / window for i in range(len(values) - window + 1)]


def detect(val_losses: Sequence[float], train_losses: Sequence[float], *,
           window: int = WINDOW, rise: float = RISE) -> Overfit | None:
    """The overfitting in one fit's epoch losses, or None when there is none to report.

    ``val_losses[i]`` and ``train_losses[i]`` are epoch ``i``'s. None comes back too
    when there are fewer than ``2 * window`` epochs, when a loss is missing or not
    finite (a diverged run is reported as diverged, not as overfitting), or when the
    lowest mean is not positive (a rise is a ratio to it).

    >>> detect([0.9, 0.5, 0.4, 0.4, 0.41, 0.42], [1.0, 0.6, 0.5, 0.45, 0.4, 0.38]) is None
    True
    """
    window = check.integer("window", window, least=1)
    rise = check.positive("rise", rise)
    if len(val_losses) != len(train_losses):
        raise ValueError(f"val_losses and train_losses must have one entry per epoch, got "
                         f"{len(val_losses)} and {len(train_losses)}")
    n = len(val_losses)
    values = list(val_losses) + list(train_losses)
    if n < 2 * window or not all(isinstance(v, (int, float)) and math.isfinite(v)
                                 for v in values):
        return None
    val = _means(val_losses, window)
    best = min(range(len(val)), key=val.__getitem__)
    low, final = val[best], val[-1]
    trained_on = sum(train_losses[-window:]) / window < min(train_losses[:best + window])
    if low <= 0 or final < (1.0 + rise) * low or not trained_on:
        return None
    return Overfit(first=best, last=best + window - 1, low=low, final=final,
                   rise=final / low - 1.0, epochs=n)
