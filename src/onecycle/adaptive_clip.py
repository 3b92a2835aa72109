"""``grad_clip="auto"``: cap a gradient norm that spikes far above its recent median.

A 1cycle peak near the edge of stability makes training chaotic on some networks: on
LeNet/MNIST with a one-epoch cycle, max_lr values within 2 % of each other ended at
16.8 % to 93.7 % test accuracy, because a single spiking step can throw the weights
where the network never recovers. A fixed clip norm fixes that only when its value
suits the model; this rule needs no value. Each optimizer step's global gradient norm
``g`` is compared with the median ``m`` of the last ``WINDOW`` norms (before clipping):
once ``MIN_HISTORY`` norms are known, a step with ``g > FACTOR * m`` is scaled down to
``FACTOR * m``. Steady training is never touched (its norms stay within a few times
their median); a genuine rise of the norms raises the median with them. The evidence
is in docs/training.md ("Gradient clipping"). Pure Python: no torch.

Example:
    >>> clip = AdaptiveClip()
    >>> [clip.cap(1.0) for _ in range(MIN_HISTORY)][-1] is None
    True
    >>> clip.cap(10.0), clip.cap(2.0)
    (3.0, None)
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from collections.abc import Mapping
from typing import Any

from . import _validate as check

__all__ = ["AdaptiveClip", "check_state", "FACTOR", "WINDOW", "MIN_HISTORY"]

#: a step's norm above this many times the recent median is scaled down to it
FACTOR = 3.0
#: the median is over this many of the latest (unclipped) norms
WINDOW = 50
#: no step is clipped before this many norms are known (the first steps set the scale)
MIN_HISTORY = 10


class AdaptiveClip:
    """The running cap of ``grad_clip="auto"``: :meth:`cap` takes a step's norm and
    returns the norm to clip it to, or None to leave the step alone.

    >>> clip = AdaptiveClip(factor=2.0, window=4, min_history=2)
    >>> [clip.cap(v) for v in (1.0, 1.0, 5.0, 1.5)]
    [None, None, 2.0, None]
    """

    def __init__(self, factor: float = FACTOR, window: int = WINDOW,
                 min_history: int = MIN_HISTORY) -> None:
        self.factor = check.positive("factor", factor)
        if self.factor <= 1.0:
            raise ValueError(f"factor must be > 1 (a cap below the median would clip steady "
                             f"training), got {factor!r}")
        self.window = check.integer("window", window, least=1)
        self.min_history = check.integer("min_history", min_history, least=1)
        self.norms: deque[float] = deque(maxlen=self.window)

    def cap(self, norm: float) -> float | None:
        """The cap for a step of gradient norm ``norm`` (None: no clipping), and the
        norm recorded for the steps after. A non-finite norm is neither clipped nor
        recorded: the fp16 scaler or the divergence guard deal with it."""
        if not math.isfinite(norm):
            return None
        limit = None
        if len(self.norms) >= self.min_history:
            ceiling = self.factor * statistics.median(self.norms)
            # a zero median (gradients that were all zero) sets no scale to clip to
            if ceiling > 0.0 and norm > ceiling:
                limit = ceiling
        self.norms.append(float(norm))
        return limit

    def state_dict(self) -> dict[str, Any]:
        """The running state (for checkpoints): the recent norms. (The count of cut steps
        is the history's ``"clipped_steps"``.)

        >>> clip = AdaptiveClip(); _ = clip.cap(2.0); clip.state_dict()
        {'norms': [2.0]}
        """
        return {"norms": list(self.norms)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict`'s output, checked whole before anything changes (a
        ``ValueError`` saying what is wrong).

        >>> clip = AdaptiveClip(); clip.load_state_dict({"norms": [1.0, 3.0]})
        >>> list(clip.norms)
        [1.0, 3.0]
        """
        self.norms = deque(check_state(state, self.window), maxlen=self.window)


def check_state(state: Any, window: int = WINDOW) -> list[float]:
    """The norms of a saved :meth:`AdaptiveClip.state_dict`, or a ``ValueError``.

    >>> check_state({"norms": [1.5]})
    [1.5]
    """
    if not isinstance(state, Mapping) or set(state) != {"norms"}:
        raise ValueError(f"the adaptive clip's state must be a mapping with only 'norms', "
                         f"got {state!r:.80}")
    norms = state["norms"]
    if (not isinstance(norms, (list, tuple)) or len(norms) > window
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                       and math.isfinite(v) and v >= 0 for v in norms)):
        raise ValueError(f"the adaptive clip's norms must be at most {window} finite "
                         f"numbers >= 0, got {norms!r:.80}")
    return [float(v) for v in norms]
