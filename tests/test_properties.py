"""Property tests (hypothesis) that complement test_schedule.py, test_scheduler.py and
test_suggest.py: ParamScheduler on arbitrary piecewise schedules, resume after a
``replan``, OneCycle with random per-group max_lr lists, hold-past-the-end, and the
suggestion methods on long random curves, random NaN positions, non-monotone LRs, and
through the finder result's JSON.
"""

from __future__ import annotations

import copy
import io
import json
import math
import warnings

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from onecycle.finder import LRFinderResult
from onecycle.finder.suggest import SUGGESTERS, Suggestion, suggest
from onecycle.schedule import Curve, OneCycleSchedule, Piecewise, schedule_from_dict
from onecycle.scheduler import OneCycle, ParamScheduler

torch.set_num_threads(1)
METHODS = sorted(SUGGESTERS)
FAST = settings(max_examples=40, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def _params(n: int = 1) -> list[torch.nn.Parameter]:
    return [torch.nn.Parameter(torch.zeros(2)) for _ in range(n)]


def _sgd(groups: int, **kw: float) -> torch.optim.SGD:
    return torch.optim.SGD([{"params": _params()} for _ in range(groups)],
                           lr=0.1, momentum=0.9, weight_decay=1e-4, **kw)


def _through_disk(state: dict) -> dict:
    """A state dict as it comes back from a weights-only checkpoint."""
    buf = io.BytesIO()
    torch.save(copy.deepcopy(state), buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


# ----------------------------------------------------------------------------- strategies

positive = st.floats(1e-6, 10.0, allow_nan=False, allow_infinity=False)


@st.composite
def piecewise(draw: st.DrawFn, horizon: int = 60) -> Piecewise:
    """Arbitrary joined curves with positive values (so they are valid LRs)."""
    n = draw(st.integers(1, 4))
    kinds = draw(st.lists(st.sampled_from(["linear", "cos", "fastai_cos", "exp", "constant"]),
                          min_size=n, max_size=n))
    curves = [Curve(k, draw(positive), draw(positive)) for k in kinds]
    cuts = sorted(draw(st.lists(st.floats(0, horizon, allow_nan=False), min_size=n + 1,
                                max_size=n + 1)))
    return Piecewise(curves, cuts)


styles = st.sampled_from(["smith", "fastai", "torch"])


# ----------------------------------------------------------------------------- ParamScheduler


@FAST
@given(st.integers(1, 3), st.data(), st.integers(0, 80))
def test_param_scheduler_applies_any_piecewise_schedule_exactly(groups: int, data: st.DataObject,
                                                                k_raw: int) -> None:
    """Every step writes exactly ``schedule(step)`` into every group (lr and weight decay),
    and a state_dict taken at any step resumes the same values in a scheduler that was
    built with different schedules (the JSON specs replace them)."""
    lr_s = [data.draw(piecewise()) for _ in range(groups)]
    wd_s = data.draw(piecewise())
    steps = 70
    opt = _sgd(groups)
    ps = ParamScheduler(opt, {"lr": lr_s, "weight_decay": wd_s})
    seen = []
    for step in range(steps):
        for g, f in zip(opt.param_groups, lr_s):
            assert g["lr"] == f(step) and g["weight_decay"] == wd_s(step)
        assert ps.get_last_lr() == [f(step) for f in lr_s]
        seen.append([g["lr"] for g in opt.param_groups])
        opt.step()
        ps.step()
    # resume at a random step into a scheduler built from other schedules
    k = k_raw % steps
    opt1 = _sgd(groups)
    ps1 = ParamScheduler(opt1, {"lr": lr_s, "weight_decay": wd_s})
    for _ in range(k):
        opt1.step()
        ps1.step()
    state = _through_disk(ps1.state_dict())
    opt2 = _sgd(groups)
    other = Piecewise([Curve("constant", 0.5, 0.5)], [0, 1])
    ps2 = ParamScheduler(opt2, {"lr": [other] * groups, "weight_decay": other})
    ps2.load_state_dict(state)
    for step in range(k, steps):
        assert [g["lr"] for g in opt2.param_groups] == seen[step]
        assert opt2.param_groups[0]["weight_decay"] == wd_s(step)
        opt2.step()
        ps2.step()


@FAST
@given(piecewise(horizon=200))
def test_piecewise_json_round_trip_is_bit_identical(s: Piecewise) -> None:
    r = schedule_from_dict(json.loads(json.dumps(s.to_dict())))
    for step in range(0, 205):
        assert r(step) == s(step)
    assert r(0.5) == s(0.5) and r(1e9) == s(1e9)


@FAST
@given(piecewise(horizon=100))
def test_piecewise_is_within_its_curves_range_and_holds_outside(s: Piecewise) -> None:
    lo = min(min(c.start, c.end) for c in s.curves)
    hi = max(max(c.start, c.end) for c in s.curves)
    for step in range(-3, 110):
        v = s(step)
        # torch's linear formula (end - start) * pct + start is exact only up to the
        # rounding of the larger value
        assert math.isfinite(v) and lo - 1e-12 * hi <= v <= hi * (1 + 1e-12)
    assert s(s.knots[-1] + 7) == s.curves[-1](1.0)
    assert s(s.knots[0] - 7) == s.curves[0](0.0)


# ----------------------------------------------------------------------------- replan + resume


@settings(max_examples=30, deadline=None)
@given(st.integers(2, 200), st.integers(0, 10_000), st.integers(1, 300), st.integers(0, 10_000),
       styles, st.integers(1, 3))
def test_replan_then_resume_is_identical(T: int, k1_raw: int, extra: int, k2_raw: int,
                                         style: str, groups: int) -> None:
    """Run k1 steps, replan to T2, run k2 more, save; a fresh scheduler (built with
    another plan) loads the state and gives exactly the values of the uninterrupted,
    replanned run, with no jump at the replan."""
    k1 = k1_raw % T
    T2 = k1 + 1 + extra
    k2 = k2_raw % (T2 - k1)
    max_lr = [0.1 * (g + 1) for g in range(groups)]

    def start() -> tuple[torch.optim.Optimizer, OneCycle]:
        opt = _sgd(groups)
        s = OneCycle(opt, max_lr, total_steps=T, style=style)
        for _ in range(k1):
            opt.step()
            s.step()
        before = s.current_values()
        s.replan(T2)
        assert s.current_values() == before  # no jump
        assert s.last_epoch == k1 and s.total_steps == T2
        return opt, s

    opt_a, a = start()
    full = []
    for _ in range(k1, T2):
        full.append(a.current_values())
        opt_a.step()
        a.step()
    opt_b, b = start()
    for _ in range(k2):
        opt_b.step()
        b.step()
    state = _through_disk(b.state_dict())
    opt_c = _sgd(groups)
    c = OneCycle(opt_c, [1.0] * groups, total_steps=T2 + 17, style="torch")
    c.load_state_dict(state)
    assert c.total_steps == T2 and c.last_epoch == k1 + k2
    for i in range(k1 + k2, T2):
        vals = c.current_values()
        assert vals == full[i - k1]
        assert [g["lr"] for g in opt_c.param_groups] == vals["lr"]
        opt_c.step()
        c.step()


# ----------------------------------------------------------------------------- per-group max_lr


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(1e-5, 5.0, allow_nan=False), min_size=1, max_size=4),
       st.integers(1, 150), styles, st.sampled_from(["sgd", "adamw"]))
def test_onecycle_per_group_max_lr_lists(max_lrs: list[float], T: int, style: str,
                                         kind: str) -> None:
    """Each group follows its own OneCycleSchedule(T, max_lr_g) exactly; all groups share
    one momentum (beta1) curve; beta2 is never touched."""
    params = [{"params": _params()} for _ in max_lrs]
    if kind == "sgd":
        opt: torch.optim.Optimizer = torch.optim.SGD(params, lr=0.1, momentum=0.9)
    else:
        opt = torch.optim.AdamW(params, lr=0.1, betas=(0.9, 0.995))
    s = OneCycle(opt, max_lrs, total_steps=T, style=style)
    refs = [OneCycleSchedule(T, m, style=style) for m in max_lrs]
    for step in range(T):
        lrs = [g["lr"] for g in opt.param_groups]
        assert lrs == [r.lr(step) for r in refs]
        if kind == "sgd":
            moms = [g["momentum"] for g in opt.param_groups]
        else:
            moms = [g["betas"][0] for g in opt.param_groups]
            assert all(g["betas"][1] == 0.995 for g in opt.param_groups)
        assert moms == [refs[0].momentum(step)] * len(max_lrs)
        ratio = [lr / m for lr, m in zip(lrs, max_lrs)]
        assert max(ratio) == pytest.approx(min(ratio), rel=1e-9)
        opt.step()
        s.step()


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 200), st.floats(1e-4, 3.0), styles, st.integers(1, 50))
def test_past_the_end_holds_the_last_value_or_raises(T: int, max_lr: float, style: str,
                                                     beyond: int) -> None:
    s = OneCycleSchedule(T, max_lr, style=style)
    last = s.values(T - 1)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        assert s.values(T + beyond) == last
        assert s.values(T + beyond + 1) == last
    assert sum(issubclass(x.category, RuntimeWarning) for x in w) == 1  # warned once
    strict = OneCycleSchedule(T, max_lr, style=style, on_end="raise")
    with pytest.raises(ValueError, match=f"total steps is {T}"):
        strict.lr(T + beyond)
    p = s.preview()
    assert [s.lr(i) for i in range(T)] == p["lr"].tolist()


# ----------------------------------------------------------------------------- suggestions


def _assert_valid(s: Suggestion, lrs: np.ndarray, usable: int) -> None:
    assert isinstance(s, Suggestion)
    if s.lr is None:
        assert isinstance(s.reason, str) and s.reason.strip()
        return
    assert usable >= 1 and math.isfinite(s.lr)
    assert lrs[0] <= s.lr <= lrs[usable - 1]  # never in the part cut at a NaN
    if s.low is not None:
        assert lrs[0] <= s.low <= s.lr <= s.high <= lrs[usable - 1]
    if s.confidence is not None:
        assert 0.0 <= s.confidence <= 1.0


@st.composite
def long_curves(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, int]:
    """1..500 points on an exp or linear grid; a valley, a ramp, a flat line or noise;
    NaN/inf at random positions (the curve is usable up to the first of them)."""
    n = draw(st.integers(1, 500))
    lo = 10 ** draw(st.floats(-8, -2))
    hi = lo * 10 ** draw(st.floats(0.5, 9))
    lrs = np.geomspace(lo, hi, n) if draw(st.booleans()) else np.linspace(lo, hi, n)
    lrs = np.unique(lrs)
    n = len(lrs)
    t = np.linspace(0, 1, n)
    shape = draw(st.sampled_from(["valley", "ramp", "flat", "noise", "cliff"]))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    if shape == "valley":
        c = draw(st.floats(0.2, 0.9))
        y = 3 - 2 / (1 + np.exp(-15 * (t - c + 0.2))) + 40 * np.maximum(0, t - c) ** 2
    elif shape == "ramp":
        y = 1 + t * draw(st.floats(-5, 5))
    elif shape == "flat":
        y = np.full(n, draw(st.floats(-1e3, 1e3)))
    elif shape == "cliff":
        y = np.where(t < draw(st.floats(0, 1)), 2.0, 1e6)
    else:
        y = rng.standard_normal(n)
    y = y * draw(st.floats(1e-3, 1e3)) + draw(st.floats(-1e4, 1e4))
    y = y + draw(st.floats(0, 0.5)) * rng.standard_normal(n)
    k = draw(st.integers(0, 3))
    for _ in range(k):
        if n:
            y[draw(st.integers(0, n - 1))] = draw(st.sampled_from([math.nan, math.inf,
                                                                    -math.inf]))
    bad = ~np.isfinite(y)
    usable = int(np.argmax(bad)) if bad.any() else n
    return lrs, y, usable


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(long_curves(), st.sampled_from(METHODS))
def test_suggestion_on_long_random_curves_is_valid_or_explained(curve: tuple, method: str) -> None:
    lrs, y, usable = curve
    s = suggest(lrs, y, method)
    assert s.method == method
    _assert_valid(s, lrs, usable)
    if usable < len(y):  # the answer says that the curve was cut
        assert "non-finite" in s.reason


@FAST
@given(long_curves(), st.sampled_from(METHODS), st.integers(-20, 20))
def test_suggestion_is_exactly_invariant_to_power_of_two_loss_scaling(
        curve: tuple, method: str, k: int) -> None:
    """Multiplying every loss by 2**k is exact in floating point; the suggested LR (or
    its absence) must not change at all."""
    lrs, y, _ = curve
    a = suggest(lrs, y, method)
    b = suggest(lrs, y * 2.0**k, method)
    assert a.lr == b.lr and a.low == b.low and a.high == b.high


@st.composite
def non_monotone_lrs(draw: st.DrawFn) -> np.ndarray:
    n = draw(st.integers(2, 300))
    lrs = np.geomspace(1e-6, 10, n)
    i = draw(st.integers(0, n - 2))
    how = draw(st.sampled_from(["swap", "repeat", "reverse", "shuffle"]))
    if how == "swap":
        lrs[i], lrs[i + 1] = lrs[i + 1], lrs[i]
    elif how == "repeat":
        lrs[i + 1] = lrs[i]
    elif how == "reverse":
        lrs = lrs[::-1].copy()
    else:
        perm = np.random.default_rng(draw(st.integers(0, 2**32 - 1))).permutation(n)
        assume(np.any(np.diff(lrs[perm]) <= 0))
        lrs = lrs[perm]
    return lrs


@FAST
@given(non_monotone_lrs(), st.sampled_from(METHODS))
def test_non_monotone_lrs_are_refused_by_every_method(lrs: np.ndarray, method: str) -> None:
    y = np.linspace(3, 1, len(lrs))
    with pytest.raises(ValueError, match="strictly increasing"):
        suggest(lrs, y, method)


@FAST
@given(st.integers(1, 300), st.sampled_from([math.nan, math.inf, -math.inf, 0.0, -1.0]),
       st.data(), st.sampled_from(METHODS))
def test_bad_lr_values_are_refused(n: int, bad: float, data: st.DataObject, method: str) -> None:
    lrs = np.geomspace(1e-5, 1, n)
    i = data.draw(st.integers(0, n - 1))
    lrs[i] = bad
    with pytest.raises(ValueError, match=r"lrs must be (finite and > 0|strictly increasing)"):
        suggest(lrs, np.ones(n), method)


@FAST
@given(long_curves(), st.sampled_from(["exp", "linear"]), st.booleans())
def test_finder_result_json_round_trip_keeps_every_bit_and_the_suggestion(
        curve: tuple, mode: str, stopped: bool) -> None:
    lrs, y, usable = curve
    smoothed = np.where(np.isfinite(y), y, np.nan)
    res = LRFinderResult(lrs, y, smoothed, mode=mode, diverged=stopped,
                         stop_reason="non-finite" if stopped else "completed",
                         stop_index=len(y) - 1 if stopped else None,
                         config={"start_lr": float(lrs[0]), "end_lr": math.inf})
    back = LRFinderResult.from_dict(json.loads(json.dumps(res.to_dict(), allow_nan=False)))
    for a, b in ((res.lrs, back.lrs), (res.losses, back.losses), (res.smoothed, back.smoothed)):
        assert np.array_equal(np.isnan(a), np.isnan(b)) and np.array_equal(a[~np.isnan(a)],
                                                                           b[~np.isnan(b)])
    assert (back.mode, back.diverged, back.stop_reason, back.stop_index) == (
        res.mode, res.diverged, res.stop_reason, res.stop_index)
    assert back.config["end_lr"] == math.inf
    assert back.suggest() == res.suggest()
