"""Is 1cycle worth it here? ``compare`` measures it, for your model, in one call.

A practitioner choosing a schedule is not choosing between two 1cycle implementations
but between a range test + 1cycle and the schedules most training code uses: linear
decay to zero over the budget, warm-up + cosine, warmup-stable-decay, a constant LR,
torch's ``OneCycleLR`` at the same LR, schedule-free SGD/AdamW and, for Adam-like
optimizers, Prodigy. :func:`compare` trains every one of them from the same initial
weights and batch order, at each budget and seed, each with a fair LR (the rule its
authors recommend, from the same range test, or a short grid whose cost is counted),
and reports the headline, the validation loss and the wall time (tuning included) of
each, with the verdict in plain words.

Modules: ``alternatives`` (the table of alternatives and their LR rules), ``options``
(:class:`CompareOptions`), ``workload`` (model, optimizer, data, task per seed), ``run``
(:func:`compare`), ``verdict`` (ahead / tie / behind from paired seeds), ``result``
(:class:`CompareReport`), ``figures`` and ``html`` (the report section and page).
``schedulefree`` and ``prodigyopt`` are optional (``pip install 'onecycle[compare]'``);
without them those alternatives are skipped with that reason.

``onecycle.compare`` is this package *and* the function: calling the package calls
:func:`onecycle.compare.run.compare` (``onecycle.compare("mlp", "digits")``), so it is
one object however it was imported (``import onecycle.compare`` first, or not).

Example:
    >>> import onecycle as oc
    >>> [a.name for a in oc.compare.select(None, "sgd")[0]][:3]
    ['ours', 'onecycle_torch', 'warmup_cosine']
    >>> callable(oc.compare), oc.compare is oc.compare.compare
    (True, True)
"""

from __future__ import annotations

import sys
import types
from typing import Any

from .alternatives import (
    ALTERNATIVES,
    FAMILIES,
    INSTALL_HINT,
    Alternative,
    LRPick,
    LRRule,
    optimizer_family,
    select,
)
from .options import DEFAULT_GRID, TUNE, CompareOptions
from .result import CompareReport, RunRecord, Stats
from .run import budget_choice
from .run import compare as run_compare
from .verdict import Verdict, judge

__all__ = [
    "compare", "run_compare", "CompareOptions", "CompareReport", "RunRecord", "Stats",
    "ALTERNATIVES", "Alternative", "LRRule", "LRPick", "FAMILIES", "INSTALL_HINT",
    "optimizer_family", "select", "budget_choice", "Verdict", "judge", "TUNE",
    "DEFAULT_GRID",
]


class CallablePackage(types.ModuleType):
    """The type of this package: calling it runs :func:`onecycle.compare.run.compare`.

    >>> import onecycle.compare as c
    >>> isinstance(c, CallablePackage)
    True
    """

    def __call__(self, *args: Any, **kwargs: Any) -> CompareReport:
        return run_compare(*args, **kwargs)


sys.modules[__name__].__class__ = CallablePackage
#: the package itself, so ``onecycle.compare`` is the same object however it is reached
compare = sys.modules[__name__]
