"""Torch schedulers: a generic :class:`ParamScheduler` and :class:`OneCycle` on top of it.

A schedule is any callable ``step -> float``; ``ParamScheduler`` maps
``{hyper_name: schedule}`` onto an optimizer's param groups through the adapters of
:mod:`onecycle.hyper`, so learning rate, momentum (or beta1) and weight decay are one
mechanism. Scheduler state (the step and the schedules' JSON specs) lives in the
scheduler, never in the optimizer's param groups.

Misuse is reported as torch reports it, once per scheduler: ``scheduler.step()`` before
the first ``optimizer.step()``, an ``optimizer.step`` replaced after the scheduler was
made (the scheduler can then no longer tell), and calling ``get_lr()`` directly.

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

import functools
import json
import math
import warnings
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

from . import _validate
from .hyper import adapter_for
from .schedule import ON_END, STYLE_DEFAULT, OneCycleSchedule, TimeWarp, schedule_from_dict

__all__ = ["ParamScheduler", "OneCycle"]

ScheduleFn = Callable[[float], float]

# What a schedule may write, per hyper-parameter: [low, high) and the rule in words. A
# schedule may reach an LR of 0 (a decay "to zero" does at its end); a negative or
# non-finite value is refused before anything is written.
_RANGES: dict[str, tuple[float, float, str]] = {
    "lr": (0.0, math.inf, "a finite number >= 0"),
    "momentum": (0.0, 1.0, "in [0, 1)"),
    "weight_decay": (0.0, math.inf, "a finite number >= 0"),
}
_ANY = (-math.inf, math.inf, "a finite number")

# torch marks the optimizer.step it wraps with this attribute and records each call in
# optimizer._opt_called; using the same names, torch's schedulers and ours see each
# other's wrapper and neither wraps twice.
_MARK = "_wrapped_by_lr_sched"


def _watch_steps(optimizer: Optimizer) -> None:
    """Make ``optimizer.step()`` record that it ran, so the first ``scheduler.step()`` can
    tell whether it came after it. A weak reference keeps the optimizer collectable."""
    step = optimizer.step
    if getattr(step, _MARK, False):
        return
    ref = weakref.ref(optimizer)
    func = getattr(step, "__func__", None)
    if func is not None and getattr(step, "__self__", None) is optimizer:

        def counted(*args: Any, **kwargs: Any) -> Any:
            opt = ref()
            opt._opt_called = True  # type: ignore[union-attr]
            return func(opt, *args, **kwargs)

    else:  # already replaced by a plain callable: call that

        def counted(*args: Any, **kwargs: Any) -> Any:
            opt = ref()
            if opt is not None:
                opt._opt_called = True  # type: ignore[attr-defined]
            return step(*args, **kwargs)

    functools.update_wrapper(counted, func or step)
    setattr(counted, _MARK, True)
    optimizer.step = counted  # type: ignore[method-assign]


def _check_optimizer(optimizer: Any) -> None:
    if not isinstance(optimizer, Optimizer):
        raise TypeError(
            f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}"
        )


def _writer(adapter: Any, group: dict, name: str, oname: str) -> Callable[[float], None]:
    """A fast setter for one hyper-parameter of one param group."""
    key = adapter.key_for(name, oname)
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


def _schedule_table(
    optimizer: Optimizer, schedules: Any, adapter: Any
) -> dict[str, list[ScheduleFn]]:
    """``{name: one schedule per param group}``, every name checked against every group."""
    if not isinstance(schedules, Mapping) or not schedules:
        raise ValueError(
            f"schedules must be a non-empty mapping {{name: schedule}}, got {schedules!r}"
        )
    oname = type(optimizer).__name__
    n = len(optimizer.param_groups)
    table: dict[str, list[ScheduleFn]] = {}
    for name, sched in schedules.items():
        if not isinstance(name, str):
            raise TypeError(f"schedule names must be strings, got {name!r}")
        adapter.key_for(name, oname)  # a family without it: the standard error
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
        for g in optimizer.param_groups:  # every group must actually hold it
            adapter.get(g, name, oname)
        table[name] = fns
    return table


class ParamScheduler(LRScheduler):
    """Drive any hyper-parameters of an optimizer from step schedules.

    Args:
        optimizer: a ``torch.optim.Optimizer``.
        schedules: ``{name: schedule}`` where ``name`` is ``"lr"``, ``"momentum"`` (beta1
            for the Adam family), ``"weight_decay"`` or any other param-group key, and a
            schedule is a callable ``step -> float`` or a list of them, one per group
            (any schedule of :mod:`onecycle.schedule`: ``join(...)``, ``wsd(...)``, ...).
        total_steps: optional length; past it the values are held (``on_end="hold"``,
            warning once) or a ``ValueError`` is raised (``on_end="raise"``).
        last_epoch: torch's keyword: ``-1`` (default) starts at step 0; ``k >= 0``
            means ``k + 1`` steps have run (torch's meaning when resuming). Prefer
            ``load_state_dict``, which also restores the schedules.

    The values for the first step are applied on construction; each ``step()`` advances
    one step and applies its values (call it after ``optimizer.step()``). Values are
    checked before any is written: a schedule that gives a negative or non-finite LR
    leaves the optimizer as it was.

    >>> import torch
    >>> from onecycle.schedule import linear, join
    >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0, weight_decay=0.0)
    >>> ps = ParamScheduler(opt, {"weight_decay": join([linear(0.0, 1e-3)], [0, 10])})
    >>> opt.step(); ps.step(); round(opt.param_groups[0]["weight_decay"], 6)
    0.0001
    """

    def __init__(
        self,
        optimizer: Optimizer,
        schedules: Mapping[str, ScheduleFn | Sequence[ScheduleFn]],
        *,
        total_steps: int | None = None,
        on_end: str = "hold",
        last_epoch: int = -1,
    ) -> None:
        _check_optimizer(optimizer)
        self.on_end = _validate.choice("on_end", on_end, ON_END)
        start = _validate.integer("last_epoch", last_epoch, least=-1)
        self.optimizer = optimizer
        self._adapter = adapter_for(optimizer)
        self._oname = type(optimizer).__name__
        self._table = _schedule_table(optimizer, schedules, self._adapter)
        self.total_steps = (
            None if total_steps is None else _validate.integer("total_steps", total_steps, least=1)
        )
        self._warned_end = self._warned_get_lr = False
        # LRScheduler attributes that torch utilities and Lightning read
        self.base_lrs = [float(g["lr"]) for g in optimizer.param_groups]
        self.last_epoch = start + 1
        self._step_count = 1  # as torch after its initial step: the next step() is checked
        self._get_lr_called_within_step = False
        _watch_steps(optimizer)
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

    def _compile(self) -> None:
        """Per (hyper-parameter, group): the schedule, a writer and the allowed range.

        Done once, so ``step()`` is a few float ops and dict writes per group."""
        plan = []
        for name, fns in self._table.items():
            lo, hi, _ = _RANGES.get(name, _ANY)
            writers = [_writer(self._adapter, g, name, self._oname) for g in self.optimizer.param_groups]
            plan.append((name, list(zip(fns, writers)), lo, hi))
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

    def _refuse(self, name: str, value: Any, step: int, group: int) -> None:
        rule = _RANGES.get(name, _ANY)[2]
        raise ValueError(
            f"the {name!r} schedule gave {value!r} at step {step} (param group {group}); "
            f"{name} must be {rule}"
        )

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
        for name, pairs, lo, hi in self._plan:
            vals = []
            prev_f = prev_v = None
            for i, (f, _write) in enumerate(pairs):
                # groups sharing one schedule object evaluate it once
                v = prev_v if f is prev_f else f(step)
                if not lo <= v < hi:  # NaN fails every comparison, so it is caught here too
                    self._refuse(name, v, step, i)
                vals.append(v)
                prev_f, prev_v = f, v
            values[name] = vals
        # every value is valid: only now write them (a bad one leaves the optimizer alone)
        for name, pairs, *_ in self._plan:
            for (_f, write), v in zip(pairs, values[name]):
                write(v)
        self._last_values = values
        self._last_lr = values["lr"] if "lr" in values else [float(g["lr"]) for g in self.optimizer.param_groups]

    def _check_order(self) -> None:
        """torch's two checks on the first ``step()``, worded for this scheduler."""
        if not getattr(self.optimizer.step, _MARK, False):
            warnings.warn(
                f"{self._oname}.step was replaced after {type(self).__name__} was created, so "
                "the scheduler cannot check that optimizer.step() runs before "
                "scheduler.step(); make sure it does",
                UserWarning,
                stacklevel=3,
            )
        elif not getattr(self.optimizer, "_opt_called", False):
            warnings.warn(
                f"{type(self).__name__}.step() was called before optimizer.step(): call "
                "optimizer.step() first, or the schedule's first step is skipped (the "
                "first optimizer step runs with the second step's values)",
                UserWarning,
                stacklevel=3,
            )

    def step(self, epoch: int | None = None) -> None:  # type: ignore[override]
        """Advance one step (after ``optimizer.step()``) and apply the new values.

        >>> import torch
        >>> from onecycle.schedule import linear_decay
        >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
        >>> s = ParamScheduler(opt, {"lr": linear_decay(4, 1.0)})
        >>> opt.step(); s.step(); opt.param_groups[0]["lr"]
        0.75
        """
        if epoch is not None:
            raise TypeError("step() takes no epoch argument; schedules advance per step")
        if self._step_count == 1:
            self._check_order()
        self.last_epoch += 1
        self._step_count += 1
        self._apply()

    def get_lr(self) -> list[float]:  # type: ignore[override]
        """Learning rates for the current step (one per group); use :meth:`get_last_lr`
        (calling this directly warns once, as torch does)."""
        if not self._get_lr_called_within_step and not self._warned_get_lr:
            self._warned_get_lr = True
            warnings.warn(
                "To get the last learning rate computed by the scheduler, please use "
                "get_last_lr()",
                UserWarning,
                stacklevel=2,
            )
        return list(self._last_lr)

    def get_last_lr(self) -> list[float]:
        """Learning rates last applied (one float per param group, also for tensor LRs).

        >>> import torch
        >>> from onecycle.schedule import constant_lr
        >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
        >>> ParamScheduler(opt, {"lr": constant_lr(4, 0.5)}).get_last_lr()
        [0.5]
        """
        return list(self._last_lr)

    def current_values(self) -> dict[str, list[float]]:
        """Every scheduled hyper-parameter's current value per param group.

        >>> import torch
        >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0, momentum=0.9)
        >>> OneCycle(opt, 1.0, total_steps=10).current_values()
        {'lr': [0.1], 'momentum': [0.95]}
        """
        return {k: list(v) for k, v in self._last_values.items()}

    @property
    def step_index(self) -> int:
        """Index of the current step (0-based); the same as ``last_epoch``."""
        return self.last_epoch

    def get_schedule(self, name: str, group: int = 0) -> ScheduleFn:
        """The schedule that drives ``name`` in param group ``group``.

        >>> import torch
        >>> from onecycle.schedule import wsd
        >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
        >>> ParamScheduler(opt, {"lr": wsd(10, 0.1)}).get_schedule("lr").kind
        'wsd'
        """
        if name not in self._table:
            raise ValueError(f"no schedule for {name!r}; scheduled: {sorted(self._table)}")
        fns = self._table[name]
        return fns[_validate.integer("group", group, least=0, most=len(fns) - 1)]

    def preview(self, group: int = 0) -> dict[str, Any]:
        """Arrays of ``step`` and every scheduled value over ``total_steps`` (one group),
        without stepping: what :func:`~onecycle.plots.plot_schedule` draws.

        >>> import torch
        >>> from onecycle.schedule import linear_decay
        >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
        >>> ParamScheduler(opt, {"lr": linear_decay(4, 1.0)}, total_steps=4).preview()["lr"]
        array([1.  , 0.75, 0.5 , 0.25])
        """
        import numpy as np

        if self.total_steps is None:
            raise ValueError("preview needs a scheduler created with total_steps")
        steps = np.arange(self.total_steps)
        out: dict[str, Any] = {"step": steps}
        for name in self._table:
            f = self.get_schedule(name, group)
            out[name] = np.array([float(f(float(i))) for i in steps])
        return out

    # -- state ------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Step, length, and every schedule's JSON spec (schedules must have ``to_dict``).

        Only plain Python types, so it is safe under ``torch.load(weights_only=True)``.

        >>> import torch
        >>> from onecycle.schedule import wsd
        >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
        >>> ParamScheduler(opt, {"lr": wsd(10, 0.1)}).state_dict()["schedules"]["lr"][0]["type"]
        'wsd'
        """
        specs: dict[str, list[dict[str, Any] | None]] = {}
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

    def _read_state(self, state_dict: Any) -> dict[str, Any]:
        """Everything ``load_state_dict`` will set, checked whole before anything is."""
        if not isinstance(state_dict, Mapping) or "last_epoch" not in state_dict:
            raise ValueError("state_dict is not a onecycle scheduler state (no 'last_epoch')")
        specs = state_dict.get("schedules", {})
        if not isinstance(specs, Mapping) or set(specs) != set(self._table):
            raise ValueError(
                f"state_dict schedules {sorted(specs) if isinstance(specs, Mapping) else specs!r} "
                f"do not match this scheduler's {sorted(self._table)}"
            )
        table = {name: self._read_specs(name, specs[name]) for name in self._table}
        total = state_dict.get("total_steps", self.total_steps)
        base_lrs = state_dict.get("base_lrs", self.base_lrs)
        if not isinstance(base_lrs, (list, tuple)):
            raise TypeError(f"state_dict base_lrs must be a list, got {base_lrs!r}")
        return {
            "table": table,
            "total_steps": None if total is None else _validate.integer("total_steps", total, least=1),
            "on_end": _validate.choice("on_end", state_dict.get("on_end", self.on_end), ON_END),
            "base_lrs": [_validate.real("base_lrs entry", v) for v in base_lrs],
            "last_epoch": _validate.integer("last_epoch", state_dict["last_epoch"], least=0),
        }

    def _read_specs(self, name: str, lst: Any) -> list[ScheduleFn]:
        old = self._table[name]
        if not isinstance(lst, (list, tuple)) or len(lst) != len(old):
            raise ValueError(
                f"state_dict has {len(lst) if isinstance(lst, (list, tuple)) else lst!r} "
                f"{name!r} schedules for {len(old)} param groups"
            )
        built: dict[str, Any] = {}  # equal specs -> one shared object (evaluated once)
        fns = []
        for spec, f in zip(lst, old):
            if spec is None:  # a schedule without a JSON spec: keep the callable
                fns.append(f)
                continue
            key = json.dumps(spec, sort_keys=True)
            if key not in built:
                built[key] = schedule_from_dict(spec)
            fns.append(built[key])
        return fns

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore a run at any step: the next ``step()`` gives exactly the values an
        uninterrupted run would have given. Schedules without a JSON spec keep the
        callables this scheduler was built with. The state is checked whole first: a bad
        one raises and changes nothing.

        >>> import torch
        >>> from onecycle.schedule import linear_decay
        >>> make = lambda: torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
        >>> a = ParamScheduler(opt := make(), {"lr": linear_decay(10, 1.0)})
        >>> for _ in range(3): opt.step(); a.step()
        >>> b = ParamScheduler(make(), {"lr": linear_decay(99, 5.0)})
        >>> b.load_state_dict(a.state_dict()); b.get_last_lr() == a.get_last_lr()
        True
        """
        s = self._read_state(state_dict)
        self._table = s["table"]
        self.total_steps, self.on_end = s["total_steps"], s["on_end"]
        self.base_lrs, self.last_epoch = s["base_lrs"], s["last_epoch"]
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
        >>> for _ in range(40): opt.step(); s.step()
        >>> before = s.get_last_lr()[0]; s.replan(total_steps=200)
        >>> s.get_last_lr()[0] == before, s.total_steps
        (True, 200)
        """
        new_T = _validate.integer("total_steps", total_steps, least=1)
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


def _cycle_length(total_steps: Any, epochs: Any, steps_per_epoch: Any) -> int:
    """``total_steps``, or ``epochs * steps_per_epoch`` (never two contradicting lengths)."""
    if total_steps is None:
        if epochs is None or steps_per_epoch is None:
            raise ValueError(
                "give total_steps, or both epochs and steps_per_epoch "
                f"(got total_steps=None, epochs={epochs!r}, steps_per_epoch={steps_per_epoch!r})"
            )
        return _validate.integer("epochs", epochs, least=1) * _validate.integer(
            "steps_per_epoch", steps_per_epoch, least=1
        )
    if epochs is not None or steps_per_epoch is not None:
        if epochs is None or steps_per_epoch is None or epochs * steps_per_epoch != total_steps:
            raise ValueError(
                f"total_steps={total_steps!r} contradicts epochs={epochs!r} x "
                f"steps_per_epoch={steps_per_epoch!r}; give one or the other"
            )
    return _validate.integer("total_steps", total_steps, least=1)


def _per_group_lrs(max_lr: Any, n: int) -> list[float]:
    if isinstance(max_lr, (list, tuple)):
        if len(max_lr) != n:
            raise ValueError(
                f"max_lr has {len(max_lr)} values for {n} param groups; pass one value "
                "or exactly one per param group"
            )
        return [_validate.positive(f"max_lr[{i}]", v) for i, v in enumerate(max_lr)]
    return [_validate.positive("max_lr", max_lr)] * n


def _per_group_momenta(momentum: Any, n: int) -> list[Any]:
    """One momentum option per group: the same for all, or one ``(high, low)`` cycle per
    group (torch's ``base_momentum=[...]``, ``max_momentum=[...]``)."""
    nested = (
        isinstance(momentum, (list, tuple)) and len(momentum) > 0
        and all(isinstance(m, (list, tuple)) for m in momentum)
    )
    if not nested:
        return [momentum] * n
    if len(momentum) != n:
        raise ValueError(
            f"momentum has {len(momentum)} cycles for {n} param groups; pass one (high, low) "
            "cycle or exactly one per param group"
        )
    return [tuple(m) for m in momentum]


class OneCycle(ParamScheduler):
    """The 1cycle policy with cyclical momentum, as a torch LR scheduler.

    Args:
        optimizer: any ``torch.optim`` optimizer (momentum or beta1 is cycled through
            :mod:`onecycle.hyper`; beta2 is never touched).
        max_lr: peak LR, or a list with one per param group (discriminative LRs).
        total_steps: number of optimizer steps; or give ``epochs`` and
            ``steps_per_epoch``.
        momentum: ``(high, low)`` (or ``(start, low, end)``) for every group, a list
            with one such cycle per param group, or ``None`` to leave momentum alone.
        last_epoch: torch's keyword and meaning (see :class:`ParamScheduler`).
        **options: the other :class:`~onecycle.schedule.OneCycleSchedule` keywords
            (``None`` means the style's default): ``style``, ``div``, ``final_div``,
            ``pct_start``, ``annihilate``, ``anneal``, ``three_phase``, ``on_end``;
            anything else is a ``TypeError`` naming it.

    Call ``step()`` once per optimizer step. ``state_dict()`` resumes at any step;
    ``replan()`` changes the length of a run in progress. ``base_lrs`` are the initial
    LRs of the cycle (``max_lr / div`` per group), as in torch's ``OneCycleLR``.

    ``style="torch"`` gives ``OneCycleLR``'s values bit for bit for steps
    ``0 .. T-1`` and differs on purpose in this (the table is in docs/schedules.md):
    after the ``T``-th ``step()`` it holds the final value where torch extrapolates
    (a negative LR for linear annealing at ``T=10``); tiny cycles that make torch
    divide by zero are finite; nothing is written into the param groups (torch adds
    ``initial_lr``, ``max_lr``, ...); per-group momentum is
    ``momentum=[(high, low), ...]`` (torch: ``base_momentum=[...]``,
    ``max_momentum=[...]``); ``get_last_lr()`` returns floats even for tensor LRs.

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
        momentum: Sequence[float] | Sequence[Sequence[float]] | None = STYLE_DEFAULT,
        last_epoch: int = -1,
        **options: Any,
    ) -> None:
        _check_optimizer(optimizer)
        total_steps = _cycle_length(total_steps, epochs, steps_per_epoch)
        n = len(optimizer.param_groups)
        max_lrs = _per_group_lrs(max_lr, n)
        opts = {k: v for k, v in options.items() if v is not None}
        OneCycleSchedule.check_options(**opts)  # unknown or bad options: before anything
        built: dict[tuple[float, Any], OneCycleSchedule] = {}
        for m, mom in zip(max_lrs, _per_group_momenta(momentum, n)):
            if (m, mom) not in built:
                built[(m, mom)] = OneCycleSchedule(total_steps, m, momentum=mom, **opts)
        self.schedules = [built[k] for k in zip(max_lrs, _per_group_momenta(momentum, n))]
        table: dict[str, list[Any]] = {"lr": [s.lr_schedule for s in self.schedules]}
        if self.schedules[0].momentum_spec is not None:
            adapter_for(optimizer).key_for("momentum", type(optimizer).__name__)
            shared: dict[Any, Any] = {}  # one momentum curve per distinct cycle
            for s in self.schedules:
                shared.setdefault(s.momentum_spec, s.momentum_schedule)
            table["momentum"] = [shared[s.momentum_spec] for s in self.schedules]
        self.max_lrs = max_lrs
        super().__init__(optimizer, table, total_steps=total_steps,
                         on_end=opts.get("on_end", "hold"), last_epoch=last_epoch)
        self.base_lrs = [s.initial_lr for s in self.schedules]

    @property
    def schedule(self) -> OneCycleSchedule:
        """The schedule of the first param group (all groups share its shape).

        >>> import torch
        >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0, momentum=0.9)
        >>> OneCycle(opt, 0.5, total_steps=10, style="torch").schedule.div
        25.0
        """
        return self.schedules[0]

    def state_dict(self) -> dict[str, Any]:
        """:meth:`ParamScheduler.state_dict` plus each group's 1cycle spec."""
        sd = super().state_dict()
        sd["onecycle"] = [s.to_dict() for s in self.schedules]
        return sd

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """:meth:`ParamScheduler.load_state_dict`; the 1cycle specs are checked first."""
        schedules = self.schedules
        if isinstance(state_dict, Mapping) and "onecycle" in state_dict:
            specs = state_dict["onecycle"]
            if not isinstance(specs, list) or len(specs) != len(self.optimizer.param_groups):
                raise ValueError(
                    f"state_dict 'onecycle' must be a list of one spec per param group, got {specs!r}"
                )
            schedules = [OneCycleSchedule.from_dict(d) for d in specs]
        super().load_state_dict(state_dict)
        self.schedules = schedules
