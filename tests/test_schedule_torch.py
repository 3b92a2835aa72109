"""OneCycle / ParamScheduler as torch schedulers: torch's misuse warnings, ``last_epoch``,
per-group momentum, and the documented differences from ``OneCycleLR``."""

from __future__ import annotations

import gc
import warnings
import weakref

import pytest
import torch

from onecycle.schedule import OneCycleSchedule, join, linear
from onecycle.scheduler import OneCycle, ParamScheduler


def _sgd(groups: int = 1) -> torch.optim.SGD:
    return torch.optim.SGD([{"params": [torch.nn.Parameter(torch.zeros(2))]}
                            for _ in range(groups)], lr=0.1, momentum=0.9)


def _user_warnings(fn) -> list[str]:
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        fn()
    return [str(x.message) for x in w if issubclass(x.category, UserWarning)]


# --------------------------------------------------------------------------- misuse


def test_scheduler_step_before_optimizer_step_warns_once() -> None:
    opt = _sgd()
    s = OneCycle(opt, 0.5, total_steps=10)

    def wrong_order() -> None:
        for _ in range(3):
            s.step()
            opt.step()

    msgs = _user_warnings(wrong_order)
    assert len(msgs) == 1 and "OneCycle.step() was called before optimizer.step()" in msgs[0]


def test_the_right_order_is_silent() -> None:
    opt = _sgd()
    s = OneCycle(opt, 0.5, total_steps=10)

    def right_order() -> None:
        for _ in range(5):
            opt.step()
            s.step()

    assert _user_warnings(right_order) == []


def test_an_overridden_optimizer_step_warns_once() -> None:
    opt = _sgd()
    s = ParamScheduler(opt, {"lr": join([linear(0.1, 0.01)], [0, 10])}, total_steps=10)
    opt.step = lambda closure=None: None  # replaced after the scheduler wrapped it

    def loop() -> None:
        for _ in range(3):
            opt.step()
            s.step()

    msgs = _user_warnings(loop)
    assert len(msgs) == 1 and "SGD.step was replaced after ParamScheduler was created" in msgs[0]


def test_calling_get_lr_directly_warns_once() -> None:
    s = OneCycle(_sgd(), 0.5, total_steps=10)

    def twice() -> None:
        assert s.get_lr() == s.get_last_lr()
        s.get_lr()

    msgs = _user_warnings(twice)
    assert len(msgs) == 1 and "get_last_lr()" in msgs[0]
    assert _user_warnings(s.get_last_lr) == []


def test_torch_schedulers_and_ours_share_one_step_wrapper() -> None:
    """A torch scheduler made first wraps optimizer.step; ours must see it (no warning,
    no second wrapper), and the other way round."""
    opt = _sgd()
    torch.optim.lr_scheduler.LambdaLR(opt, lambda e: 1.0)
    wrapped = opt.step
    s = OneCycle(opt, 0.5, total_steps=10)
    assert opt.step is wrapped

    def loop() -> None:
        opt.step()
        s.step()

    assert _user_warnings(loop) == []
    opt2 = _sgd()
    OneCycle(opt2, 0.5, total_steps=10)
    ours = opt2.step
    ref = torch.optim.lr_scheduler.LambdaLR(opt2, lambda e: 1.0)
    assert opt2.step is ours

    def torch_loop() -> None:
        opt2.step()
        ref.step()

    assert _user_warnings(torch_loop) == []


def test_the_step_wrapper_keeps_the_optimizer_collectable_and_copyable() -> None:
    import copy

    opt = _sgd()
    OneCycle(opt, 0.5, total_steps=10)
    twin = copy.deepcopy(opt)  # torch's Optimizer pickles without the wrapper
    twin.step()
    assert twin.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
    ref = weakref.ref(opt)
    del opt, twin
    gc.collect()
    assert ref() is None


def test_a_resumed_scheduler_does_not_warn_about_order() -> None:
    opt = _sgd()
    s = OneCycle(opt, 0.5, total_steps=20)
    for _ in range(5):
        opt.step()
        s.step()
    state = s.state_dict()
    opt2 = _sgd()
    s2 = OneCycle(opt2, 0.5, total_steps=20)
    s2.load_state_dict(state)
    assert _user_warnings(s2.step) == []


# --------------------------------------------------------------------------- last_epoch


def test_last_epoch_has_torchs_meaning() -> None:
    """torch: last_epoch=k resumes with k + 1 steps done (OneCycleLR needs initial_lr in the
    groups for it; ours needs nothing, the schedule is absolute)."""
    ref = OneCycleSchedule(50, 0.5)
    for k in (-1, 0, 7, 48):
        opt = _sgd()
        s = OneCycle(opt, 0.5, total_steps=50, last_epoch=k)
        assert s.last_epoch == k + 1
        assert opt.param_groups[0]["lr"] == ref.lr(k + 1)
        assert opt.param_groups[0]["momentum"] == ref.momentum(k + 1)
    opt = _sgd()
    ps = ParamScheduler(opt, {"lr": join([linear(1.0, 0.0)], [0, 10])}, total_steps=10,
                        last_epoch=3)
    assert ps.last_epoch == 4 and opt.param_groups[0]["lr"] == pytest.approx(0.6)


@pytest.mark.parametrize("bad, exc", [(-2, ValueError), (1.5, TypeError), ("3", TypeError)])
def test_bad_last_epoch_is_refused_by_name(bad: object, exc: type) -> None:
    with pytest.raises(exc, match="last_epoch must be an integer >= -1"):
        OneCycle(_sgd(), 0.5, total_steps=10, last_epoch=bad)


def test_last_epoch_past_the_end_follows_on_end() -> None:
    with pytest.raises(ValueError, match="total steps is 10"):
        OneCycle(_sgd(), 0.5, total_steps=10, last_epoch=20, on_end="raise")


# --------------------------------------------------------------------------- momentum


def test_per_group_momentum_cycles_like_torchs_momentum_lists() -> None:
    """torch: base_momentum=[...], max_momentum=[...]; ours: one (high, low) per group."""
    T = 40
    o1, o2 = _sgd(2), _sgd(2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = torch.optim.lr_scheduler.OneCycleLR(
            o1, max_lr=[0.8, 0.4], total_steps=T, max_momentum=[0.95, 0.9],
            base_momentum=[0.85, 0.7])
    ours = OneCycle(o2, [0.8, 0.4], total_steps=T, style="torch",
                    momentum=[(0.95, 0.85), (0.9, 0.7)])
    for _ in range(T):
        for g1, g2 in zip(o1.param_groups, o2.param_groups):
            assert g1["lr"] == g2["lr"] and g1["momentum"] == g2["momentum"]
        o1.step()
        o2.step()
        ref.step()
        ours.step()
    state = ours.state_dict()
    fresh = OneCycle(_sgd(2), [1.0, 1.0], total_steps=T, style="torch")
    fresh.load_state_dict(state)
    assert [s.momentum_spec for s in fresh.schedules] == [(0.95, 0.85), (0.9, 0.7)]


def test_per_group_momentum_list_must_match_the_groups() -> None:
    with pytest.raises(ValueError, match="momentum has 1 cycles for 2 param groups"):
        OneCycle(_sgd(2), 0.5, total_steps=10, momentum=[(0.95, 0.85)])
    with pytest.raises(ValueError, match="momentum"):
        OneCycle(_sgd(2), 0.5, total_steps=10, momentum=[(0.95, 0.85), (0.8, 0.9)])


def test_groups_with_one_cycle_share_one_momentum_curve() -> None:
    s = OneCycle(_sgd(3), [0.1, 0.2, 0.3], total_steps=10)
    a, b, c = (s.get_schedule("momentum", g) for g in range(3))
    assert a is b is c


# --------------------------------------------------------------------------- torch differences


def test_after_the_last_step_we_hold_where_torch_extrapolates() -> None:
    """docs/schedules.md: torch's OneCycleLR at step T continues its last phase past the
    end (a negative LR for linear annealing at T=10); ours holds the final value."""
    T = 10
    opt_t, opt_o = _sgd(), _sgd()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = torch.optim.lr_scheduler.OneCycleLR(opt_t, max_lr=0.8, total_steps=T,
                                                  anneal_strategy="linear")
        ours = OneCycle(opt_o, 0.8, total_steps=T, style="torch", anneal="linear")
        for _ in range(T):
            opt_t.step()
            opt_o.step()
            ref.step()
            ours.step()
    assert ref.get_last_lr()[0] < 0
    assert ours.get_last_lr()[0] == ours.schedule.lr(T - 1) == pytest.approx(3.2e-6)


def test_base_lrs_are_the_initial_lrs_as_in_torch() -> None:
    o1, o2 = _sgd(2), _sgd(2)
    ref = torch.optim.lr_scheduler.OneCycleLR(o1, max_lr=[0.8, 0.4], total_steps=10)
    ours = OneCycle(o2, [0.8, 0.4], total_steps=10, style="torch")
    assert ours.base_lrs == pytest.approx(ref.base_lrs)
    # no scheduler state in the param groups (torch adds initial_lr, max_lr, min_lr, ...)
    assert set(o2.param_groups[0]) == set(_sgd().param_groups[0])


def test_get_last_lr_gives_floats_for_tensor_lrs() -> None:
    opt = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=torch.tensor(0.01))
    s = OneCycle(opt, 0.5, total_steps=10)
    opt.step()
    s.step()
    assert all(type(v) is float for v in s.get_last_lr())
    assert torch.is_tensor(opt.param_groups[0]["lr"])
