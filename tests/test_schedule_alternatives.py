"""The schedules 1cycle is compared with (warm-up + cosine, linear decay, WSD, constant):
their definitions, property tests for every piece of schedule maths, and driving a torch
optimizer through ParamScheduler with resume and plots."""

from __future__ import annotations

import copy
import io
import json
import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from onecycle.schedule import (
    ALTERNATIVES,
    CURVE_KINDS,
    Curve,
    NamedSchedule,
    constant_lr,
    join,
    linear_decay,
    schedule_from_dict,
    warmup_cosine,
    wsd,
)
from onecycle.scheduler import ParamScheduler

torch.set_num_threads(1)
PROPS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --------------------------------------------------------------------------- definitions


def test_warmup_cosine_is_nanogpts_schedule() -> None:
    """nanoGPT's get_lr with warmup_iters=W, lr_decay_iters=max_iters=T, min_lr=final."""
    T, W, peak, final = 200, 20, 6e-4, 6e-5

    def nanogpt(it: int) -> float:
        if it < W:
            return peak * (it + 1) / (W + 1)
        ratio = (it - W) / (T - W)
        return final + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (peak - final)

    s = warmup_cosine(T, peak, warmup=W / T, final_lr=final)
    assert s.preview()["lr"] == pytest.approx([nanogpt(i) for i in range(T)], rel=1e-12)
    assert s.lr_schedule(T) == final and s.lr(W) == peak


def test_linear_decay_is_budgeted_training() -> None:
    """Li et al.: lr_t = lr_0 (1 - t / T); zero only at t = T, after the last step."""
    s = linear_decay(8, 0.4)
    assert s.preview()["lr"] == pytest.approx([0.4 * (1 - t / 8) for t in range(8)])
    assert s.lr_schedule(8) == 0.0 and s.lr(7) > 0
    w = linear_decay(100, 1.0, warmup=0.1)
    assert w.lr(10) == 1.0 and w.lr(55) == pytest.approx(0.5)
    assert [p[0] for p in w.phases] == ["warm-up", "linear decay"]


@pytest.mark.parametrize("shape", ["linear", "1-sqrt"])
def test_wsd_warms_up_holds_then_decays_the_last_fifth(shape: str) -> None:
    T = 1000
    s = wsd(T, 0.01, shape=shape)
    lr = s.preview()["lr"]
    assert lr[50] == lr[799] == lr[800] == 0.01  # stable from the warm-up to 80 %
    assert np.all(np.diff(lr[:51]) > 0) and np.all(np.diff(lr[800:]) < 0)
    x = (np.arange(800, T) - 800) / 200
    expect = 0.01 * (1 - x) if shape == "linear" else 0.01 * (1 - np.sqrt(x))
    assert lr[800:] == pytest.approx(expect, rel=1e-12)
    assert [p[0] for p in s.phases] == ["warm-up", "stable", "decay"]


def test_constant_lr_with_and_without_warmup() -> None:
    assert constant_lr(5, 0.1).preview()["lr"].tolist() == [0.1] * 5
    s = constant_lr(10, 0.1, warmup=0.3)
    assert s.lr(0) == pytest.approx(0.1 / 4) and s.lr(3) == 0.1 and s.lr(9) == 0.1


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: warmup_cosine(100, 1.0, final_lr=2.0), "final_lr must be <= peak_lr"),
        (lambda: warmup_cosine(100, 0.0), "peak_lr must be a finite number > 0"),
        (lambda: warmup_cosine(100, 1.0, warmup=1.0), r"warmup must be in \[0, 1\)"),
        (lambda: wsd(100, 1.0, decay=0.0), r"decay must be in \(0, 1\]"),
        (lambda: wsd(100, 1.0, warmup=0.5, decay=0.6), "warmup \\+ decay must be <= 1"),
        (lambda: wsd(100, 1.0, shape="cos"), "shape must be one of 'linear', '1-sqrt'"),
        (lambda: linear_decay(0, 1.0), "total_steps must be an integer >= 1"),
        (lambda: constant_lr(10, "0.1"), "lr must be a real number"),
    ],
)
def test_bad_arguments_are_refused_by_name(call, message: str) -> None:
    with pytest.raises((ValueError, TypeError), match=message):
        call()


# --------------------------------------------------------------------------- properties


@st.composite
def alternatives(draw: st.DrawFn) -> NamedSchedule:
    kind = draw(st.sampled_from(sorted(ALTERNATIVES)))
    T = draw(st.integers(1, 2000))
    peak = draw(st.floats(1e-6, 10.0))
    warmup = draw(st.sampled_from([0.0, 0.01, 0.05, 0.3]) | st.floats(0.0, 0.9))
    if kind == "warmup_cosine":
        return warmup_cosine(T, peak, warmup=warmup, final_lr=draw(st.floats(0.0, 1.0)) * peak)
    if kind == "linear_decay":
        return linear_decay(T, peak, warmup=warmup)
    if kind == "wsd":
        decay = draw(st.floats(0.01, 1.0 - warmup)) if warmup < 0.99 else 0.01
        return wsd(T, peak, warmup=min(warmup, 1 - decay), decay=decay,
                   shape=draw(st.sampled_from(["linear", "1-sqrt"])))
    return constant_lr(T, peak, warmup=warmup)


@PROPS
@given(alternatives())
def test_property_bounds_and_endpoints(s: NamedSchedule) -> None:
    lr = s.preview()["lr"]
    peak = s.params.get("peak_lr", s.params.get("lr"))
    assert lr.shape == (s.total_steps,)
    assert np.all(np.isfinite(lr)) and np.all(lr > 0), "every step taken has an LR > 0"
    assert np.all(lr <= peak * (1 + 1e-12))
    end = s.lr_schedule(s.total_steps)
    assert end == s.params.get("final_lr", 0.0 if s.kind != "constant_lr" else peak)
    if s.params["warmup"] == 0:
        assert lr[0] == peak


@PROPS
@given(alternatives())
def test_property_each_phase_is_monotone(s: NamedSchedule) -> None:
    lr = s.preview()["lr"]
    for name, a, b in s.phases:
        seg = lr[int(math.ceil(a)): int(math.floor(b)) + 1]
        d = np.diff(seg)
        if name == "warm-up":
            assert np.all(d >= 0)
        elif name in ("stable", "constant"):
            assert np.all(d == 0)
        else:
            assert np.all(d <= 1e-15)


@PROPS
@given(alternatives())
def test_property_continuous_where_continuous(s: NamedSchedule) -> None:
    """No jump larger than the steepest curve allows, except the 1-sqrt cooldown, whose
    slope is unbounded at its start (its first step drops by peak * sqrt(1 / D))."""
    lr = s.preview()["lr"]
    if len(lr) < 3 or s.params.get("shape") == "1-sqrt":
        return
    knots = s.lr_schedule.knots
    if any(0 < b - a < 1 for a, b in zip(knots, knots[1:])):
        return  # a phase shorter than one step is a jump, asked for
    peak = s.params.get("peak_lr", s.params.get("lr"))
    bound = max(s.lr_schedule.max_slope, peak / (s.params["warmup"] * s.total_steps + 1))
    assert np.abs(np.diff(lr)).max() <= bound * (1 + 1e-9) + 1e-15


@PROPS
@given(alternatives())
def test_property_json_round_trip_is_identical(s: NamedSchedule) -> None:
    r = schedule_from_dict(json.loads(json.dumps(s.to_dict())))
    assert r == s and type(r) is NamedSchedule
    assert np.array_equal(r.preview()["lr"], s.preview()["lr"])


@st.composite
def curves(draw: st.DrawFn) -> Curve:
    kind = draw(st.sampled_from(CURVE_KINDS))
    a, b = draw(st.floats(1e-6, 10.0)), draw(st.floats(1e-6, 10.0))
    return Curve(kind, a, a if kind == "constant" else b)


@PROPS
@given(curves(), st.floats(0.0, 1.0))
def test_property_curves_stay_between_their_ends_and_hit_them(c: Curve, pct: float) -> None:
    lo, hi = sorted((c.start, c.end))
    tol = 1e-12 * hi  # torch's formulas are exact only up to the rounding of the larger end
    v = c(pct)
    assert lo - tol <= v <= hi + tol
    assert c(0.0) == pytest.approx(c.start, abs=tol)
    assert c(1.0) == pytest.approx(c.end, abs=tol)
    assert Curve.from_dict(json.loads(json.dumps(c.to_dict()))) == c


@PROPS
@given(st.lists(curves(), min_size=1, max_size=4), st.data())
def test_property_join_starts_each_curve_on_its_knot(cs: list[Curve], data: st.DataObject) -> None:
    """On an integer knot a join gives the next curve's start (optax / fastai), between
    knots each curve's own value, and the last curve's end from the last knot on."""
    lengths = data.draw(st.lists(st.integers(1, 20), min_size=len(cs), max_size=len(cs)))
    knots = [0]
    for n in lengths:
        knots.append(knots[-1] + n)
    s = join(cs, knots)
    for c, a, b in zip(cs, knots, knots[1:]):
        assert s(a) == c(0.0)
        for step in range(a, b):
            assert s(step) == c((step - a) / (b - a))
    assert s(knots[-1]) == s(knots[-1] + 5) == cs[-1](1.0)


# --------------------------------------------------------------------------- torch


def _sgd() -> torch.optim.SGD:
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=0.5, momentum=0.9)


def _through_disk(state: dict) -> dict:
    buf = io.BytesIO()
    torch.save(copy.deepcopy(state), buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


@pytest.mark.parametrize("make", [
    lambda T: warmup_cosine(T, 0.1), lambda T: linear_decay(T, 0.1, warmup=0.1),
    lambda T: wsd(T, 0.1, shape="1-sqrt"), lambda T: constant_lr(T, 0.1, warmup=0.05),
])
def test_alternatives_drive_param_scheduler_and_resume(make) -> None:
    T, k = 60, 23
    sched = make(T)
    opt = _sgd()
    ps = ParamScheduler(opt, {"lr": sched}, total_steps=T)
    seen = []
    for _ in range(T):
        seen.append(opt.param_groups[0]["lr"])
        opt.step()
        ps.step()  # the last one lands on step T: LR 0 for a decay to zero is allowed
    assert seen == [sched.lr(i) for i in range(T)]
    assert opt.param_groups[0]["momentum"] == 0.9  # momentum left alone
    opt1 = _sgd()
    ps1 = ParamScheduler(opt1, {"lr": sched}, total_steps=T)
    for _ in range(k):
        opt1.step()
        ps1.step()
    opt2 = _sgd()
    ps2 = ParamScheduler(opt2, {"lr": constant_lr(5, 1.0)}, total_steps=5)
    ps2.load_state_dict(_through_disk(ps1.state_dict()))
    assert type(ps2.get_schedule("lr")) is NamedSchedule
    for i in range(k, T):
        assert opt2.param_groups[0]["lr"] == seen[i]
        opt2.step()
        ps2.step()


def test_a_schedule_value_below_zero_is_refused_before_writing() -> None:
    opt = _sgd()
    with pytest.raises(ValueError, match=r"the 'lr' schedule gave -0\.1 at step 0 \(param group "
                                         r"0\); lr must be a finite number >= 0"):
        ParamScheduler(opt, {"lr": lambda step: -0.1})
    assert opt.param_groups[0]["lr"] == 0.5


@pytest.mark.parametrize("make", [lambda: wsd(300, 0.1), lambda: warmup_cosine(300, 0.1)])
def test_plot_schedule_draws_any_schedule_and_its_scheduler(make, tmp_path) -> None:
    import onecycle as oc

    s = make()
    fig = oc.plot_schedule(s)
    line = fig.axes[0].get_lines()[0]
    assert len(line.get_xdata()) == 300 and max(line.get_ydata()) == pytest.approx(0.1)
    assert len(fig.axes) == 1  # no momentum axis
    assert s.kind in fig.axes[0].get_title()
    ps = ParamScheduler(_sgd(), {"lr": s}, total_steps=300)
    fig2 = oc.plot_schedule(ps)
    assert fig2.axes[0].get_lines()[0].get_ydata().tolist() == s.preview()["lr"].tolist()
    assert fig2.axes[0].texts  # phases shaded and named
