"""Pure schedule maths: the three styles against their definitions, plus properties."""

from __future__ import annotations

import json
import math
import sys
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from onecycle.schedule import (
    OneCycleSchedule,
    Piecewise,
    TimeWarp,
    cosine,
    exponential,
    join,
    linear,
    schedule_from_dict,
)

# --------------------------------------------------------------------------- curves


def test_curves_endpoints_and_midpoints():
    assert linear(2.0, 4.0)(0.0) == 2.0
    assert linear(2.0, 4.0)(1.0) == 4.0
    assert linear(2.0, 4.0)(0.5) == 3.0
    assert cosine(1.0, 0.0)(0.5) == pytest.approx(0.5)
    assert cosine(1.0, 0.0)(0.25) == pytest.approx((1 + math.cos(math.pi / 4)) / 2)
    assert exponential(1e-3, 1e1)(0.5) == pytest.approx(1e-1)
    with pytest.raises(ValueError, match="exponential"):
        exponential(0.0, 1.0)


def test_join_phase_selection_and_hold():
    s = join([linear(0.0, 1.0), cosine(1.0, 0.0)], [0, 10, 30])
    assert s(0) == 0.0
    assert s(10) == 1.0
    assert s(20) == pytest.approx(0.5)
    assert s(30) == 0.0
    assert s(1000) == 0.0  # held past the end
    with pytest.raises(ValueError, match="knots"):
        join([linear(0, 1)], [0, 5, 10])
    with pytest.raises(ValueError, match="non-decreasing"):
        join([linear(0, 1), linear(1, 0)], [0, 10, 5])


def test_piecewise_json_round_trip():
    s = join([linear(0.0, 1.0), exponential(1.0, 1e-3)], [0, 7.5, 30])
    r = Piecewise.from_dict(json.loads(json.dumps(s.to_dict())))
    assert all(r(i) == s(i) for i in range(40))


# --------------------------------------------------------------------------- smith


def test_smith_definition_defaults():
    T, mx = 1000, 0.8
    s = OneCycleSchedule(T, mx)
    assert s.style == "smith" and s.div == 10 and s.final_div == 1000
    assert s.annihilate == pytest.approx(0.1) and s.pct_start == pytest.approx(0.45)
    lr = s.preview()["lr"]
    mom = s.preview()["momentum"]
    # endpoints and peak
    assert lr[0] == pytest.approx(mx / 10)
    assert lr[450] == pytest.approx(mx)
    assert lr.argmax() == 450
    assert lr[900] == pytest.approx(mx / 10)
    assert lr[T - 1] == pytest.approx(mx / 1000)
    # linear pieces: constant first differences inside each phase
    d_up = np.diff(lr[:451])
    d_down = np.diff(lr[450:901])
    d_ann = np.diff(lr[900:])
    assert np.allclose(d_up, d_up[0]) and d_up[0] > 0
    assert np.allclose(d_down, d_down[0]) and d_down[0] < 0
    assert np.allclose(d_ann, d_ann[0]) and d_ann[0] < 0
    # two equal halves of the cycle
    assert d_up[0] == pytest.approx(-d_down[0])
    # momentum: inverse of the LR during the cycle, held high during annihilation
    assert mom[0] == pytest.approx(0.95) and mom[450] == pytest.approx(0.85)
    assert mom[900] == pytest.approx(0.95)
    assert np.all(mom[900:] == 0.95)
    assert np.all(np.diff(mom[:451]) < 0) and np.all(np.diff(mom[450:901]) > 0)
    assert np.corrcoef(lr[:900], mom[:900])[0, 1] < -0.999


def test_smith_asymmetric_cycle_and_options():
    s = OneCycleSchedule(1000, 1.0, pct_start=0.3, annihilate=0.2, div=20, final_div=1e4)
    lr = s.preview()["lr"]
    assert lr.argmax() == 300
    assert lr[800] == pytest.approx(1.0 / 20)
    assert lr[-1] == pytest.approx(1e-4)
    # the descent is longer than the ascent, so it is less steep
    assert abs(lr[301] - lr[300]) < abs(lr[1] - lr[0])
    two = OneCycleSchedule(100, 1.0, three_phase=False)
    assert two.annihilate == 0 and len(two.phases) == 2
    assert two.lr(99) == pytest.approx(1e-3)
    assert OneCycleSchedule(100, 1.0, momentum=None).momentum(5) is None
    assert "momentum" not in OneCycleSchedule(100, 1.0, momentum=None).values(3)


def test_clr_beta_shorthand_maps_to_smith():
    s = OneCycleSchedule.from_clr_beta(1000, 1.0, (10, 13.68, 0.95, 0.85))
    assert s.style == "smith"
    assert s.annihilate == pytest.approx(0.1368)
    assert s.lr(999) == pytest.approx(1.0 / 1000)
    assert s.momentum(0) == 0.95
    with pytest.raises(ValueError, match="clr_beta"):
        OneCycleSchedule.from_clr_beta(100, 1.0, (10,))


# --------------------------------------------------------------------------- fastai


def _fastai_reference(T, lr_max, div=25.0, div_final=1e5, pct=0.25, moms=(0.95, 0.85, 0.95)):
    """fastai v2 fit_one_cycle written out from its definition (combined_cos)."""

    def sched_cos(start, end, pos):
        return start + (1 + math.cos(math.pi * (1 - pos))) * (end - start) / 2

    def combined(pos, start, middle, end):
        if pos < pct:
            return sched_cos(start, middle, pos / pct)
        return sched_cos(middle, end, (pos - pct) / (1 - pct))

    lrs = [combined(i / T, lr_max / div, lr_max, lr_max / div_final) for i in range(T)]
    ms = [combined(i / T, *moms) for i in range(T)]
    return np.array(lrs), np.array(ms)


@pytest.mark.parametrize("T", [1, 2, 3, 7, 100, 1001])
def test_fastai_style_matches_formula(T):
    s = OneCycleSchedule(T, 3e-3, style="fastai")
    ref_lr, ref_m = _fastai_reference(T, 3e-3)
    p = s.preview()
    assert np.max(np.abs(p["lr"] - ref_lr)) <= 1e-12
    assert np.max(np.abs(p["momentum"] - ref_m)) <= 1e-12


# --------------------------------------------------------------------------- torch parity


def _torch_sequence(T, opt_name="sgd", **kw):
    torch = pytest.importorskip("torch")
    p = torch.nn.Parameter(torch.zeros(1))
    if opt_name == "sgd":
        opt = torch.optim.SGD([p], lr=0.1, momentum=0.9)
        key = "momentum"
    else:
        opt = torch.optim.Adam([p], lr=0.1)
        key = "betas"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sch = torch.optim.lr_scheduler.OneCycleLR(opt, total_steps=T, **kw)
        lrs, ms = [], []
        for i in range(T):
            g = opt.param_groups[0]
            lrs.append(g["lr"])
            ms.append(g[key] if key == "momentum" else g[key][0])
            opt.step()
            if i < T - 1:
                sch.step()
    return np.array(lrs), np.array(ms)


TORCH_CONFIGS = [
    {},
    {"three_phase": True},
    {"anneal_strategy": "linear"},
    {"anneal_strategy": "linear", "three_phase": True},
    {"pct_start": 0.1, "div_factor": 10.0, "final_div_factor": 100.0},
    {"base_momentum": 0.8, "max_momentum": 0.99, "pct_start": 0.45},
]


def _ours_torch(T, max_lr, kw):
    return OneCycleSchedule(
        T,
        max_lr,
        style="torch",
        three_phase=kw.get("three_phase"),
        anneal=kw.get("anneal_strategy"),
        pct_start=kw.get("pct_start"),
        div=kw.get("div_factor"),
        final_div=kw.get("final_div_factor"),
        momentum=(kw.get("max_momentum", 0.95), kw.get("base_momentum", 0.85)),
    )


@pytest.mark.parametrize("kw", TORCH_CONFIGS)
@pytest.mark.parametrize("opt_name", ["sgd", "adam"])
@pytest.mark.parametrize("T", [1, 2, 3, 4, 11, 100, 997])
def test_torch_style_matches_onecyclelr_step_for_step(kw, opt_name, T):
    try:
        ref_lr, ref_m = _torch_sequence(T, opt_name, max_lr=0.8, **kw)
    except ZeroDivisionError:
        pytest.skip("torch itself divides by zero for this tiny cycle")
    p = _ours_torch(T, 0.8, kw).preview()
    assert np.max(np.abs(p["lr"] - ref_lr)) <= 1e-12
    assert np.max(np.abs(p["momentum"] - ref_m)) <= 1e-12


def test_torch_style_survives_torch_zero_division():
    # T=10, pct_start=0.1, three_phase: torch divides by zero at step 0; we do not.
    s = OneCycleSchedule(10, 1.0, style="torch", pct_start=0.1, three_phase=True)
    vals = s.preview()["lr"]
    assert np.all(np.isfinite(vals))


# --------------------------------------------------------------------------- ends


def test_past_end_holds_with_one_warning_or_raises():
    s = OneCycleSchedule(10, 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert s.lr(10) == s.lr(9)  # where a loop lands after its last step: silent
    with pytest.warns(RuntimeWarning, match="past the end"):
        assert s.lr(11) == s.lr(9)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert s.lr(50) == s.lr(9)  # warned once only
    r = OneCycleSchedule(10, 1.0, on_end="raise")
    with pytest.raises(ValueError, match="total steps"):
        r.lr(11)
    with pytest.raises(ValueError, match="step"):
        s.lr(-1)


@pytest.mark.parametrize("style", ["smith", "fastai", "torch"])
@pytest.mark.parametrize("T", [1, 2, 3])
def test_tiny_step_counts_are_finite(style, T):
    s = OneCycleSchedule(T, 0.5, style=style)
    p = s.preview()
    assert p["lr"].shape == (T,)
    assert np.all(np.isfinite(p["lr"])) and np.all(np.isfinite(p["momentum"]))
    assert np.all(p["lr"] > 0)


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"max_lr": -1.0}, "max_lr"),
        ({"max_lr": 0.0}, "max_lr"),
        ({"max_lr": float("nan")}, "max_lr"),
        ({"max_lr": float("inf")}, "max_lr"),
        ({"total_steps": 0}, "total_steps"),
        ({"total_steps": -5}, "total_steps"),
        ({"pct_start": 0.0}, "pct_start"),
        ({"pct_start": 1.0}, "pct_start"),
        ({"pct_start": 1.5}, "pct_start"),
        ({"pct_start": 0.95}, "pct_start"),  # beyond 1 - annihilate (smith)
        ({"div": 0.0}, "div"),
        ({"div": -2.0}, "div"),
        ({"final_div": 0.0}, "final_div"),
        ({"style": "keras"}, "style"),
        ({"momentum": (1.0, 0.85)}, "momentum"),
        ({"momentum": (0.95, -0.1)}, "momentum"),
        ({"momentum": (0.9,)}, "momentum"),
        ({"anneal": "exp"}, "anneal"),
        ({"annihilate": 1.0}, "annihilate"),
        ({"on_end": "wrap"}, "on_end"),
        ({"style": "torch", "annihilate": 0.1}, "annihilate"),
        ({"style": "torch", "three_phase": True, "pct_start": 0.6}, "pct_start"),
    ],
)
def test_bad_input_names_the_argument(kwargs, match):
    args = {"total_steps": 100, "max_lr": 0.5}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        OneCycleSchedule(args.pop("total_steps"), args.pop("max_lr"), **args)


def test_type_errors():
    with pytest.raises(TypeError, match="total_steps"):
        OneCycleSchedule(10.5, 1.0)
    with pytest.raises(TypeError, match="max_lr"):
        OneCycleSchedule(10, "big")
    with pytest.raises(TypeError, match="three_phase"):
        OneCycleSchedule(10, 1.0, three_phase="yes")


def test_schedule_module_does_not_import_torch():
    import subprocess

    code = (
        "import sys, onecycle; s = onecycle.OneCycleSchedule(10, 1.0); s.lr(3); s.preview();"
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --------------------------------------------------------------------------- properties

styles = st.sampled_from(["smith", "fastai", "torch"])
total_steps = st.integers(min_value=1, max_value=3000)
max_lrs = st.floats(min_value=1e-6, max_value=100.0, allow_nan=False)


@st.composite
def schedules(draw):
    style = draw(styles)
    T = draw(total_steps)
    kw = {
        "style": style,
        "div": draw(st.floats(1.0, 100.0)),
        "final_div": draw(st.floats(1.0, 1e5)),
        "anneal": draw(st.sampled_from(["linear", "cos"])),
    }
    hi = draw(st.floats(0.5, 0.999))
    lo = draw(st.floats(0.0, hi))
    kw["momentum"] = (hi, lo)
    if style == "smith":
        a = draw(st.floats(0.0, 0.5))
        kw["annihilate"] = a
        kw["three_phase"] = a > 0
        kw["pct_start"] = draw(st.floats(0.01, 0.99)) * (1 - a)
    else:
        three = draw(st.booleans())
        kw["three_phase"] = three
        kw["pct_start"] = draw(st.floats(0.01, 0.49 if three else 0.99))
    return OneCycleSchedule(T, draw(max_lrs), **kw)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schedules())
def test_property_values_within_bounds(s):
    p = s.preview()
    lr, mom = p["lr"], p["momentum"]
    lo = min(s.initial_lr, s.final_lr)
    assert np.all(np.isfinite(lr))
    assert np.all(lr >= lo * (1 - 1e-9))
    assert np.all(lr <= s.max_lr * (1 + 1e-9))
    m_lo, m_hi = min(s.momentum_spec), max(s.momentum_spec)
    assert np.all(mom >= m_lo - 1e-12) and np.all(mom <= m_hi + 1e-12)


@settings(max_examples=150, deadline=None)
@given(schedules())
def test_property_continuity_bounded_by_steepest_slope(s):
    lr = s.preview()["lr"]
    if len(lr) < 2:
        return
    bound = s.lr_schedule.max_slope
    ks = s.lr_schedule.knots
    jumps = np.abs(np.diff(lr))
    if all(b - a >= 1.0 for a, b in zip(ks, ks[1:])):
        assert jumps.max() <= bound * (1 + 1e-9) + 1e-12
    else:
        # a phase shorter than one step (asked for by pct_start/annihilate) is a jump,
        # but never more than the whole range of the schedule
        assert jumps.max() <= (s.max_lr - min(s.initial_lr, s.final_lr)) * (1 + 1e-9)


@settings(max_examples=100, deadline=None)
@given(schedules())
def test_property_json_round_trip_identical(s):
    r = OneCycleSchedule.from_dict(json.loads(json.dumps(s.to_dict())))
    assert r == s
    a, b = s.preview(), r.preview()
    assert np.array_equal(a["lr"], b["lr"]) and np.array_equal(a["momentum"], b["momentum"])
    assert schedule_from_dict(s.to_dict()).lr(0) == s.lr(0)


@settings(max_examples=100, deadline=None)
@given(schedules())
def test_property_phases_monotone(s):
    """Within each phase the LR moves in one direction only."""
    lr = s.preview()["lr"]
    for _name, a, b in s.phases:
        lo, hi = int(math.ceil(a)), int(math.floor(b))
        seg = lr[lo : hi + 1]
        if len(seg) > 2:
            d = np.diff(seg)
            assert np.all(d >= -1e-12) or np.all(d <= 1e-12)


@settings(max_examples=100, deadline=None)
@given(schedules(), st.integers(0, 10_000), st.integers(2, 4000))
def test_property_timewarp_has_no_jump(s, pivot_raw, new_T):
    T = s.total_steps
    pivot = pivot_raw % T
    if new_T - 1 <= pivot:
        new_T = pivot + 2
    w = TimeWarp(s.lr_schedule, pivot, T - 1, new_T - 1)
    assert w(pivot) == s.lr_schedule(pivot)
    if T - 1 > pivot:
        assert w(new_T - 1) == pytest.approx(s.lr_schedule(T - 1), rel=1e-9)
    assert TimeWarp.from_dict(json.loads(json.dumps(w.to_dict())))(pivot) == w(pivot)
