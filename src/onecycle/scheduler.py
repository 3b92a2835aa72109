"""Torch schedulers: a generic :class:`ParamScheduler` and :class:`OneCycle` on top of it.

A schedule is any callable ``step -> float``; ``ParamScheduler`` maps
``{hyper_name: schedule}`` onto an optimizer's param groups through the adapters of
:mod:`onecycle.hyper`, so learning rate, momentum (or beta1) and weight decay are one
mechanism. Scheduler state (the step and the schedules' JSON specs) lives in the
scheduler, never in the optimizer's param groups.

Example:
    >>> import torch, onecycle as oc
    >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1, momentum=0.9)
    >>> sched = oc.OneCycle(opt, max_lr=0.8, total_steps=100)
    >>> opt.param_groups[0]["lr"]
    0.08
    >>> opt.step(); sched.step(); sched.last_epoch
    1
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

from .hyper import adapter_for, validate_hyper
from .schedule import (
    _MISSING,
    OneCycleSchedule,
    TimeWarp,
    _int_steps,
    schedule_from_dict,
)

__all__ = ["ParamScheduler", "OneCycle"]

ScheduleFn = Callable[[float], float]


# (low, high, low bound is exclusive) for the hyper-parameters with a known range
_RANGES: dict[str, tuple[float, float, bool]] = {
    "lr": (0.0, math.inf, True),
    "momentum": (0.0, 1.0, False),
    "weight_decay": (0.0, math.inf, False),
}


def _writer(adapter: Any, group: dict, name: str, oname: str) -> Callable[[float], None]:
    """A fast setter for one hyper-parameter of one param group."""
    key = adapter._key(name, oname)
    if key.endswith("[0]"):
        base = key[:-3]

        def write_first(v: float, g: dict = group, k: str = base) -> None:
            g[k] = (v, *g[k][1:])

        return write_first
    if key not in group:
        adapter.get(group, name, oname)  # raises the standard "no hyper-parameter" error
    old = group[key]
    if hasattr(old, "fill_") and hasattr(old, "dim"):  # tensor lr: update in place

        def write_tensor(v: float, t: Any = old) -> None:
            t.fill_(v)

        return write_tensor

    def write_plain(v: float, g: dict = group, k: str = key) -> None:
        g[k] = v

    return write_plain


class ParamScheduler(LRScheduler):
    """Drive any hyper-parameters of an optimizer from step schedules.

    Args:
        optimizer: a ``torch.optim.Optimizer``.
        schedules: ``{name: schedule}`` where ``name`` is ``"lr"``, ``"momentum"`` (beta1
            for the Adam family), ``"weight_decay"`` or any other param-group key, and a
            schedule is a callable ``step -> float`` or a list of them, one per group.
        total_steps: optional length; past it the values are held (``on_end="hold"``,
            warning once) or a ``ValueError`` is raised (``on_end="raise"``).

    The values for step 0 are applied on construction; each ``step()`` advances one
    step and applies its values (call it after ``optimizer.step()``).

    >>> import torch
    >>> from onecycle.schedule import linear, join
    >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0, weight_decay=0.0)
    >>> ps = ParamScheduler(opt, {"weight_decay": join([linear(0.0, 1e-3)], [0, 10])})
    >>> ps.step(); round(opt.param_groups[0]["weight_decay"], 6)
    0.0001
    """

    def __init__(
        self,
        optimizer: Optimizer,
        schedules: Mapping[str, ScheduleFn | Sequence[ScheduleFn]],
        *,
        total_steps: int | None = None,
        on_end: str = "hold",
    ) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(
                f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}"
            )
        if not isinstance(schedules, Mapping) or not schedules:
            raise ValueError(
                f"schedules must be a non-empty mapping {{name: schedule}}, got {schedules!r}"
            )
        if on_end not in ("hold", "raise"):
            raise ValueError(f"on_end must be 'hold' or 'raise', got {on_end!r}")
        self.optimizer = optimizer
        self._adapter = adapter_for(optimizer)
        self._oname = type(optimizer).__name__
        n = len(optimizer.param_groups)
        table: dict[str, list[ScheduleFn]] = {}
        for name, sched in schedules.items():
            if not isinstance(name, str):
                raise TypeError(f"schedule names must be strings, got {name!r}")
            if name == "momentum" and not self._adapter.has("momentum"):
                self._adapter._key("momentum", self._oname)  # raises the standard error
            if isinstance(sched, (list, tuple)):
                if len(sched) != n:
                    raise ValueError(
                        f"schedules[{name!r}] has {len(sched)} entries for {n} param groups; "
                        "pass one schedule or exactly one per param group"
                    )
                fns = list(sched)
            else:
                fns = [sched] * n
            for f in fns:
                if not callable(f):
                    raise TypeError(f"schedules[{name!r}] must be callable step -> float, got {f!r}")
            # every group must actually hold the hyper-parameter
            for g in optimizer.param_groups:
                self._adapter.get(g, name, self._oname)
            table[name] = fns
        self._table = table
        self.total_steps = None if total_steps is None else _int_steps("total_steps", total_steps)
        self.on_end = on_end
        self._warned_end = False
        # LRScheduler attributes that torch utilities and Lightning read
        self.base_lrs = [float(g["lr"]) for g in optimizer.param_groups]
        self.last_epoch = 0
        self._step_count = 1
        self._get_lr_called_within_step = False
        self._compile()
        self._apply()

    # -- core -----------------------------------------------------------------

    def _effective_step(self) -> int:
        step = self.last_epoch
        T = self.total_steps
        if T is not None and step >= T:
            # step T is where the loop lands after its last optimizer step (torch allows
            # it too); its values are never used, so only going beyond it is reported.
            if self.on_end == "raise" and step > T:
                raise ValueError(
                    f"Tried to step {step} times. The specified number of total steps is {T}"
                )
            if self.on_end == "hold" and step > T:
                if not self._warned_end:
                    self._warned_end = True
                    warnings.warn(
                        f"step {step} is past the end of the {T}-step schedule; holding the "
                        "final values (replan(total_steps=...) extends a run)",
                        RuntimeWarning,
                        stacklevel=4,
                    )
                step = T - 1
        return step

    def _compute(self, step: int) -> dict[str, list[float]]:
        return {name: [float(f(step)) for f in fns] for name, fns in self._table.items()}

    def _compile(self) -> None:
        """Per (hyper-parameter, group): the schedule, a writer and the allowed range.

        Done once, so ``step()`` is a few float ops and dict writes per group."""
        plan = []
        for name, fns in self._table.items():
            lo, hi, lo_open = _RANGES.get(name, (-math.inf, math.inf, False))
            writers = [_writer(self._adapter, g, name, self._oname) for g in self.optimizer.param_groups]
            plan.append((name, list(zip(fns, writers)), lo, hi, lo_open))
        self._plan = plan
        self._groups = self.optimizer.param_groups
        self._ngroups = len(self._groups)
        self._g0 = self._groups[0]

    def _rebind(self) -> None:
        n = len(self.optimizer.param_groups)
        for name, fns in self._table.items():
            if len(fns) != n:
                raise ValueError(
                    f"the optimizer now has {n} param groups but the {name!r} schedule has "
                    f"{len(fns)}; create the scheduler after adding param groups"
                )
        self._compile()

    def _apply(self) -> None:
        groups = self.optimizer.param_groups
        # optimizer.load_state_dict() and add_param_group() replace or grow the groups:
        # writers bound to the old dicts would silently write nowhere.
        if groups is not self._groups or len(groups) != self._ngroups or groups[0] is not self._g0:
            self._rebind()
        step = self.last_epoch
        if self.total_steps is not None and step >= self.total_steps:
            step = self._effective_step()
        values = {}
        for name, pairs, lo, hi, lo_open in self._plan:
            vals = []
            prev_f = prev_v = None
            for f, _write in pairs:
                # groups sharing one schedule object evaluate it once
                v = prev_v if f is prev_f else f(step)
                # NaN fails every comparison, so it is caught here too
                if not ((v > lo if lo_open else v >= lo) and v < hi):
                    validate_hyper(name, v)  # raises the standard message
                    raise ValueError(f"schedule for {name!r} gave {v!r} at step {step}")
                vals.append(v)
                prev_f, prev_v = f, v
            values[name] = vals
        # every value is valid: only now write them (a bad one leaves the optimizer alone)
        for name, pairs, *_ in self._plan:
            for (_f, write), v in zip(pairs, values[name]):
                write(v)
        self._last_values = values
        self._last_lr = values["lr"] if "lr" in values else [float(g["lr"]) for g in self.optimizer.param_groups]

    def step(self, epoch: int | None = None) -> None:  # type: ignore[override]
        """Advance one step (after ``optimizer.step()``) and apply the new values."""
        if epoch is not None:
            raise TypeError("step() takes no epoch argument; schedules advance per step")
        self.last_epoch += 1
        self._step_count += 1
        self._apply()

    def get_lr(self) -> list[float]:  # type: ignore[override]
        """Learning rates for the current step (one per param group)."""
        return list(self._last_lr)

    def get_last_lr(self) -> list[float]:
        """Learning rates last applied (one per param group), like torch."""
        return list(self._last_lr)

    def current_values(self) -> dict[str, list[float]]:
        """Every scheduled hyper-parameter's current value per param group."""
        return {k: list(v) for k, v in self._last_values.items()}

    @property
    def step_index(self) -> int:
        """Index of the current step (0-based); the same as ``last_epoch``."""
        return self.last_epoch

    # -- state ------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Step, length, and every schedule's JSON spec (schedules must have ``to_dict``).

        Only plain Python types, so it is safe under ``torch.load(weights_only=True)``.
        """
        specs: dict[str, list[dict[str, Any]]] = {}
        for name, fns in self._table.items():
            out = []
            for f in fns:
                to_dict = getattr(f, "to_dict", None)
                out.append(to_dict() if to_dict is not None else None)
            specs[name] = out
        return {
            "last_epoch": self.last_epoch,
            "total_steps": self.total_steps,
            "on_end": self.on_end,
            "schedules": specs,
            "base_lrs": list(self.base_lrs),
        }

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore a run at any step: the next ``step()`` gives exactly the values an
        uninterrupted run would have given. Schedules without a JSON spec keep the
        callables this scheduler was built with."""
        if not isinstance(state_dict, Mapping) or "last_epoch" not in state_dict:
            raise ValueError("state_dict is not a onecycle scheduler state (no 'last_epoch')")
        specs = state_dict.get("schedules", {})
        if set(specs) != set(self._table):
            raise ValueError(
                f"state_dict schedules {sorted(specs)} do not match this scheduler's "
                f"{sorted(self._table)}"
            )
        for name, lst in specs.items():
            if len(lst) != len(self._table[name]):
                raise ValueError(
                    f"state_dict has {len(lst)} {name!r} schedules for "
                    f"{len(self._table[name])} param groups"
                )
            built: dict[str, Any] = {}  # equal specs -> one shared object (evaluated once)
            fns = []
            for spec, old in zip(lst, self._table[name]):
                if spec is None:
                    fns.append(old)
                    continue
                key = json.dumps(spec, sort_keys=True)
                if key not in built:
                    built[key] = schedule_from_dict(spec)
                fns.append(built[key])
            self._table[name] = fns
        self.total_steps = state_dict.get("total_steps", self.total_steps)
        self.on_end = state_dict.get("on_end", self.on_end)
        self.base_lrs = list(state_dict.get("base_lrs", self.base_lrs))
        self.last_epoch = int(state_dict["last_epoch"])
        self._step_count = self.last_epoch + 1
        self._compile()
        self._apply()

    # -- changing plans -----------------------------------------------------------

    def replan(self, total_steps: int) -> None:
        """Extend or shorten the run in progress to ``total_steps`` without a jump.

        The steps already run are unchanged; the remainder of every schedule keeps
        its shape and is stretched (or squeezed) to end at the new last step, so the
        value at the current step is exactly what it was.

        >>> import torch, onecycle as oc
        >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1, momentum=0.9)
        >>> s = oc.OneCycle(opt, max_lr=1.0, total_steps=100)
        >>> for _ in range(40): s.step()
        >>> before = s.get_last_lr()[0]; s.replan(total_steps=200)
        >>> s.get_last_lr()[0] == before, s.total_steps
        (True, 200)
        """
        new_T = _int_steps("total_steps", total_steps)
        if self.total_steps is None:
            raise ValueError("replan needs a scheduler created with total_steps")
        pivot = self.last_epoch
        if new_T - 1 < pivot:
            raise ValueError(
                f"total_steps must be >= {pivot + 1} (step {pivot} has already run), "
                f"got {total_steps!r}"
            )
        old_last = self.total_steps - 1
        warped: dict[int, TimeWarp] = {}  # keep schedules shared between groups shared

        def warp(f: ScheduleFn) -> TimeWarp:
            if id(f) not in warped:
                warped[id(f)] = TimeWarp(f, pivot, old_last, new_T - 1)
            return warped[id(f)]

        self._table = {name: [warp(f) for f in fns] for name, fns in self._table.items()}
        self.total_steps = new_T
        self._warned_end = False
        self._compile()
        self._apply()


class OneCycle(ParamScheduler):
    """The 1cycle policy with cyclical momentum, as a torch LR scheduler.

    Args:
        optimizer: any ``torch.optim`` optimizer (momentum or beta1 is cycled through
            :mod:`onecycle.hyper`; beta2 is never touched).
        max_lr: peak LR, or a list with one per param group (discriminative LRs).
        total_steps: number of optimizer steps; or give ``epochs`` and
            ``steps_per_epoch``.
        **options: every :class:`~onecycle.schedule.OneCycleSchedule` keyword:
            ``style``, ``div``, ``final_div``, ``pct_start``, ``annihilate``, ``anneal``,
            ``three_phase``, ``momentum=(high, low) | None``, ``on_end``.

    Call ``step()`` once per optimizer step. ``state_dict()`` resumes at any step;
    ``replan()`` changes the length of a run in progress.

    >>> import torch
    >>> opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))])
    >>> s = OneCycle(opt, max_lr=1e-2, epochs=2, steps_per_epoch=50, style="fastai")
    >>> s.total_steps, opt.param_groups[0]["betas"]
    (100, (0.95, 0.999))
    """

    def __init__(
        self,
        optimizer: Optimizer,
        max_lr: float | Sequence[float],
        total_steps: int | None = None,
        *,
        epochs: int | None = None,
        steps_per_epoch: int | None = None,
        style: str = "smith",
        div: float | None = None,
        final_div: float | None = None,
        pct_start: float | None = None,
        annihilate: float | None = None,
        anneal: str | None = None,
        three_phase: bool | None = None,
        momentum: Sequence[float] | None = _MISSING,
        on_end: str = "hold",
    ) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(
                f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}"
            )
        if total_steps is None:
            if epochs is None or steps_per_epoch is None:
                raise ValueError(
                    "give total_steps, or both epochs and steps_per_epoch "
                    f"(got total_steps=None, epochs={epochs!r}, steps_per_epoch={steps_per_epoch!r})"
                )
            total_steps = _int_steps("epochs", epochs) * _int_steps(
                "steps_per_epoch", steps_per_epoch
            )
        elif epochs is not None or steps_per_epoch is not None:
            if epochs is None or steps_per_epoch is None or epochs * steps_per_epoch != total_steps:
                raise ValueError(
                    f"total_steps={total_steps!r} contradicts epochs={epochs!r} x "
                    f"steps_per_epoch={steps_per_epoch!r}; give one or the other"
                )
        total_steps = _int_steps("total_steps", total_steps)
        n = len(optimizer.param_groups)
        if isinstance(max_lr, (list, tuple)):
            if len(max_lr) != n:
                raise ValueError(
                    f"max_lr has {len(max_lr)} values for {n} param groups; pass one value "
                    "or exactly one per param group"
                )
            max_lrs = [validate_hyper("lr", v, "max_lr") for v in max_lr]
        else:
            max_lrs = [validate_hyper("lr", max_lr, "max_lr")] * n
        opts: dict[str, Any] = dict(
            style=style, div=div, final_div=final_div, pct_start=pct_start,
            annihilate=annihilate, anneal=anneal, three_phase=three_phase, on_end=on_end,
        )
        if momentum is not _MISSING:
            opts["momentum"] = momentum
        by_lr: dict[float, OneCycleSchedule] = {}
        for m in max_lrs:
            if m not in by_lr:
                by_lr[m] = OneCycleSchedule(total_steps, m, **opts)
        self.schedules = [by_lr[m] for m in max_lrs]
        first = self.schedules[0]
        table: dict[str, list[Any]] = {"lr": [s.lr_schedule for s in self.schedules]}
        if first.momentum_spec is not None:
            if not adapter_for(optimizer).has("momentum"):
                raise ValueError(
                    f"optimizer {type(optimizer).__name__} has no momentum-like "
                    "hyper-parameter, so momentum cannot be cycled: pass momentum=None, or "
                    "register an adapter with onecycle.hyper.register_optimizer(cls, "
                    "momentum='key')"
                )
            table["momentum"] = [first.momentum_schedule] * n  # one shape for all groups
        self.max_lrs = max_lrs
        super().__init__(optimizer, table, total_steps=total_steps, on_end=on_end)

    @property
    def schedule(self) -> OneCycleSchedule:
        """The schedule of the first param group (all groups share its shape)."""
        return self.schedules[0]

    def state_dict(self) -> dict[str, Any]:
        sd = super().state_dict()
        sd["onecycle"] = [s.to_dict() for s in self.schedules]
        return sd

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        if "onecycle" in state_dict:
            self.schedules = [OneCycleSchedule.from_dict(d) for d in state_dict["onecycle"]]
        super().load_state_dict(state_dict)
