"""Learning-rate suggestions from a range-test curve: pure functions of ``(lrs, losses)``.

Nothing here imports torch or matplotlib, so every method can be tested on recorded or
synthetic curves. Every method takes the *raw* per-iteration losses (the finder's
``res.losses``) and smooths them itself with a zero-phase smoother
(:func:`smooth_curve`), because the finder's running EMA lags the curve by dozens of
iterations and would shift every suggestion to the right.

Common rules, for every method:

* ``lrs`` must be finite, > 0 and strictly increasing, the same length as ``losses``
  (a ``ValueError`` otherwise);
* the curve is cut at its first non-finite loss (NaN/Inf: the run blew up there);
* the answer is a :class:`Suggestion` whose ``lr`` is a finite float inside the swept
  range, or ``None`` together with a ``reason`` saying why there is no usable answer.

Methods (``SUGGESTERS``):

``auto`` (default)
    Our own, Smith's rule made robust: the peak LR of a 1cycle is the largest LR at
    which the loss still improves, i.e. the LR of the smoothed loss minimum. It reads,
    in steps (each a function below :func:`auto`):

    1. *is there a usable descent?* The noise is estimated from the residuals of the
       raw vs smoothed loss (robust MAD), giving the standard error ``se`` of the
       smoothed curve; a total descent below ``FLAT_SE`` (10) ``se`` is a flat curve,
       and a curve that only rises from the start diverged at once: no suggestion
       (nor for sweeps shorter than 10 points).
    2. *cut the divergence tail* (:func:`tail_cut`: from the first point after the
       minimum whose raw loss is back above the starting level): the finder records a
       few exploding points past the blow-up, and a smoother would spread them over
       the valley and drag the minimum half a decade to the left.
    3. *the first minimum*: read off a zero-phase smoother, not a lagging EMA, it is the
       first minimum the smoothed loss rises clearly above (``FIRST_RISE_SE`` standard
       errors) after a real descent, not a later, lower dip.
    4. *the pick and its range*: the minimum itself, unless the cliff after it is
       sharp: when the loss is back above its starting level within ``CLIFF_GAP`` (1.5)
       x the minimum's LR, the pick steps back by ``CLIFF_GAP / gap`` (at most 1.5x),
       because the minimum then marks the edge of stability; ``divide`` > 1 adds a
       further margin. ``low`` is the steepest-descent LR (the cautious end of the
       range), ``high`` the LR where the cut curve ends (where the loss climbs back:
       stay below it).
    5. *confidence* ``= 1 - exp(-(descent / se - 10) / 20)``, cut when the loss was
       still falling at the end of an uncut sweep (the minimum may lie beyond
       ``end_lr``), when the descent covers only a few points, and for fast sweeps
       (fewer than ``COARSE_PPD`` points per decade put the minimum at too high an LR),
       each with a note in the ``reason``;
    6. a note when the loss recovered from the climb-back that ended the curve
       (:func:`spike_recovery`).

    Why this shape, measured on real training runs, and where it loses: see
    docs/finder.md ("Why auto is shaped this way").
``valley``
    The idea of fastai's ``valley``: the longest descending stretch of the (smoothed)
    curve, as a longest strictly decreasing subsequence, and the point two thirds of the
    way down it.
``steep``
    The steepest negative slope of the smoothed curve w.r.t. ``log lr`` before its
    minimum, skipping a warm-up margin so the first points are never chosen.
``minimum``
    The LR of the smoothed minimum divided by 10.
``slide``
    A window rule in the spirit of fastai's ``slide``: a window of ``w`` points slides
    left from the minimum; the answer is the right end of the first window in which the
    loss descends steadily (the slope is clearly negative and changes by less than half
    across the window).

Example:
    >>> import numpy as np
    >>> lrs = np.geomspace(1e-5, 10, 100)
    >>> losses = 2 - 1.5 / (1 + np.exp(-3 * (np.log10(lrs) + 2))) + np.maximum(0, np.log10(lrs))**3
    >>> s = suggest(lrs, losses)
    >>> 1e-2 < s.lr < 1.0, s.method
    (True, 'auto')
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from .. import _validate as check
from .._format import fmt_lr

__all__ = [
    "Suggestion",
    "SUGGESTERS",
    "suggest",
    "auto",
    "valley",
    "steep",
    "minimum",
    "slide",
    "smooth_curve",
    "noise_level",
    "tail_cut",
    "spike_recovery",
    "SpikeRecovery",
    "combine_runs",
    "AUTO_DIVIDE",
    "CLIFF_GAP",
    "COARSE_PPD",
    "FIRST_RISE_SE",
    "RECOVERED_POINTS",
]

#: fewer usable points than this and ``auto`` gives no suggestion
AUTO_MIN_POINTS = 10
#: fewer usable points than this and the simple methods give no suggestion
BASIC_MIN_POINTS = 3
#: ``auto``: the pick is the smoothed-minimum LR divided by this (1: no margin; a fixed
#: margin cost more than it saved when the picks were trained, see docs/finder.md)
AUTO_DIVIDE = 1.0
#: ``auto``: when the loss is back above its starting level within this factor of the
#: minimum's LR (a sharp cliff), the pick steps back by ``CLIFF_GAP / gap`` (at most
#: this factor): the minimum is then the edge of stability, while a gentle rise
#: tolerates the minimum itself (docs/finder.md)
CLIFF_GAP = 1.5
#: ``auto``: the loss has "stopped improving" at a minimum once the smoothed curve rises
#: this many standard errors above it
FIRST_RISE_SE = 3.0
#: ``auto``: sweeps with fewer points per decade than this are "fast": their loss
#: minimum sits at too high an LR (the net has had fewer steps at each LR)
COARSE_PPD = 12.0
#: ``spike_recovery``: a climb-back counts as transient when at least this many raw
#: losses after it fall back below halfway between the starting level and the minimum
RECOVERED_POINTS = 3
#: ``auto``: a descent below this many standard errors of the smoothed curve is "flat"
#: (pure noise reaches ~10 only about once in a thousand 100-point curves)
FLAT_SE = 10.0


@dataclass(frozen=True)
class Suggestion:
    """A suggested learning rate (or an explicit "no suggestion").

    ``lr`` is None when the curve has no usable descent; ``reason`` then says why.
    ``low``/``high`` bound a plausible range (``auto`` only; None otherwise) and
    ``confidence`` is in [0, 1] for ``auto`` (None for the simple methods).

    >>> s = Suggestion(0.1, 0.03, 0.5, "auto", 0.9, "steep descent")
    >>> bool(s), Suggestion.from_dict(s.to_dict()) == s
    (True, True)
    """

    lr: float | None
    low: float | None = None
    high: float | None = None
    method: str = "auto"
    confidence: float | None = None
    reason: str = ""

    def __bool__(self) -> bool:
        return self.lr is not None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Suggestion:
        """Inverse of :meth:`to_dict`."""
        return cls(**{k: d.get(k) for k in ("lr", "low", "high", "method", "confidence")},
                   reason=d.get("reason", ""))

    def __str__(self) -> str:
        if self.lr is None:
            return f"{self.method}: no suggestion ({self.reason})"
        rng = "" if self.low is None else f" [{fmt_lr(self.low)}, {fmt_lr(self.high)}]"
        conf = "" if self.confidence is None else f", confidence {self.confidence:.2f}"
        return f"{self.method}: lr={fmt_lr(self.lr)}{rng}{conf}"


# ----------------------------------------------------------------------------- helpers


def _prepare(lrs: Any, losses: Any) -> tuple[np.ndarray, np.ndarray, str]:
    """Validate, and cut the curve at the first non-finite loss."""
    x = np.asarray(lrs, dtype=float)
    y = np.asarray(losses, dtype=float)
    if x.ndim != 1 or y.ndim != 1:
        raise ValueError(
            f"lrs and losses must be 1-D sequences, got shapes {x.shape} and {y.shape}"
        )
    if len(x) != len(y):
        raise ValueError(
            f"lrs and losses must have the same length, got {len(x)} lrs and {len(y)} losses"
        )
    if not np.all(np.isfinite(x)) or np.any(x <= 0):
        bad = int(np.flatnonzero(~np.isfinite(x) | (x <= 0))[0])
        raise ValueError(f"lrs must be finite and > 0, got lrs[{bad}]={x[bad]!r}")
    d = np.diff(x)
    if np.any(d <= 0):
        i = int(np.flatnonzero(d <= 0)[0])
        raise ValueError(
            "lrs must be strictly increasing (a range test sweeps upwards), got "
            f"lrs[{i}]={x[i]!r} followed by lrs[{i + 1}]={x[i + 1]!r}"
        )
    bad = ~np.isfinite(y)
    note = ""
    if bad.any():
        cut = int(np.argmax(bad))
        note = f" (curve cut at the first non-finite loss, index {cut} of {len(y)})"
        x, y = x[:cut], y[:cut]
    return x, y, note


def _log_axis(x: np.ndarray) -> np.ndarray:
    """log(lr), or the point index when rounding makes log(lr) not strictly increasing."""
    t = np.log(x)
    if len(t) > 1 and np.any(np.diff(t) <= 0):
        return np.arange(len(x), dtype=float)
    return t


def _slope(ys: np.ndarray, x: np.ndarray) -> np.ndarray:
    """d loss / d log lr of a (smoothed) curve, on a normalised scale, never NaN.

    Only signs and ratios of slopes are used, so the curve is divided by its largest
    magnitude first (no overflow); infinities from near-equal LRs are clamped.
    """
    m = float(np.max(np.abs(ys))) if len(ys) else 0.0
    if not (m > 0 and math.isfinite(m)):
        return np.zeros(len(ys))
    yn = ys / m - ys[0] / m
    with np.errstate(all="ignore"):
        g = np.gradient(yn, _log_axis(x)) if len(ys) > 1 else np.zeros(len(ys))
    big = np.finfo(float).max
    return np.nan_to_num(g, nan=0.0, posinf=big, neginf=-big)


def _margin(n: int) -> int:
    """Warm-up margin: points at the start never chosen as "steepest"."""
    return max(1, math.ceil(0.05 * n))


def _none(method: str, reason: str, confidence: float | None = None) -> Suggestion:
    return Suggestion(None, None, None, method, confidence, reason)


def _default_sigma(n: int) -> float:
    return max(1.0, n / 25.0)


def smooth_curve(losses: Sequence[float] | np.ndarray, sigma: float | None = None) -> np.ndarray:
    """Zero-phase smoothing: Gaussian-weighted local linear regression.

    ``sigma`` is the kernel width in points (default ``max(1, n / 25)``). Unlike an EMA
    it does not lag, and unlike a plain moving average it is not biased at the ends of
    a trending curve. Non-finite input gives non-finite output: cut the curve first.

    >>> smooth_curve([1.0, 2.0, 3.0, 4.0, 5.0]).round(6).tolist()
    [1.0, 2.0, 3.0, 4.0, 5.0]
    """
    y = np.asarray(losses, dtype=float)
    n = len(y)
    if n < 3:
        return y.copy()
    s = _default_sigma(n) if sigma is None else check.positive("sigma", sigma)
    m = float(np.max(np.abs(y)))
    if m == 0.0 or not math.isfinite(m):
        return y.copy()
    c = float(y[0])
    yn = y / m - c / m  # |yn| <= 2: no overflow, and the offset costs no precision
    half = min(n - 1, int(math.ceil(2.5 * s)))
    idx = np.arange(n)
    s0 = np.zeros(n)
    s1 = np.zeros(n)
    s2 = np.zeros(n)
    t0 = np.zeros(n)
    t1 = np.zeros(n)
    for d in range(-half, half + 1):
        j = idx + d
        ok = (j >= 0) & (j < n)
        w = np.where(ok, math.exp(-0.5 * (d / s) ** 2), 0.0)
        yj = yn[np.clip(j, 0, n - 1)]
        s0 += w
        s1 += w * d
        s2 += w * d * d
        t0 += w * yj
        t1 += w * d * yj
    det = s0 * s2 - s1 * s1
    with np.errstate(divide="ignore", invalid="ignore"):
        lin = (s2 * t0 - s1 * t1) / det
    avg = t0 / s0
    good = det > 1e-9 * s0 * s2
    out = np.where(good & np.isfinite(lin), lin, avg)
    with np.errstate(over="ignore", invalid="ignore"):
        res = out * m + c
    return res if np.all(np.isfinite(res)) else y.copy()


def noise_level(losses: Sequence[float] | np.ndarray, smoothed: np.ndarray | None = None) -> float:
    """Robust standard deviation of the raw losses around their smoothed curve (MAD).

    >>> rng = np.random.default_rng(0)
    >>> 0.05 < noise_level(np.linspace(3, 1, 400) + 0.1 * rng.standard_normal(400)) < 0.15
    True
    """
    y = np.asarray(losses, dtype=float)
    if len(y) < 3:
        return 0.0
    ys = smooth_curve(y) if smoothed is None else np.asarray(smoothed, dtype=float)
    r = y - ys
    r = r[np.isfinite(r)]
    if len(r) == 0:
        return 0.0
    return float(1.4826 * np.median(np.abs(r - np.median(r))))


def _check_min_points(method: str, n: int, need: int, note: str) -> Suggestion | None:
    if n < need:
        return _none(
            method,
            f"too short a sweep: {n} usable point{'s' if n != 1 else ''}, {method!r} needs "
            f"at least {need}; raise num_iter{note}",
            0.0 if method == "auto" else None,
        )
    return None


def _usable(method: str, lrs: Any, losses: Any
            ) -> tuple[np.ndarray, np.ndarray, str, Suggestion | None]:
    """The checked, cut curve of a simple method, or its "too short" answer."""
    x, y, note = _prepare(lrs, losses)
    return x, y, note, _check_min_points(method, len(y), BASIC_MIN_POINTS, note)


def _clip(v: float, lo: float, hi: float) -> float:
    return float(min(max(v, lo), hi))


# ----------------------------------------------------------------------------- methods


def tail_cut(
    lrs: Sequence[float] | np.ndarray, losses: Sequence[float] | np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The curve without its divergence tail.

    Cut at the first non-finite loss, then at the first point after the (lightly
    smoothed) minimum whose raw loss is back above the starting level (the median of the
    first 5 % of the sweep, at least 5 points). Curves shorter than 10 points are only
    cut at non-finite values.

    >>> lrs = np.geomspace(1e-4, 1, 50)
    >>> losses = np.r_[np.linspace(2, 0.5, 40), [0.6, 1.5, 5, 30, 300, 1e3, 1e4, 1e5, 1e6, 1e7]]
    >>> x, y = tail_cut(lrs, losses)
    >>> len(x), float(y.max()) <= 2.0
    (42, True)
    """
    x = np.asarray(lrs, dtype=float)
    y = np.asarray(losses, dtype=float)
    bad = ~np.isfinite(y)
    if bad.any():
        k = int(np.argmax(bad))
        x, y = x[:k], y[:k]
    n = len(y)
    if n < AUTO_MIN_POINTS:
        return x, y
    y0 = float(np.median(y[: max(5, math.ceil(0.05 * n))]))
    i_min = int(np.argmin(smooth_curve(y, sigma=1.0)))
    above = np.flatnonzero(y[i_min:] > y0)
    cut = i_min + int(above[0]) if len(above) else n
    return x[:cut], y[:cut]


@dataclass(frozen=True)
class SpikeRecovery:
    """A climb-back that the loss recovered from (see :func:`spike_recovery`).

    ``spike_lr``: the first LR whose loss is back above the starting level, where
    :func:`tail_cut` ends the curve; ``end_lr``: the last LR of the recovered stretch
    (after it every loss stays above the starting level, or is non-finite, or the sweep
    ends); ``recovered``: raw losses in between that came back below halfway between the
    starting level and the smoothed minimum; ``blew_up``: False when the sweep simply
    ended inside the recovered stretch.
    """

    spike_lr: float
    end_lr: float
    recovered: int
    blew_up: bool = True


def spike_recovery(
    lrs: Sequence[float] | np.ndarray,
    losses: Sequence[float] | np.ndarray,
    *,
    min_recovered: int = RECOVERED_POINTS,
) -> SpikeRecovery | None:
    """The climb-back that ends the curve for :func:`tail_cut`, if the loss recovered from it.

    A range test can spike, come back down and keep training for a while before it
    blows up for good (Caffe's LeNet on MNIST does this often; there a peak beyond the
    spike can train better than the minimum before it). Returns ``None`` when the tail
    is a plain divergence, when fewer than ``min_recovered`` points recovered, or when
    there is no tail. Not used to move ``auto``'s pick, because on other networks the
    recovered stretch reaches LRs at which they collapse in training; ``auto`` only
    mentions a recovery in its ``reason``. The measurements are in docs/finder.md
    ("Spikes the loss recovers from").

    >>> lrs = np.geomspace(1e-4, 1, 60)
    >>> down = np.linspace(2.3, 0.7, 40)
    >>> spike = np.r_[down, [3.0, 4.0], np.full(10, 1.0), [5.0, 50, 500, 5e3, 5e4, 5e5, 5e6, 5e7]]
    >>> r = spike_recovery(lrs, spike)
    >>> r.recovered, bool(r.spike_lr < r.end_lr), r.blew_up
    (10, True, True)
    >>> spike_recovery(lrs, np.r_[down, np.geomspace(3, 3e6, 20)]) is None
    True
    """
    x, y, _ = _prepare(lrs, losses)
    n = len(y)
    went_non_finite = n < len(np.asarray(losses))
    if n < AUTO_MIN_POINTS:
        return None
    _, yc = tail_cut(x, y)
    c = len(yc)
    if c >= n or c < 3:
        return None
    y0 = float(np.median(y[: max(5, math.ceil(0.05 * n))]))
    level = (float(np.min(smooth_curve(yc))) + y0) / 2.0
    d = n  # from d on, every loss stays above the starting level
    while d - 1 > c and y[d - 1] > y0:
        d -= 1
    recovered = int(np.sum(y[c:d] < level))
    if recovered < int(min_recovered) or d - 1 <= c:
        return None
    return SpikeRecovery(float(x[c]), float(x[d - 1]), recovered, d < n or went_non_finite)


@dataclass(frozen=True)
class _Descent:
    """A curve, its zero-phase smoothing, and the descent read off it: from the highest
    point before the minimum (``i_top``) down to the minimum (``i_min``)."""

    x: np.ndarray
    y: np.ndarray
    ys: np.ndarray
    i_min: int
    i_top: int
    noise: float
    se: float  # standard error of the smoothed curve
    cut_tail: bool  # the divergence tail was cut off
    i_global: int  # the lowest point, before the first-minimum rule

    @property
    def n(self) -> int:
        return len(self.y)

    @property
    def descent(self) -> float:
        return float(self.ys[self.i_top] - self.ys[self.i_min])

    @property
    def lr_min(self) -> float:
        return float(self.x[self.i_min])


def _descent(x: np.ndarray, y: np.ndarray, sigma: float | None, cut_tail: bool) -> _Descent:
    ys = smooth_curve(y, sigma)
    n = len(y)
    s = _default_sigma(n) if sigma is None else float(sigma)
    i_min = int(np.argmin(ys))
    noise = noise_level(y, ys)
    # the smoother averages about 2 sqrt(pi) sigma points: the noise left in the curve
    se = noise / math.sqrt(min(float(n), 2.0 * math.sqrt(math.pi) * s))
    return _Descent(x, y, ys, i_min, int(np.argmax(ys[: i_min + 1])), noise, se, cut_tail,
                    i_min)


def _unusable(whole: _Descent, note: str) -> Suggestion | None:
    """Step 1: no suggestion when the whole curve has no descent beyond its noise."""
    ys = whole.ys
    threshold = FLAT_SE * whole.se + 1e-12 * float(np.max(np.abs(ys)))
    if whole.descent > threshold:
        return None
    rise = float(np.max(ys[whole.i_min:]) - ys[whole.i_min])
    if rise > threshold and whole.i_min <= _margin(whole.n):
        return _none(
            "auto",
            f"diverged at once: the loss rises from the start of the sweep (by {rise:.3g}) "
            f"with no descent before it; lower start_lr{note}",
            0.0,
        )
    return _none(
        "auto",
        f"flat curve: total descent {whole.descent:.3g} is within the noise ({FLAT_SE:g} x "
        f"standard error {whole.se:.3g} of the smoothed loss); "
        f"widen the sweep (end_lr) or check the model and data{note}",
        0.0,
    )


def _without_tail(whole: _Descent, sigma: float | None, min_points: int) -> _Descent:
    """Step 2: the descent of the curve cut at its divergence tail (:func:`tail_cut`),
    unless it blew up within the first few points (then the whole curve's)."""
    x, y = tail_cut(whole.x, whole.y)
    if len(y) == whole.n or len(y) < min_points:
        return whole
    cut = _descent(x, y, sigma, cut_tail=True)
    return cut if cut.descent > 0 else whole  # (no descent left: never on real curves)


def _first_minimum(d: _Descent) -> _Descent:
    """Step 3: the loss stops improving at the first minimum it rises clearly above
    (``FIRST_RISE_SE`` standard errors) once a real descent has happened; a later, lower
    dip is the network adapting at an LR that already made it worse."""
    ys, se = d.ys, d.se
    best = 0
    for j in range(1, d.i_min + 1):
        if ys[j] < ys[best]:
            best = j
        elif ys[j] > ys[best] + FIRST_RISE_SE * se and ys[best] < ys[0] - FLAT_SE * se:
            return replace(d, i_min=best, i_top=int(np.argmax(ys[: best + 1])))
    return d


@dataclass(frozen=True)
class _Pick:
    lr: float
    low: float
    high: float
    lr_steep: float
    gap: float  # how far past the minimum (a factor in LR) the loss is back above its start
    cliff: float  # the step back from the minimum for a sharp cliff (1: none)


def _pick(d: _Descent, divide: float) -> _Pick:
    """Step 4: the minimum, stepped back from a sharp cliff, and the range around it."""
    x = d.x
    g = np.gradient(d.ys, _log_axis(x))
    margin = _margin(d.n)
    lo_i = max(d.i_top, margin)
    if lo_i >= d.i_min:
        lo_i = d.i_top
    i_steep = lo_i + int(np.argmin(g[lo_i : d.i_min + 1]))
    lr_min, lr_steep = d.lr_min, float(x[i_steep])
    lo_bound = float(x[d.i_top])
    # a sharp cliff (the loss is back above its starting level within CLIFF_GAP x the
    # minimum's LR) means the minimum sits at the edge of stability: step back from it
    gap = float(x[-1]) / lr_min if d.cut_tail else math.inf
    cliff = max(1.0, CLIFF_GAP / gap)
    lr = _clip(lr_min / (float(divide) * cliff), lo_bound, lr_min)
    low = _clip(min(lr_steep, lr), lo_bound, lr)
    high = max(float(x[-1]) if d.cut_tail else lr_min, lr)
    return _Pick(lr, low, high, lr_steep, gap, cliff)


def _confidence(d: _Descent, x_all: np.ndarray) -> tuple[float, list[str]]:
    """Step 5: the descent's size against the noise, cut for the doubts noted."""
    z = d.descent / d.se if d.se > 0 else math.inf
    conf = 1.0 - math.exp(-(z - FLAT_SE) / 20.0)
    notes = []
    if not d.cut_tail and d.i_min >= d.n - 1 - _margin(d.n):
        conf *= 0.5
        notes = ["the loss was still falling at the end of the sweep, the minimum may lie "
                 "beyond end_lr"]
    if d.i_min - d.i_top < 5:
        conf *= 0.7
        notes.append(f"the descent spans only {d.i_min - d.i_top} points")
    steps = np.diff(np.log10(x_all))
    geometric = bool(np.all(steps > 0)) and float(np.std(steps)) <= 0.05 * float(np.mean(steps))
    ppd = 1.0 / float(np.mean(steps)) if geometric else math.inf  # linear sweeps: n/a
    if ppd < COARSE_PPD:
        conf *= 0.8
        notes.append(f"a fast sweep ({ppd:.0f} points per decade, fewer than "
                     f"{COARSE_PPD:g}): the minimum tends to sit at too high an LR; "
                     "raise num_iter or narrow the range")
    return _clip(conf, 0.0, 1.0), notes


def _recovery_note(whole: _Descent, d: _Descent) -> list[str]:
    """Step 6: a note when the loss recovered from the climb-back that ended the curve."""
    rec = spike_recovery(whole.x, whole.y) if d.cut_tail else None
    if rec is None:
        return []
    return [
        f"after that climb-back the loss recovered ({rec.recovered} points back below "
        "halfway to its minimum) "
        + (f"and blew up for good only after lr={fmt_lr(rec.end_lr)}" if rec.blew_up
           else f"until the sweep ended at lr={fmt_lr(rec.end_lr)}")
        + ": the spike may be transient and a higher peak may train faster (on Caffe's "
        "LeNet, where such curves occur, a peak 3-5x above this pick did on 8 seeds of 8; "
        "on MLPs it helped less and varied more between seeds); try one 2-3x higher in a "
        "short run before trusting it"]


def _auto_reason(d: _Descent, p: _Pick, divide: float, notes: list[str]) -> str:
    """Step 7: why, in words."""
    reason = (
        f"smoothed loss minimum at lr={fmt_lr(d.lr_min)} (Smith: the peak LR is the largest "
        f"that still improves the loss)"
        + (f", the first one the loss rises clearly above (a later, lower dip at "
           f"lr={fmt_lr(float(d.x[d.i_global]))} is ignored)" if d.i_min != d.i_global else "")
        + (f", divided by {divide:g} for a margin" if divide != 1 else "")
        + (f"; a sharp cliff (the loss is back above its starting level at {p.gap:.2f}x that "
           f"LR), so divided by {p.cliff:.2f} to stay off the edge" if p.cliff > 1 else "")
        + f"; steepest descent at lr={fmt_lr(p.lr_steep)}; "
        + (f"the loss climbs back at lr={fmt_lr(float(d.x[-1]))} (divergence tail cut there); "
           if d.cut_tail else "")
        + f"descent {d.descent:.3g} vs noise {d.noise:.3g}"
    )
    return reason + ("; " + "; ".join(notes) if notes else "")


def _check_divide(divide: Any) -> float:
    v = check.real("divide", divide, finite=False)
    if not (math.isfinite(v) and v >= 1):
        raise ValueError(f"divide must be a finite number >= 1, got {divide!r}")
    return v


def auto(
    lrs: Sequence[float] | np.ndarray,
    losses: Sequence[float] | np.ndarray,
    *,
    sigma: float | None = None,
    min_points: int = AUTO_MIN_POINTS,
    divide: float = AUTO_DIVIDE,
) -> Suggestion:
    """The default method: the smoothed minimum of the tail-cut curve (Smith's rule),
    optionally divided by ``divide`` (default 1: none) for a margin below the cliff.

    See the module docstring for the algorithm; the steps are read top to bottom.

    >>> lrs = np.geomspace(1e-4, 10, 60)
    >>> losses = 1 + np.tanh(-np.log10(lrs) - 1) + np.maximum(0, np.log10(lrs))**2
    >>> s = auto(lrs, losses)
    >>> s.low <= s.lr <= s.high and 0 <= s.confidence <= 1
    True
    """
    divide = _check_divide(divide)
    min_points = check.integer("min_points", min_points, least=BASIC_MIN_POINTS)
    x_all, y_all, note = _prepare(lrs, losses)
    short = _check_min_points("auto", len(y_all), min_points, note)
    if short is not None:
        return short
    whole = _descent(x_all, y_all, sigma, cut_tail=False)
    refused = _unusable(whole, note)  # 1. is there a usable descent at all?
    if refused is not None:
        return refused
    d = _first_minimum(_without_tail(whole, sigma, min_points))  # 2. and 3.
    pick = _pick(d, divide)  # 4.
    conf, notes = _confidence(d, x_all)  # 5.
    notes += _recovery_note(whole, d)  # 6.
    return Suggestion(pick.lr, pick.low, pick.high, "auto", round(conf, 4),
                      _auto_reason(d, pick, divide, notes) + note)


def steep(
    lrs: Sequence[float] | np.ndarray,
    losses: Sequence[float] | np.ndarray,
    *,
    margin: int | None = None,
    sigma: float | None = None,
) -> Suggestion:
    """LR of the steepest negative slope of the smoothed curve (never a warm-up point).

    ``margin`` points at the start are skipped (default ``max(1, ceil(5% of n))``; at
    least 1, since the first point's slope is a one-sided difference over the sweep's
    start, exactly what the margin keeps out: ``margin=0`` is refused), and so is
    everything past the smoothed minimum (the wreckage of divergence can fall steeply
    too).

    >>> lrs = np.geomspace(1e-4, 1, 50)
    >>> steep(lrs, 1 - np.tanh(np.log10(lrs) + 2)).lr < 0.1
    True
    """
    x, y, note, short = _usable("steep", lrs, losses)
    if short is not None:
        return short
    n = len(y)
    m = _margin(n) if margin is None else check.integer("margin", margin, least=1)
    m = min(m, n - 1)
    ys = smooth_curve(y, sigma)
    g = _slope(ys, x)
    i_min = max(int(np.argmin(ys)), m)  # past the minimum lies divergence, not descent
    i = m + int(np.argmin(g[m : i_min + 1]))
    if not g[i] < 0:
        return _none("steep", f"the loss never decreases after the first {m} points{note}")
    return Suggestion(
        float(x[i]), method="steep",
        reason=f"steepest descent of the smoothed loss at point {i} of {n}{note}",
    )


def minimum(
    lrs: Sequence[float] | np.ndarray,
    losses: Sequence[float] | np.ndarray,
    *,
    divide: float = 10.0,
    sigma: float | None = None,
) -> Suggestion:
    """The LR of the smoothed loss minimum divided by ``divide`` (10).

    Clipped to the start of the sweep when the division falls below it.

    >>> lrs = np.geomspace(1e-4, 1, 41)
    >>> round(minimum(lrs, (np.log10(lrs) + 1) ** 2).lr, 6)
    0.01
    """
    x, y, note, short = _usable("minimum", lrs, losses)
    if short is not None:
        return short
    divide = _check_divide(divide)
    ys = smooth_curve(y, sigma)
    i = int(np.argmin(ys))
    if i == 0:
        return _none("minimum", f"the smoothed loss is lowest at the first point: no descent{note}")
    lr = float(x[i]) / divide
    reason = f"smoothed minimum at lr={fmt_lr(x[i])}, divided by {divide:g}"
    if lr < x[0]:
        lr = float(x[0])
        reason += "; clipped to the start of the sweep"
    return Suggestion(lr, method="minimum", reason=reason + note)


def _longest_decreasing(y: np.ndarray) -> list[int]:
    """Indices of a longest strictly decreasing subsequence (patience sorting, O(n log n))."""
    neg = -y
    tails: list[float] = []  # smallest tail value of an increasing run of each length
    tail_idx: list[int] = []
    prev = [-1] * len(y)
    for i, v in enumerate(neg):
        lo, hi = 0, len(tails)
        while lo < hi:
            mid = (lo + hi) // 2
            if tails[mid] < v:
                lo = mid + 1
            else:
                hi = mid
        if lo > 0:
            prev[i] = tail_idx[lo - 1]
        if lo == len(tails):
            tails.append(v)
            tail_idx.append(i)
        else:
            tails[lo] = v
            tail_idx[lo] = i
    out: list[int] = []
    k = tail_idx[-1] if tail_idx else -1
    while k >= 0:
        out.append(k)
        k = prev[k]
    return out[::-1]


def valley(
    lrs: Sequence[float] | np.ndarray,
    losses: Sequence[float] | np.ndarray,
    *,
    position: float = 2 / 3,
    sigma: float | None = None,
) -> Suggestion:
    """The point ``position`` (2/3) of the way down the longest descending stretch.

    The stretch is a longest strictly decreasing subsequence of the smoothed curve, so
    small bumps in the middle of a descent do not break it.

    >>> lrs = np.geomspace(1e-4, 1, 50)
    >>> 1e-4 < valley(lrs, (np.log10(lrs) + 1) ** 2).lr < 0.1
    True
    """
    x, y, note, short = _usable("valley", lrs, losses)
    if short is not None:
        return short
    position = check.in_range("position", position, 0.0, 1.0)
    ys = smooth_curve(y, sigma)
    run = _longest_decreasing(ys)
    if len(run) < 2:
        return _none("valley", f"the smoothed loss never decreases{note}")
    start, end = run[0], run[-1]
    i = start + int(round((end - start) * position))
    return Suggestion(
        float(x[i]), method="valley",
        reason=f"{position:.2g} of the way down the longest descent (points {start}..{end})"
        + note,
    )


def slide(
    lrs: Sequence[float] | np.ndarray,
    losses: Sequence[float] | np.ndarray,
    *,
    window: int | None = None,
    tolerance: float = 0.5,
    sigma: float | None = None,
) -> Suggestion:
    """Right end of the last window (scanning left from the minimum) of steady descent.

    A window of ``window`` points (default ``max(2, n // 10)``) slides left from the
    smoothed minimum. It is "steady" when the slope at both ends is negative, at least a
    quarter of the steepest slope, and the two slopes differ by at most ``tolerance``
    times the larger one.

    >>> lrs = np.geomspace(1e-4, 10, 80)
    >>> losses = 1 - np.tanh(np.log10(lrs) + 2) + np.maximum(0, np.log10(lrs)) ** 2
    >>> 1e-3 < slide(lrs, losses).lr < 1
    True
    """
    x, y, note, short = _usable("slide", lrs, losses)
    if short is not None:
        return short
    n = len(y)
    w = max(2, n // 10) if window is None else check.integer("window", window, least=1)
    xc, yc = tail_cut(x, y)  # the blow-up points would smear the valley's end
    if len(yc) >= BASIC_MIN_POINTS:
        x, y = xc, yc
        n = len(y)
    ys = smooth_curve(y, sigma)
    g = _slope(ys, x)
    i_min = int(np.argmin(ys))
    if i_min == 0:
        return _none("slide", f"the smoothed loss is lowest at the first point: no descent{note}")
    g_steep = float(np.min(g[: i_min + 1]))
    if not g_steep < 0:
        return _none("slide", f"the smoothed loss never decreases{note}")
    if window is None:  # a sharp valley is shorter than n // 10 points: fit the window to it
        i_top = int(np.argmax(ys[: i_min + 1]))
        w = min(w, max(2, (i_min - i_top) // 3))
    w = min(w, i_min)
    for r in range(i_min, w - 1, -1):
        a, b = float(g[r - w]), float(g[r])
        if (
            a < 0 and b < 0
            and max(a, b) <= 0.25 * g_steep
            and abs(a - b) <= tolerance * max(abs(a), abs(b))
        ):
            return Suggestion(
                float(x[r]), method="slide",
                reason=f"end of a {w}-point window of steady descent (points {r - w}..{r})"
                + note,
            )
    return _none("slide", f"no {w}-point window of steady descent before the minimum{note}")


SuggestFn = Callable[..., Suggestion]

#: name -> method; every method is ``fn(lrs, losses, **options) -> Suggestion``
SUGGESTERS: dict[str, SuggestFn] = {
    "auto": auto,
    "valley": valley,
    "steep": steep,
    "minimum": minimum,
    "slide": slide,
}


def suggest(
    lrs: Sequence[float] | np.ndarray,
    losses: Sequence[float] | np.ndarray,
    method: str | SuggestFn = "auto",
    **options: Any,
) -> Suggestion:
    """Suggest a learning rate from a range-test curve with a named (or given) method.

    >>> lrs = np.geomspace(1e-4, 1, 41)
    >>> round(suggest(lrs, (np.log10(lrs) + 1) ** 2, "minimum").lr, 6)
    0.01
    """
    if callable(method):
        return method(lrs, losses, **options)
    if method not in SUGGESTERS:
        raise ValueError(f"unknown suggestion method {method!r}; choose one of {sorted(SUGGESTERS)}")
    return SUGGESTERS[method](lrs, losses, **options)


def combine_runs(base: Suggestion, per_run: Sequence[Suggestion]) -> Suggestion:
    """Widen ``base`` (from the median curve of several runs) by the runs' own suggestions.

    The range becomes the union of ``base``'s range and the per-run suggested LRs, and
    the confidence is scaled by the fraction of runs with a suggestion and by
    ``1 / (1 + decades spanned by the per-run LRs)``.

    >>> b = Suggestion(0.1, 0.05, 0.2, "auto", 1.0, "x")
    >>> c = combine_runs(b, [Suggestion(0.08), Suggestion(0.3)])
    >>> c.low, c.high, round(c.confidence, 3)
    (0.05, 0.3, 0.635)
    """
    if base.lr is None or not per_run:
        return base
    got = [s.lr for s in per_run if s.lr is not None]
    if not got:
        return Suggestion(base.lr, base.low, base.high, base.method, 0.0,
                          base.reason + f"; none of the {len(per_run)} runs alone gave a suggestion")
    lo_r, hi_r = min(got), max(got)
    low = min(base.low if base.low is not None else base.lr, lo_r)
    high = max(base.high if base.high is not None else base.lr, hi_r)
    spread = math.log10(hi_r / lo_r)
    conf = None
    if base.confidence is not None:
        conf = round(base.confidence * (len(got) / len(per_run)) / (1.0 + spread), 4)
    reason = (
        base.reason + f"; {len(per_run)} runs: per-run suggestions span "
        f"{fmt_lr(lo_r)}..{fmt_lr(hi_r)} ({len(got)} of {len(per_run)} gave one)"
    )
    return Suggestion(base.lr, float(low), float(high), base.method, conf, reason)
