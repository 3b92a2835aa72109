"""How a comparison runs: :class:`CompareOptions`, grouped and checked once.

Example:
    >>> CompareOptions(budgets=(1, 4), seeds=(0, 1)).budgets
    (1, 4)
    >>> CompareOptions(tune="grids")
    Traceback (most recent call last):
    ...
    ValueError: tune must be one of 'rule', 'grid', got 'grids'
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import _validate as check
from .._threads import check_threads
from ..progress import progress_mode
from ..step import check_grad_clip

__all__ = ["CompareOptions", "TUNE", "DEFAULT_GRID"]

#: ``tune=``: each alternative's LR by its rule, or by a short grid around the rule
TUNE = ("rule", "grid")
#: the grid's factors around the rule's LR: half a decade either side
DEFAULT_GRID = (10 ** -0.5, 1.0, 10 ** 0.5)


def _ints(name: str, values: Any, least: int) -> tuple[int, ...]:
    if isinstance(values, int) and not isinstance(values, bool):
        values = (values,)
    return tuple(check.values(name, values, lambda n, v: check.integer(n, v, least=least)))


@dataclass(frozen=True)
class CompareOptions:
    """Every option of :func:`onecycle.compare.compare` besides model, data, optimizer.

    Attributes:
        budgets: training lengths in epochs (each alternative runs at each); the
            default, a short and a longer one, keeps ``onecycle compare`` on digits
            near a minute on two cores: pass the budgets you mean to train at.
        seeds: one range test and one run per alternative and budget for each; the
            seed fixes the initial weights and the batch order.
        alternatives: names of :data:`onecycle.compare.ALTERNATIVES` (``None``: all;
            ``"ours"`` always runs).
        tune: ``"rule"`` -- each alternative's LR by its rule; ``"grid"`` -- the
            alternatives whose rule is tunable run at ``grid`` x the rule's LR and keep
            the best on the validation split, every run's time counted.
        grid: the factors of ``tune="grid"``.
        max_lr: a peak LR instead of the range test (then nothing is tuned).
        lr_find_kw: options of the range test (:func:`onecycle.lr_find`).
        batch_size: for a named dataset (default: ``onecycle run``'s).
        task, loss_fn, step_fn, metrics: override the dataset's task (a
            :class:`onecycle.tasks.Task` or its name; the Trainer's arguments).
        device, threads, progress: as for the Trainer (``progress``: one line per run).
        grad_clip: the Trainer's gradient clipping for every run, ours and the
            alternatives alike (a number, ``"auto"`` or ``None``).
        steps_dir: a folder where every finished range test and run is written the
            moment it ends (:mod:`onecycle.compare.store`); ``None``: kept in memory.
        resume: reuse what ``steps_dir`` holds from an interrupted comparison with the
            same settings (else that folder is emptied first).
    """

    budgets: Sequence[int] = (1, 4)
    seeds: Sequence[int] = (0, 1, 2)
    alternatives: Sequence[str] | None = None
    tune: str = "rule"
    grid: Sequence[float] = DEFAULT_GRID
    max_lr: float | None = None
    lr_find_kw: Mapping[str, Any] = field(default_factory=dict)
    batch_size: int | None = None
    task: Any = None
    loss_fn: Any = None
    step_fn: Any = None
    metrics: Any = None
    device: Any = None
    threads: int | None = None
    progress: Any = None
    grad_clip: float | str | None = None
    steps_dir: str | os.PathLike[str] | None = None
    resume: bool = False

    def __post_init__(self) -> None:
        put = object.__setattr__
        if self.steps_dir is not None:
            if not isinstance(self.steps_dir, (str, os.PathLike)):
                raise TypeError(f"steps_dir must be a folder path, got {self.steps_dir!r}")
            put(self, "steps_dir", Path(self.steps_dir))
        check.flag("resume", self.resume)
        if self.resume and self.steps_dir is None:
            raise ValueError("resume=True needs steps_dir=: the folder an interrupted "
                             "comparison wrote its finished steps to")
        put(self, "budgets", _ints("budgets", self.budgets, 1))
        put(self, "seeds", tuple(check.values("seeds", (self.seeds,) if isinstance(
            self.seeds, int) else self.seeds, check.seed)))
        if self.alternatives is not None:
            alts = (self.alternatives,) if isinstance(self.alternatives, str) else self.alternatives
            put(self, "alternatives", tuple(check.values("alternatives", alts)))
        check.choice("tune", self.tune, TUNE)
        put(self, "grid", tuple(check.values("grid", self.grid, check.positive)))
        if self.max_lr is not None:
            put(self, "max_lr", check.positive("max_lr", self.max_lr))
        if not isinstance(self.lr_find_kw, Mapping):
            raise TypeError(f"lr_find_kw must be a mapping of lr_find options, got "
                            f"{self.lr_find_kw!r}")
        if self.batch_size is not None:
            put(self, "batch_size", check.integer("batch_size", self.batch_size, least=1))
        put(self, "threads", check_threads(self.threads))
        put(self, "grad_clip", check_grad_clip(self.grad_clip))
        progress_mode(self.progress)

    @classmethod
    def build(cls, options: CompareOptions | None, keywords: Mapping[str, Any]) -> CompareOptions:
        """``options`` (default: all defaults) with ``keywords`` replacing its fields; an
        unknown keyword is a ``TypeError`` listing the known ones.

        >>> CompareOptions.build(None, {"seeds": [3]}).seeds
        (3,)
        """
        return check.grouped_options(cls, options, keywords, "compare()")

    def to_dict(self) -> dict[str, Any]:
        """The plain options (functions and tasks by name), for the report."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if callable(v) or f.name == "task" and v is not None and not isinstance(v, str):
                v = getattr(v, "__name__", None) or getattr(v, "name", None) or type(v).__name__
            elif isinstance(v, Path):
                v = str(v)
            out[f.name] = v
        return out
