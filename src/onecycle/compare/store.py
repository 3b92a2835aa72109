"""A comparison's finished work on disk, so an interrupted ``compare`` continues.

Each seed's range test and each (seed, budget, alternative) run is a step of a
:class:`onecycle.search.store.StepStore` (one JSON file, written atomically the moment
it ends). ``run.json`` holds what the steps depend on -- the options, less how progress
is shown, and the workload's names -- so resuming with other settings is refused with
the keys that differ instead of mixing two comparisons. A factory or loader whose code
changed under the same names is not detected: resume only what you have not edited.

Example:
    >>> import tempfile
    >>> from onecycle.compare.options import CompareOptions
    >>> steps = open_steps(CompareOptions(steps_dir=tempfile.mkdtemp()),
    ...                    {"dataset": "digits", "model": "mlp", "optimizer": "sgd"})
    >>> steps.step(run_step(0, 1, "ours"), lambda: 1, lambda v: {"v": v}, lambda d: d["v"])
    1
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .alternatives import LRPick
from .options import CompareOptions
from .result import RunRecord

__all__ = ["open_steps", "range_test_step", "run_step", "save_range_test",
           "load_range_test", "save_run", "load_run"]

#: options that do not change what a comparison measures
_NOT_RESULTS = ("progress", "steps_dir", "resume")


def open_steps(opts: CompareOptions, workload: Mapping[str, Any]) -> Any:
    """The step store of ``opts.steps_dir`` for this comparison (None without one);
    emptied first unless ``opts.resume``. Raises
    :class:`~onecycle.search.store.ResumeMismatch` when resuming other settings."""
    if opts.steps_dir is None:
        return None
    from ..search.store import StepStore

    options = {k: v for k, v in opts.to_dict().items() if k not in _NOT_RESULTS}
    fingerprint = {"command": "compare", "workload": dict(workload), **options}
    return StepStore(opts.steps_dir, fingerprint, resume=opts.resume)


def range_test_step(seed: int) -> str:
    """The step name of one seed's range test."""
    return f"range-test-seed{seed}"


def run_step(seed: int, budget: int, alternative: str) -> str:
    """The step name of one run."""
    return f"run-seed{seed}-{budget}ep-{alternative}"


def save_range_test(result: tuple[dict[int, LRPick], dict[str, Any]]) -> dict[str, Any]:
    picks, info = result
    return {"info": info, "picks": [[b, list(p.max_lr), None if p.minimum is None
                                     else list(p.minimum), p.source]
                                    for b, p in picks.items()]}


def load_range_test(d: Mapping[str, Any]) -> tuple[dict[int, LRPick], dict[str, Any]]:
    picks = {int(b): LRPick(tuple(float(v) for v in hi),
                            None if lo is None else tuple(float(v) for v in lo), str(src))
             for b, hi, lo, src in d["picks"]}
    return picks, dict(d["info"])


def save_run(result: tuple[RunRecord, list[float]]) -> dict[str, Any]:
    record, curve = result
    return {"record": record.to_dict(), "curve": [float(v) for v in curve]}


def load_run(d: Mapping[str, Any]) -> tuple[RunRecord, list[float]]:
    return RunRecord(**d["record"]), [float(v) for v in d["curve"]]
