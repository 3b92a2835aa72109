"""The range test's settings beyond the sweep itself, grouped and checked once.

:func:`~onecycle.finder.lr_find` takes the sweep (``start_lr``, ``end_lr``,
``num_iter``, ``mode``) and the step (``step_fn``) directly, and two groups for the rest:

* :class:`FinderOptions` -- smoothing and the stop rule, the validation subset,
  restoring, repeats and seeds, progress, threads;
* :class:`onecycle.step.Numerics` -- how a step computes (``amp``, ``grad_clip``,
  ``accumulation_steps``, ``device``): the same object the Trainer steps with, so a
  Trainer's range test is measured under the numerics of its fit.

Every field of either group is also accepted as a keyword of ``lr_find`` (the
keywords it always had: ``lr_find(..., smooth=0.9, val_loader=v, device="cpu")``); a
keyword overrides the same field of a group passed alongside it.

Example:
    >>> opts, num = resolve(None, None, {"repeats": 3, "seed": 0, "grad_clip": 1.0})
    >>> opts.repeats, opts.seed, num.grad_clip
    (3, 0, 1.0)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .. import _validate as check
from .._threads import check_threads
from ..progress import progress_mode
from ..step import Numerics

__all__ = ["FinderOptions", "RESTORE", "NUMERICS_FIELDS", "OPTION_FIELDS", "resolve"]

#: ``restore=`` values: True/"memory"/"cpu" (host-memory snapshot), "disk", False
RESTORE = (True, False, "memory", "cpu", "disk")


@dataclass(frozen=True)
class FinderOptions:
    """How a range test runs, beyond the sweep (every field is also an ``lr_find`` keyword).

    Attributes:
        smooth: EMA factor ``beta`` of the loss smoothing for the stop rule, in [0, 1).
        diverge: divergence factor (> 1; ``math.inf`` disables the divergence stop), see
            :mod:`onecycle.finder.sweep`.
        val_loader: optional; its first ``val_batches`` batches are cached at the start
            and evaluated (``model.eval()``, ``torch.no_grad()``) every ``val_every``
            iterations (default ``max(1, num_iter // 20)``) and at the end.
        val_every, val_batches: see ``val_loader`` (both >= 1).
        val_samples: optional cap (>= 1) on the cached validation samples: the last
            cached batch is cut so the subset holds at most this many.
        restore: ``True``/``"memory"`` (default) or ``"cpu"`` (the same: a snapshot in
            host memory, never on the GPU): model, optimizer and RNG states are put back
            bit for bit afterwards, also when an exception escapes; ``"disk"``: the
            snapshot goes to a temporary file; ``False``: keep what the sweep left (the
            train/eval mode of every sub-module is restored in every case).
        repeats: run the test this many times from the same initial state with seeds
            ``seed, seed + 1, ...``; the result holds the median curve and a band.
        seed: seed python, numpy and torch before each run (None: a single run is not
            seeded; repeats draw a base seed from torch's generator).
        progress: ``False`` silent, ``True``/``None``/``"bar"``/``"lines"`` as in
            :mod:`onecycle.progress`.
        threads: torch's CPU thread count during the test (None: unchanged); the
            previous count is put back afterwards.

    >>> FinderOptions(smooth=0.9).restore_where, FinderOptions(restore=False).restore_where
    ('memory', None)
    >>> FinderOptions(seed=2**70)
    Traceback (most recent call last):
    ...
    ValueError: seed must be an integer in [0, 9223372036854775807], got 1180591620717411303424
    """

    smooth: float = 0.98
    diverge: float = 4.0
    val_loader: Iterable[Any] | None = None
    val_every: int | None = None
    val_batches: int = 10
    val_samples: int | None = None
    restore: bool | str = True
    repeats: int = 1
    seed: int | None = None
    progress: Any = None
    threads: int | None = None

    def __post_init__(self) -> None:
        put = object.__setattr__
        put(self, "smooth", check.in_range("smooth", self.smooth, 0.0, 1.0, high_open=True))
        diverge = check.real("diverge", self.diverge, finite=False)
        if not diverge > 1.0:
            raise ValueError(f"diverge must be > 1 (math.inf disables the stop), got "
                             f"{self.diverge!r}")
        put(self, "diverge", diverge)
        if self.val_every is not None:
            put(self, "val_every", check.integer("val_every", self.val_every, least=1))
        put(self, "val_batches", check.integer("val_batches", self.val_batches, least=1))
        if self.val_samples is not None:
            put(self, "val_samples", check.integer("val_samples", self.val_samples, least=1))
        if not isinstance(self.restore, (bool, str)) or self.restore not in RESTORE:
            # (1 == True, but a number is not a way to say where the snapshot goes)
            raise ValueError(f"restore must be one of {', '.join(map(repr, RESTORE))}, got "
                             f"{self.restore!r}")
        put(self, "repeats", check.integer("repeats", self.repeats, least=1))
        if self.seed is not None:
            seed = check.seed("seed", self.seed)
            check.seed("seed + repeats - 1", seed + self.repeats - 1)  # seeds of the repeats
            put(self, "seed", seed)
        progress_mode(self.progress)
        put(self, "threads", check_threads(self.threads))

    @property
    def restore_where(self) -> str | None:
        """Where the snapshot is kept: ``"memory"`` (host), ``"disk"``, or None (no restore)."""
        if self.restore is False:
            return None
        return "disk" if self.restore == "disk" else "memory"


#: lr_find keywords that are fields of :class:`FinderOptions`
OPTION_FIELDS = tuple(f.name for f in dataclasses.fields(FinderOptions))
#: lr_find keywords that are fields of :class:`onecycle.step.Numerics`
NUMERICS_FIELDS = tuple(f.name for f in dataclasses.fields(Numerics))


def resolve(
    options: FinderOptions | None, numerics: Numerics | None, keywords: Mapping[str, Any]
) -> tuple[FinderOptions, Numerics]:
    """The two groups with ``keywords`` applied over them (an unknown keyword is a
    ``TypeError`` that lists the accepted ones).

    >>> resolve(FinderOptions(repeats=2), None, {"repeats": 4})[0].repeats
    4
    """
    if options is not None and not isinstance(options, FinderOptions):
        raise TypeError(f"options must be a FinderOptions, got {type(options).__name__}")
    if numerics is not None and not isinstance(numerics, Numerics):
        raise TypeError(f"numerics must be an onecycle.step.Numerics, got "
                        f"{type(numerics).__name__}")
    unknown = sorted(set(keywords) - set(OPTION_FIELDS) - set(NUMERICS_FIELDS))
    if unknown:
        raise TypeError(
            f"lr_find() got unexpected keyword argument(s) {', '.join(map(repr, unknown))}; "
            f"it accepts start_lr, end_lr, num_iter, mode, step_fn, numerics, options and "
            f"the fields of FinderOptions ({', '.join(OPTION_FIELDS)}) and Numerics "
            f"({', '.join(NUMERICS_FIELDS)})"
        )
    opts = options or FinderOptions()
    num = numerics or Numerics()
    opt_kw = {k: v for k, v in keywords.items() if k in OPTION_FIELDS}
    num_kw = {k: v for k, v in keywords.items() if k in NUMERICS_FIELDS}
    return (dataclasses.replace(opts, **opt_kw) if opt_kw else opts,
            dataclasses.replace(num, **num_kw) if num_kw else num)
