"""The outcome of a range test: the curve, how it ended, suggestions, plot, JSON.

Example:
    >>> import numpy as np
    >>> lrs = np.geomspace(1e-5, 1, 50)
    >>> losses = 1 + (np.log10(lrs) + 1) ** 2 / 10
    >>> res = LRFinderResult(lrs, losses, losses.copy(), mode="exp")
    >>> res2 = LRFinderResult.from_dict(res.to_dict())
    >>> bool(np.array_equal(res2.losses, res.losses)), res2.stop_reason
    (True, 'completed')
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._format import fmt_lr
from .._io import JSONFile, check_format
from .._plain import to_plain
from .grid import check_mode
from .suggest import Suggestion, combine_runs, suggest

__all__ = ["LRFinderResult", "Band", "STOP_REASONS"]

FORMAT = "onecycle.lr_find"
FORMAT_VERSION = 1

#: why a range test ended: all iterations ran, the smoothed loss diverged, or a loss
#: was NaN/Inf
STOP_REASONS = ("completed", "diverged", "non-finite")


def _enc(a: Any) -> list[Any]:
    """Floats for JSON: exact for finite values, None for NaN, "inf"/"-inf"."""
    return to_plain(np.asarray(a, dtype=float))


def _dec(a: Any) -> np.ndarray:
    if a is None:
        return np.zeros(0)
    return np.array([math.nan if v is None else float(v) for v in a], dtype=float)


def _padded(arrays: Sequence[np.ndarray]) -> np.ndarray:
    """Rows of different lengths as one NaN-padded 2-D array."""
    out = np.full((len(arrays), max(len(a) for a in arrays)), np.nan)
    for k, a in enumerate(arrays):
        out[k, : len(a)] = a
    return out


@dataclass(eq=False)
class Band:
    """Spread of several range-test runs on a common LR grid.

    ``median``, ``low`` and ``high`` are the median and the ``quantiles`` (10th and 90th
    percentiles) of the raw losses across runs, over the points every run reached;
    ``curves`` holds each run's raw losses (NaN-padded where a run stopped earlier).

    >>> b = Band(np.array([1.0, 2.0]), np.array([1.0, 1.0]), np.array([0.9, 0.9]),
    ...          np.array([1.1, 1.1]))
    >>> b.n_runs
    0
    """

    lrs: np.ndarray
    median: np.ndarray
    low: np.ndarray
    high: np.ndarray
    curves: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    quantiles: tuple[float, float] = (0.1, 0.9)

    @property
    def n_runs(self) -> int:
        """How many runs the band summarises."""
        return int(self.curves.shape[0]) if self.curves.ndim == 2 else 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "lrs": _enc(self.lrs),
            "median": _enc(self.median),
            "low": _enc(self.low),
            "high": _enc(self.high),
            "curves": [_enc(c) for c in self.curves],
            "quantiles": list(self.quantiles),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Band:
        """Inverse of :meth:`to_dict`."""
        curves = [_dec(c) for c in d.get("curves", [])]
        return cls(
            _dec(d["lrs"]), _dec(d["median"]), _dec(d["low"]), _dec(d["high"]),
            np.array(curves, dtype=float) if curves else np.zeros((0, 0)),
            tuple(d.get("quantiles", (0.1, 0.9))),  # type: ignore[arg-type]
        )


@dataclass(eq=False, repr=False)
class LRFinderResult(JSONFile, format=FORMAT, version=FORMAT_VERSION,
                     what="an lr_find result"):
    """Result of :func:`onecycle.finder.lr_find`.

    Attributes:
        lrs: the LR of parameter group 0 at each iteration run (numpy array).
        losses: the raw loss at each iteration (averaged over accumulation steps and,
            when distributed, over ranks). With ``repeats > 1``: the median across runs.
        smoothed: the bias-corrected EMA of ``losses`` used for the stop decision.
        mode: ``"exp"`` or ``"linear"`` spacing of the sweep.
        diverged: True when the test stopped early (divergence or a NaN/Inf loss).
        stop_reason: one of ``"completed"``, ``"diverged"``, ``"non-finite"``.
        stop_index: index of the flagged last point when stopped early, else None.
        val_lrs, val_losses: the validation curve (empty without a ``val_loader``).
        band: a :class:`Band` with the spread across runs (``repeats > 1``), else None.
        runs: the individual runs (``repeats > 1``), else empty.
        config: the settings of the test (start/end lr, num_iter, smooth, amp,
            grad_clip, ``group_ratios`` of the param groups, ...) and what happened
            (``skipped_steps``: optimizer steps fp16's GradScaler skipped).
        grad_norms: with gradient clipping, the global gradient norm before clipping at
            each iteration (NaN where no step was taken or the norm was not finite);
            empty without clipping.

    ``save``/``load`` (atomic JSON, never executed) are :class:`onecycle._io.JSONFile`'s.

    >>> r = LRFinderResult(np.array([0.1, 1.0]), np.array([1.0, 2.0]), np.array([1.0, 1.5]))
    >>> r.suggest().lr is None
    True
    >>> import tempfile, os
    >>> p = r.save(os.path.join(tempfile.mkdtemp(), "lr.json"))
    >>> LRFinderResult.load(p).lrs.tolist()
    [0.1, 1.0]
    """

    lrs: np.ndarray
    losses: np.ndarray
    smoothed: np.ndarray
    mode: str = "exp"
    diverged: bool = False
    stop_reason: str = "completed"
    stop_index: int | None = None
    val_lrs: np.ndarray = field(default_factory=lambda: np.zeros(0))
    val_losses: np.ndarray = field(default_factory=lambda: np.zeros(0))
    band: Band | None = None
    runs: list[LRFinderResult] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    grad_norms: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def __post_init__(self) -> None:
        self.lrs = np.asarray(self.lrs, dtype=float)
        self.losses = np.asarray(self.losses, dtype=float)
        self.smoothed = np.asarray(self.smoothed, dtype=float)
        self.val_lrs = np.asarray(self.val_lrs, dtype=float)
        self.val_losses = np.asarray(self.val_losses, dtype=float)
        self.grad_norms = np.asarray(self.grad_norms, dtype=float)
        if not (len(self.lrs) == len(self.losses) == len(self.smoothed)):
            raise ValueError(
                f"lrs, losses and smoothed must have one entry per iteration, got lengths "
                f"{len(self.lrs)}, {len(self.losses)}, {len(self.smoothed)}"
            )
        if len(self.val_lrs) != len(self.val_losses):
            raise ValueError("val_lrs and val_losses must have the same length")
        if len(self.grad_norms) not in (0, len(self.lrs)):
            raise ValueError(f"grad_norms must be empty or have one entry per iteration "
                             f"({len(self.lrs)}), got {len(self.grad_norms)}")
        check_mode(self.mode)
        if self.stop_reason not in STOP_REASONS:
            raise ValueError(f"stop_reason must be one of {STOP_REASONS}, got {self.stop_reason!r}")

    # ------------------------------------------------------------------ suggestions
    def suggest(self, method: str | None = None, *, on: str = "train",
                total_steps: int | None = None, style: str = "smith",
                warmup: float | None = None, **options: Any) -> Suggestion:
        """Suggest a max LR from this curve (``method=None``: ``"auto"``).

        ``on="val"`` uses the validation curve instead of the training losses. With
        several runs (``repeats``) the suggestion comes from the median curve and its
        range is widened to cover the runs' own suggestions. ``total_steps`` (and the
        planned ``style`` or ``warmup`` in steps) gives the max_lr for a cycle of that
        many optimizer steps (:mod:`onecycle.finder.budget`); without it the pick is the
        budget-free one.

        >>> lrs = np.geomspace(1e-5, 1, 51)
        >>> r = LRFinderResult(lrs, (np.log10(lrs) + 1) ** 2, (np.log10(lrs) + 1) ** 2)
        >>> round(r.suggest("minimum").lr, 6)
        0.01
        """
        method = "auto" if method is None else method
        if total_steps is not None:
            from .budget import plan_budget, read_for_budget

            if on != "train":
                raise ValueError(f"total_steps reads the training curve; got on={on!r}")
            budget = plan_budget(total_steps, style=style, warmup=warmup)
            return read_for_budget(self, budget, method, **options)
        if on == "train":
            lrs, losses = self.lrs, self.losses
        elif on == "val":
            lrs, losses = self.val_lrs, self.val_losses
        else:
            raise ValueError(f"on must be 'train' or 'val', got {on!r}")
        base = suggest(lrs, losses, method, **options)
        if on == "train" and self.runs:
            per_run = [suggest(r.lrs, r.losses, method, **options) for r in self.runs]
            return combine_runs(base, per_run)
        return base

    # ------------------------------------------------------------------ plotting
    def plot(
        self,
        ax: Any = None,
        suggestions: Any = ("auto",),
        log: bool | None = None,
    ) -> Any:
        """The loss against the LR, suggestions marked and their range shaded.

        Log x-axis for ``mode="exp"`` (``log=None``), linear for ``"linear"``. Returns a
        ``matplotlib.figure.Figure`` (see :func:`onecycle.plots.finder.plot_result`).

        >>> lrs = np.geomspace(1e-5, 1, 30)
        >>> fig = LRFinderResult(lrs, lrs, lrs).plot(suggestions=())
        >>> fig.axes[0].get_xscale()
        'log'
        """
        from ..plots.finder import plot_result

        return plot_result(self, ax=ax, suggestions=suggestions, log=log)

    # ------------------------------------------------------------------ JSON
    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (exact floats; NaN as null, infinities as strings)."""
        return {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "lrs": _enc(self.lrs),
            "losses": _enc(self.losses),
            "smoothed": _enc(self.smoothed),
            "mode": self.mode,
            "diverged": bool(self.diverged),
            "stop_reason": self.stop_reason,
            "stop_index": None if self.stop_index is None else int(self.stop_index),
            "val_lrs": _enc(self.val_lrs),
            "val_losses": _enc(self.val_losses),
            "band": None if self.band is None else self.band.to_dict(),
            "runs": [r.to_dict() for r in self.runs],
            "config": to_plain(self.config),
            "grad_norms": _enc(self.grad_norms),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LRFinderResult:
        """Inverse of :meth:`to_dict`."""
        check_format(d, FORMAT, cls.json_what, version=FORMAT_VERSION, required=False)
        for key, types in (("config", dict), ("runs", list), ("band", (dict, type(None))),
                           ("diverged", bool), ("stop_index", (int, type(None)))):
            if key in d and (not isinstance(d[key], types) or
                             (key == "stop_index" and isinstance(d[key], bool))):
                raise TypeError(f"lr_find result key {key!r} has the wrong type: {d[key]!r}")
        config = {
            k: (float(v) if v in ("inf", "-inf") else v) for k, v in d.get("config", {}).items()
        }
        return cls(
            lrs=_dec(d["lrs"]),
            losses=_dec(d["losses"]),
            smoothed=_dec(d["smoothed"]),
            mode=d.get("mode", "exp"),
            diverged=bool(d.get("diverged", False)),
            stop_reason=d.get("stop_reason", "completed"),
            stop_index=d.get("stop_index"),
            val_lrs=_dec(d.get("val_lrs")),
            val_losses=_dec(d.get("val_losses")),
            band=None if d.get("band") is None else Band.from_dict(d["band"]),
            runs=[cls.from_dict(r) for r in d.get("runs", [])],
            config=config,
            grad_norms=_dec(d.get("grad_norms")),
        )

    @classmethod
    def from_runs(cls, runs: Sequence[LRFinderResult], config: dict[str, Any]) -> LRFinderResult:
        """Several runs of one sweep as one result: the median curve, a 10-90 % band and
        the runs, over the points every run reached (the first run to stop ends it).

        >>> lrs = np.geomspace(1e-3, 1, 4)
        >>> runs = [LRFinderResult(lrs, lrs + k, lrs + k) for k in (0.0, 1.0, 2.0)]
        >>> r = LRFinderResult.from_runs(runs, {})
        >>> r.losses.round(3).tolist(), r.band.n_runs
        ([1.001, 1.01, 1.1, 2.0], 3)
        """
        runs = list(runs)
        m = min(len(r) for r in runs)
        curves = _padded([r.losses for r in runs])
        lrs = np.asarray(runs[0].lrs[:m], dtype=float)  # every run sweeps the same grid
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
            median = np.nanmedian(curves[:, :m], axis=0)
            low, high = np.nanpercentile(curves[:, :m], [10, 90], axis=0)
            smoothed = np.nanmedian(_padded([r.smoothed for r in runs])[:, :m], axis=0)
            norms = (np.nanmedian(np.stack([r.grad_norms[:m] for r in runs]), axis=0)
                     if all(len(r.grad_norms) for r in runs) else np.zeros(0))
        first = min(runs, key=len)
        stopped = first.stop_reason != "completed"
        nv = min(len(r.val_lrs) for r in runs)
        val_lrs = runs[0].val_lrs[:nv]
        val_losses = (np.median(np.stack([r.val_losses[:nv] for r in runs]), axis=0)
                      if nv else np.zeros(0))
        skipped = sum(int(r.config.get("skipped_steps", 0) or 0) for r in runs)
        return cls(
            lrs=lrs, losses=median, smoothed=smoothed, mode=first.mode, diverged=stopped,
            stop_reason=first.stop_reason, stop_index=m - 1 if stopped else None,
            val_lrs=val_lrs, val_losses=val_losses,
            band=Band(lrs, median, low, high, curves, (0.1, 0.9)), runs=runs,
            config={**config, "skipped_steps": skipped}, grad_norms=norms,
        )

    # ------------------------------------------------------------------ repr
    def __len__(self) -> int:
        return len(self.lrs)

    def __repr__(self) -> str:
        n = len(self.lrs)
        if n == 0:
            return "LRFinderResult(0 points)"
        span = f"lr {fmt_lr(self.lrs[0])} -> {fmt_lr(self.lrs[-1])} ({self.mode})"
        if self.stop_reason == "completed":
            stop = "completed"
        else:
            stop = f"stopped: {self.stop_reason} at point {self.stop_index}"
        runs = f", {len(self.runs)} runs" if self.runs else ""
        try:
            s = self.suggest()
            sug = (
                f"suggested lr {fmt_lr(s.lr)} [{fmt_lr(s.low)}, {fmt_lr(s.high)}], "
                f"confidence {s.confidence:.2f}"
                if s.lr is not None
                else f"no suggestion ({s.reason})"
            )
        except Exception as exc:  # a repr must never raise
            sug = f"no suggestion ({exc})"
        return f"LRFinderResult({n} points, {span}, {stop}{runs}; {sug})"
