"""Suggestion methods on synthetic curves (pure numpy, no training)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from onecycle.finder.suggest import (
    AUTO_DIVIDE,
    CLIFF_GAP,
    COARSE_PPD,
    SUGGESTERS,
    Suggestion,
    auto,
    combine_runs,
    minimum,
    noise_level,
    smooth_curve,
    steep,
    suggest,
    tail_cut,
    valley,
)

METHODS = sorted(SUGGESTERS)
N = 100
LRS = np.geomspace(1e-6, 10, N)
T = np.log10(LRS)
LR_MIN = 10 ** -0.5  # where the clean valley bottoms out


def clean_valley() -> np.ndarray:
    """Flat at 2.3, falls around lr=1e-2, bottoms out near 0.3, explodes past ~0.3."""
    return 2.3 - 2.0 / (1 + np.exp(-2.5 * (T + 2))) + np.where(T > -0.5, 3 * (T + 0.5) ** 2, 0)


def noisy_valley(seed: int = 0, sd: float = 0.15) -> np.ndarray:
    return clean_valley() + sd * np.random.default_rng(seed).standard_normal(N)


def flat(seed: int = 0) -> np.ndarray:
    return 2.3 + 0.05 * np.random.default_rng(seed).standard_normal(N)


def immediate_divergence(seed: int = 0) -> np.ndarray:
    return 2.3 + np.expm1(np.linspace(0, 6, N)) + 0.01 * np.random.default_rng(seed).standard_normal(N)


def assert_valid(s: Suggestion, lrs: np.ndarray) -> None:
    assert isinstance(s, Suggestion)
    if s.lr is None:
        assert isinstance(s.reason, str) and s.reason
        return
    assert math.isfinite(s.lr)
    assert lrs[0] <= s.lr <= lrs[-1]
    if s.low is not None:
        assert math.isfinite(s.low) and math.isfinite(s.high)
        assert lrs[0] <= s.low <= s.lr <= s.high <= lrs[-1]
    if s.confidence is not None:
        assert 0.0 <= s.confidence <= 1.0


# ----------------------------------------------------------------------------- curves


@pytest.mark.parametrize("method", METHODS)
def test_clean_valley_every_method_in_descent(method: str) -> None:
    s = suggest(LRS, clean_valley(), method)
    assert_valid(s, LRS)
    assert s.lr is not None and s.method == method
    assert 1e-4 < s.lr <= LR_MIN  # inside the descent, never past the minimum


def test_auto_clean_valley_below_minimum_with_range() -> None:
    s = auto(LRS, clean_valley())
    assert_valid(s, LRS)
    # Smith's rule: the smoothed minimum, within a few grid points of LR_MIN
    assert LR_MIN / 3 <= s.lr <= LR_MIN
    assert s.low < s.lr < s.high
    assert s.confidence > 0.95
    assert "minimum" in s.reason and "steepest" in s.reason


def test_auto_is_not_dragged_left_by_the_divergence_tail() -> None:
    """A blow-up recorded after the valley must not move the pick: with and without
    a tail of exploding points the suggestion is the same LR (tail_cut)."""
    y = clean_valley()
    i_cut = int(np.searchsorted(LRS, LR_MIN * 3))
    base = auto(LRS[:i_cut], y[:i_cut])
    tail = np.r_[y[:i_cut], np.geomspace(y[i_cut] * 2, 1e6, len(y) - i_cut)]
    with_tail = auto(LRS, tail)
    assert with_tail.lr == pytest.approx(base.lr, rel=0.2)
    assert "tail cut" in with_tail.reason
    assert with_tail.high < LRS[-1]


def test_auto_divide_moves_the_pick_below_the_minimum() -> None:
    s1, s2 = auto(LRS, clean_valley(), divide=1), auto(LRS, clean_valley(), divide=3)
    assert s2.lr == pytest.approx(s1.lr / 3, rel=1e-9)
    assert auto(LRS, clean_valley()).lr == pytest.approx(s1.lr / AUTO_DIVIDE, rel=1e-9)
    with pytest.raises(ValueError, match="divide"):
        auto(LRS, clean_valley(), divide=0.5)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("seed", range(3))
def test_noisy_valley_every_method(method: str, seed: int) -> None:
    s = suggest(LRS, noisy_valley(seed), method)
    assert_valid(s, LRS)
    assert s.lr is not None and 1e-4 < s.lr <= 1.0


@pytest.mark.parametrize("method", METHODS)
def test_flat_curve_every_method_valid(method: str) -> None:
    s = suggest(LRS, flat(), method)
    assert_valid(s, LRS)
    if method == "auto":
        assert s.lr is None


def test_auto_noisy_valley_agrees_with_clean_and_is_less_confident() -> None:
    clean = auto(LRS, clean_valley())
    for seed in range(5):
        s = auto(LRS, noisy_valley(seed))
        assert_valid(s, LRS)
        assert s.lr is not None
        assert clean.lr / 3 < s.lr < clean.lr * 3
        assert s.confidence < clean.confidence


def test_confidence_grows_with_signal_to_noise() -> None:
    confs = [auto(LRS, noisy_valley(1, sd)).confidence for sd in (0.6, 0.3, 0.1)]
    assert confs[0] < confs[1] < confs[2]


@pytest.mark.parametrize("seed", range(5))
def test_flat_curve_has_no_auto_suggestion(seed: int) -> None:
    s = auto(LRS, flat(seed))
    assert s.lr is None and s.confidence == 0.0
    assert "flat" in s.reason


@pytest.mark.parametrize("method", METHODS)
def test_immediate_divergence(method: str) -> None:
    s = suggest(LRS, immediate_divergence(), method)
    assert_valid(s, LRS)
    assert s.lr is None
    if method == "auto":
        assert "diverged at once" in s.reason


@pytest.mark.parametrize("method", METHODS)
def test_only_increasing(method: str) -> None:
    s = suggest(LRS, 1 + np.linspace(0, 1, N) ** 2, method)
    assert s.lr is None and s.reason


@pytest.mark.parametrize("method", METHODS)
def test_nan_in_the_middle_cuts_the_curve(method: str) -> None:
    y = clean_valley()
    y[70] = np.nan
    y[80] = np.inf
    s = suggest(LRS, y, method)
    assert_valid(s, LRS)
    assert s.lr is not None and s.lr <= LRS[69]
    assert "non-finite" in s.reason


@pytest.mark.parametrize("method", METHODS)
def test_negative_and_shifted_losses_give_the_same_answer(method: str) -> None:
    base = suggest(LRS, noisy_valley(3), method)
    for shift, scale in ((-1e4, 1.0), (-5.0, 3.0), (1e3, 0.01)):
        s = suggest(LRS, noisy_valley(3) * scale + shift, method)
        assert s.lr == pytest.approx(base.lr, rel=1e-9)
        if base.confidence is not None:
            assert s.confidence == pytest.approx(base.confidence, abs=1e-3)


@pytest.mark.parametrize("method", METHODS)
def test_three_point_sweep(method: str) -> None:
    lrs = np.array([1e-3, 1e-2, 1e-1])
    s = suggest(lrs, [2.0, 1.0, 3.0], method)
    assert_valid(s, lrs)
    if method == "auto":
        assert s.lr is None and "too short" in s.reason


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("n", [0, 1, 2])
def test_tiny_sweeps_are_explicit_none(method: str, n: int) -> None:
    s = suggest(LRS[:n], clean_valley()[:n], method)
    assert s.lr is None and "too short" in s.reason


def test_auto_needs_ten_points() -> None:
    lrs = np.geomspace(1e-4, 1, 9)
    assert auto(lrs, (np.log10(lrs) + 1) ** 2).lr is None
    lrs = np.geomspace(1e-4, 1, 30)
    assert auto(lrs, (np.log10(lrs) + 0.5) ** 2).lr is not None


def test_minimum_at_end_lowers_confidence() -> None:
    lrs = LRS[:60]  # the sweep stops while the loss is still falling
    s = auto(lrs, clean_valley()[:60])
    full = auto(LRS, clean_valley())
    assert s.lr is not None and s.confidence < 0.6 * full.confidence
    assert "beyond end_lr" in s.reason


def test_steep_never_the_first_point() -> None:
    lrs = np.geomspace(1e-3, 1, 50)
    y = np.exp(-np.arange(50) / 5.0)  # steepest right at the start
    s = steep(lrs, y)
    assert s.lr is not None and s.lr > lrs[0]
    assert steep(lrs, y, margin=5).lr >= lrs[5]


def test_minimum_is_a_tenth_of_the_minimum() -> None:
    lrs = np.geomspace(1e-4, 1, 41)
    assert minimum(lrs, (np.log10(lrs) + 1) ** 2).lr == pytest.approx(0.01)
    # clipped to the start when lr_min / 10 lies before the sweep
    s = minimum(lrs, (np.log10(lrs) + 3.8) ** 2)
    assert s.lr == lrs[0] and "clipped" in s.reason


def test_valley_two_thirds_down_the_longest_descent() -> None:
    lrs = np.geomspace(1e-4, 1, 61)
    y = np.concatenate([np.linspace(3, 1, 31), np.linspace(1, 4, 30)])
    s = valley(lrs, y)
    # descent from point 0 to ~30 -> 2/3 of the way is point ~20
    assert lrs[16] <= s.lr <= lrs[23]


# ----------------------------------------------------------------------------- input checks


def test_non_monotone_lrs_rejected() -> None:
    lrs = LRS.copy()
    lrs[10], lrs[11] = lrs[11], lrs[10]
    for m in METHODS:
        with pytest.raises(ValueError, match="strictly increasing"):
            suggest(lrs, clean_valley(), m)


@pytest.mark.parametrize(
    "lrs, losses, match",
    [
        ([0.1, 0.2], [1.0], "same length"),
        ([0.0, 0.1, 0.2], [1, 2, 3], "> 0"),
        ([0.1, np.nan, 0.2], [1, 2, 3], "> 0"),
        ([[0.1, 0.2]], [[1.0, 2.0]], "1-D"),
    ],
)
def test_bad_arrays(lrs, losses, match) -> None:
    with pytest.raises(ValueError, match=match):
        auto(lrs, losses)


def test_unknown_method_and_callable_method() -> None:
    with pytest.raises(ValueError, match="unknown suggestion method 'nope'"):
        suggest(LRS, clean_valley(), "nope")
    s = suggest(LRS, clean_valley(), lambda lrs, losses: Suggestion(float(lrs[3]), method="mine"))
    assert s.lr == LRS[3]
    assert set(SUGGESTERS) == {"auto", "valley", "steep", "minimum", "slide"}


def test_suggestion_dataclass() -> None:
    s = Suggestion(0.1, 0.05, 0.2, "auto", 0.9, "why")
    with pytest.raises(AttributeError):
        s.lr = 0.2  # type: ignore[misc]
    assert Suggestion.from_dict(s.to_dict()) == s
    assert "0.1" in str(s) and "no suggestion" in str(Suggestion(None, reason="flat"))
    assert not Suggestion(None, reason="x")


def test_combine_runs_widens_range() -> None:
    b = Suggestion(0.1, 0.05, 0.2, "auto", 0.9, "r")
    c = combine_runs(b, [Suggestion(0.02), Suggestion(0.4), Suggestion(None, reason="x")])
    assert (c.low, c.high) == (0.02, 0.4) and c.lr == 0.1
    assert c.confidence < b.confidence
    assert combine_runs(Suggestion(None, reason="x"), [Suggestion(0.1)]).lr is None


# ----------------------------------------------------------------------------- smoothing


def test_smoother_is_zero_phase_and_exact_on_lines() -> None:
    line = np.linspace(5, -3, 50)
    np.testing.assert_allclose(smooth_curve(line), line, atol=1e-12)
    y = (np.arange(101) - 60.0) ** 2
    assert int(np.argmin(smooth_curve(y))) == 60  # no lag, unlike an EMA


def test_noise_level_estimate() -> None:
    rng = np.random.default_rng(0)
    y = clean_valley()[:80] + 0.2 * rng.standard_normal(80)
    assert 0.12 < noise_level(y) < 0.3


# ----------------------------------------------------------------------------- properties


finite = st.floats(-1e6, 1e6, allow_nan=False)
special = st.sampled_from([math.nan, math.inf, -math.inf])


@st.composite
def curves(draw):
    n = draw(st.integers(0, 60))
    raw = draw(st.lists(st.floats(-9, 3, allow_nan=False), min_size=n, max_size=n, unique=True))
    lrs = np.power(10.0, np.sort(np.array(raw, dtype=float)))
    lrs = np.unique(lrs)  # rounding may merge two exponents
    losses = draw(st.lists(finite | special if draw(st.booleans()) else finite,
                           min_size=len(lrs), max_size=len(lrs)))
    return lrs, np.array(losses, dtype=float)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(curves(), st.sampled_from(METHODS))
def test_property_never_nan_always_in_range_or_explained(curve, method) -> None:
    lrs, losses = curve
    s = suggest(lrs, losses, method)
    assert s.method == method
    assert_valid(s, lrs)


@settings(max_examples=60, deadline=None)
@given(st.integers(12, 80), st.floats(0.0, 0.5), st.integers(0, 10**6), st.floats(-1e5, 1e5))
def test_property_auto_valleys(n, sd, seed, shift) -> None:
    lrs = np.geomspace(1e-5, 10, n)
    t = np.log10(lrs)
    y = 2 - 1.5 / (1 + np.exp(-3 * (t + 2))) + np.maximum(0, t + 0.5) ** 2
    y = y + sd * np.random.default_rng(seed).standard_normal(n) + shift
    s = auto(lrs, y)
    assert_valid(s, lrs)
    if s.lr is not None:
        # never past the (true) minimum of the curve by more than the smoothing width
        assert s.lr <= 10 ** 0.5


def test_module_is_not_shadowed_by_the_dispatcher() -> None:
    import onecycle
    import onecycle.finder
    import onecycle.finder.suggest as sg

    assert callable(sg.auto) and callable(sg.valley)
    assert onecycle.finder.suggest is sg
    assert onecycle.finder.suggest_lr is sg.suggest is onecycle.suggest


def test_auto_flags_a_fast_sweep() -> None:
    """Fewer than COARSE_PPD points per decade: a note and a lower confidence, same pick."""
    dense = np.geomspace(1e-5, 10, 100)  # 16.5 points per decade
    coarse = np.geomspace(1e-5, 10, 40)  # 6.5 points per decade

    def curve(lrs):
        t = np.log10(lrs)
        return 2 - 1.5 / (1 + np.exp(-3 * (t + 2))) + np.maximum(0, t + 0.5) ** 3

    d, c = auto(dense, curve(dense)), auto(coarse, curve(coarse))
    assert (6 < 39 / 6 < COARSE_PPD < 99 / 6)
    assert "fast sweep" not in d.reason and "fast sweep (6 points per decade" in c.reason
    assert c.confidence < d.confidence
    assert abs(np.log10(c.lr / d.lr)) < 0.2  # the same valley
    lin = np.linspace(1e-3, 10, 40)  # linear sweeps: points per decade do not apply
    assert "fast sweep" not in auto(lin, curve(lin)).reason


def test_auto_steps_back_from_a_sharp_cliff_only() -> None:
    """A loss that falls right up to a blow-up: the minimum is the edge of stability and
    the pick steps back (by up to CLIFF_GAP); a gentle rise keeps the minimum itself."""
    lrs = np.geomspace(1e-4, 10, 100)
    t = np.log10(lrs)
    fall = 2.3 - 2 / (1 + np.exp(-4 * (t + 2)))  # falls until ~lr 0.1
    sharp = np.where(t <= -1, fall - 0.05 * (t + 2), 50.0)  # still falling, then explodes
    gentle = fall + np.maximum(0, t + 1) ** 2 * 2.5  # back at the start level near lr 1
    s_sharp, s_gentle = auto(lrs, sharp), auto(lrs, gentle)
    m_sharp = auto(lrs, sharp, divide=1)
    assert "sharp cliff" in s_sharp.reason and "sharp cliff" not in s_gentle.reason
    assert s_sharp.lr < 0.1 / 1.3  # stepped back from the minimum at ~0.1
    assert s_sharp.lr == pytest.approx(m_sharp.lr)  # divide=1 does not turn the rule off
    x, y = tail_cut(lrs, sharp)
    s_min = minimum(x, y, divide=1).lr
    gap = float(x[-1]) / s_min
    assert gap < CLIFF_GAP and s_sharp.lr == pytest.approx(s_min * gap / CLIFF_GAP, rel=1e-9)
    g_min = minimum(*tail_cut(lrs, gentle), divide=1).lr
    assert s_gentle.lr == pytest.approx(g_min, rel=1e-9)  # gentle: the minimum itself


def test_auto_takes_the_first_minimum_the_loss_rises_clearly_above() -> None:
    """A valley, a clear bump, then a lower dip just before the blow-up: the loss stopped
    improving at the first valley; the later dip is not a safe LR (B1 saw this on 2 seeds
    in 10, at 6x the first valley's LR)."""
    lrs = np.geomspace(1e-5, 10, 100)
    t = np.log10(lrs)
    rng = np.random.default_rng(0)
    base = 2.3 - 1.8 / (1 + np.exp(-4 * (t + 2.5)))  # falls until ~lr 0.01
    bump = 0.25 * np.exp(-((t + 1.2) / 0.25) ** 2)  # a clear rise around lr 0.06
    dip = -0.15 * np.exp(-((t + 0.4) / 0.15) ** 2)  # a lower dip around lr 0.4
    loss = base + bump + dip + np.where(t > -0.2, 30.0, 0.0) + rng.normal(0, 0.01, t.size)
    s = auto(lrs, loss)
    assert s.lr < 0.05 and "later, lower dip" in s.reason
    # without the bump the same curve keeps its (global) minimum near the dip
    s2 = auto(lrs, base + dip + np.where(t > -0.2, 30.0, 0.0) + rng.normal(0, 0.01, t.size))
    assert s2.lr > 0.1 and "later, lower dip" not in s2.reason


# ----------------------------------------------------------------- spike and recovery
# Caffe's LeNet (benchmarks: b2_caffe_curves, 2 of 3 curves) climbs back above its
# starting level near lr=0.04-0.06, comes back down, and blows up for good only near
# 0.15-0.2. ``auto`` keeps its pick (the minimum before the spike) and says so in its
# reason.

SPIKE_LRS = np.geomspace(1e-5, 10, 100)
I_SPIKE = 60  # the first climb-back above the starting level


def spike_curve(recovered: int, rng_seed: int = 0) -> np.ndarray:
    """Descent from 2.3 to ~0.7, a 2-point spike to 3-4, then ``recovered`` points at
    ~1.0 (below halfway between 2.3 and the minimum), then a blow-up."""
    rng = np.random.default_rng(rng_seed)
    down = 2.3 - 1.6 / (1 + np.exp(-(np.arange(I_SPIKE) - 45) / 4.0))
    tail_len = 100 - I_SPIKE - 2 - recovered
    blow = 2.5 * np.geomspace(1.5, 1e6, tail_len)
    y = np.r_[down, [3.0, 4.0], np.full(recovered, 1.0), blow]
    return y + 0.01 * rng.standard_normal(len(y))


def plain_divergence() -> np.ndarray:
    y = spike_curve(0)
    y[I_SPIKE:] = 3.0 * np.geomspace(1, 1e6, 100 - I_SPIKE)
    return y


def test_spike_recovery_finds_the_recovered_stretch():
    from onecycle.finder.suggest import spike_recovery

    y = spike_curve(8)
    r = spike_recovery(SPIKE_LRS, y)
    assert r is not None
    assert r.spike_lr == pytest.approx(SPIKE_LRS[I_SPIKE])
    assert r.recovered == 8
    # the last LR before the loss stays above its starting level for good
    assert r.end_lr == pytest.approx(SPIKE_LRS[I_SPIKE + 2 + 8 - 1])


def test_spike_recovery_none_for_plain_divergence_and_too_few_points():
    from onecycle.finder.suggest import RECOVERED_POINTS, spike_recovery

    assert spike_recovery(SPIKE_LRS, plain_divergence()) is None
    assert spike_recovery(SPIKE_LRS, spike_curve(RECOVERED_POINTS - 1)) is None
    assert spike_recovery(SPIKE_LRS, spike_curve(RECOVERED_POINTS)) is not None
    still_falling = 2.3 - 1.6 / (1 + np.exp(-(np.arange(100) - 70) / 6.0))
    assert len(tail_cut(SPIKE_LRS, still_falling)[0]) == 100  # no tail to recover from
    assert spike_recovery(SPIKE_LRS, still_falling) is None
    assert spike_recovery(SPIKE_LRS[:5], spike_curve(8)[:5]) is None  # too short


def test_spike_recovery_counts_only_points_below_halfway():
    """Back below the starting level (2.3) is not enough: the points must come back
    below halfway between it and the minimum (~0.7), i.e. below ~1.5."""
    from onecycle.finder.suggest import spike_recovery

    y = spike_curve(8)
    y[I_SPIKE + 2 : I_SPIKE + 10] = 2.0  # below the start, above halfway
    assert spike_recovery(SPIKE_LRS, y) is None
    y[I_SPIKE + 2 : I_SPIKE + 5] = 1.4  # three points below halfway
    r = spike_recovery(SPIKE_LRS, y)
    assert r is not None and r.recovered == 3


def test_spike_recovery_says_whether_the_loss_blew_up():
    from onecycle.finder.suggest import spike_recovery

    nan_tail = spike_curve(8)
    nan_tail[I_SPIKE + 10 :] = np.nan  # recovered, then NaN: the finder's blow-up
    r = spike_recovery(SPIKE_LRS, nan_tail)
    assert r is not None and r.blew_up and r.recovered == 8
    assert r.end_lr == pytest.approx(SPIKE_LRS[I_SPIKE + 9])
    ended = spike_curve(8)[: I_SPIKE + 10]  # the sweep stops inside the recovered stretch
    r = spike_recovery(SPIKE_LRS[: I_SPIKE + 10], ended)
    assert r is not None and not r.blew_up
    assert "until the sweep ended" in auto(SPIKE_LRS[: I_SPIKE + 10], ended).reason


def test_auto_mentions_a_recovery_but_keeps_its_pick():
    rec = auto(SPIKE_LRS, spike_curve(8))
    plain = auto(SPIKE_LRS, plain_divergence())
    assert rec.lr == pytest.approx(plain.lr)
    assert rec.lr < SPIKE_LRS[I_SPIKE]
    assert "recovered" in rec.reason and "transient" in rec.reason
    assert f"{SPIKE_LRS[I_SPIKE + 9]:.3g}" in rec.reason
    assert "recovered" not in plain.reason


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(recovered=st.integers(0, 30), seed=st.integers(0, 10_000),
       level=st.floats(0.85, 2.2), spike=st.floats(2.4, 50.0))
def test_auto_pick_never_depends_on_what_follows_the_climb_back(recovered, seed, level, spike):
    """Whatever the loss does after it first climbs back above its starting level
    (recovers for any length to any level above the minimum before the spike, or blows
    up at once), ``auto``'s pick is the same: the recovery is reported, never acted on.
    (A recovery *below* that minimum is the "later, lower dip" case: the curve's
    minimum then lies past the spike, and the first-minimum rule handles it.)"""
    y = spike_curve(recovered, seed)
    y[I_SPIKE] = spike
    y[I_SPIKE + 2 : I_SPIKE + 2 + recovered] = level
    base = plain_divergence()
    base[:I_SPIKE] = y[:I_SPIKE]
    base[I_SPIKE] = spike
    a, b = auto(SPIKE_LRS, y), auto(SPIKE_LRS, base)
    assert a.lr is not None and b.lr is not None
    assert a.lr == pytest.approx(b.lr, rel=1e-12)
    assert a.low == pytest.approx(b.low, rel=1e-12)


# ----------------------------------------------------------------------------- recorded curves

#: the raw losses of ``onecycle run``'s range test with the default configuration (the
#: bundled digits, 1e-5 -> 10 over 100 iterations, stopped as diverged after 94): its
#: ``auto`` pick is the max_lr that run trains with, and must not move
DIGITS_RUN_LOSSES = [
    2.5424323081970215, 2.5793356895446777, 2.5816452503204346, 2.6685006618499756,
    2.452653408050537, 2.591432571411133, 2.6377017498016357, 2.712200164794922,
    2.4993882179260254, 2.474496603012085, 2.5340828895568848, 2.4507548809051514,
    2.5070886611938477, 2.4733707904815674, 2.546550750732422, 2.45725679397583,
    2.4915518760681152, 2.475470781326294, 2.4761202335357666, 2.446791887283325,
    2.276301145553589, 2.348470449447632, 2.326655387878418, 2.17468523979187,
    2.1681787967681885, 2.1058547496795654, 2.0849063396453857, 1.9238107204437256,
    1.9690278768539429, 1.8703974485397339, 1.7326033115386963, 1.6770910024642944,
    1.5527961254119873, 1.4764916896820068, 1.5060080289840698, 1.2871942520141602,
    1.24156653881073, 1.1361618041992188, 0.9792938232421875, 1.0203732252120972,
    0.9489160776138306, 0.8376956582069397, 0.9145612120628357, 0.6165785789489746,
    0.6635358333587646, 0.5672040581703186, 0.4567256569862366, 0.39961832761764526,
    0.3435227870941162, 0.2477034479379654, 0.2754051387310028, 0.22529534995555878,
    0.15822912752628326, 0.23897776007652283, 0.2791237533092499, 0.1328098475933075,
    0.18166452646255493, 0.11839243024587631, 0.17671382427215576, 0.12402108311653137,
    0.08730485290288925, 0.04233362525701523, 0.2862212359905243, 0.2234354019165039,
    0.13970229029655457, 0.144801065325737, 0.18621785938739777, 0.2903100848197937,
    0.10874753445386887, 0.24655859172344208, 0.6561259031295776, 0.28784599900245667,
    0.33038902282714844, 0.936678409576416, 0.32705673575401306, 0.8496420383453369,
    0.7774481177330017, 1.4425150156021118, 1.658724308013916, 1.1359450817108154,
    0.778147280216217, 3.802480697631836, 0.6511033177375793, 3.170088052749634,
    1.7216615676879883, 4.175107955932617, 9.952314376831055, 3.400092124938965,
    8.00832748413086, 15.208125114440918, 25.719987869262695, 18.006351470947266,
    47.34358596801758, 131.612548828125,
]


def test_auto_on_the_recorded_digits_run_is_pinned() -> None:
    from onecycle.finder import lr_grid

    lrs = lr_grid(1e-5, 10.0, 100)[: len(DIGITS_RUN_LOSSES)]
    s = auto(lrs, DIGITS_RUN_LOSSES)
    assert f"{s.lr:.4g}" == "0.03765" and s.method == "auto"
    assert s.low <= s.lr <= s.high


# ----------------------------------------------------------------------------- argument checks


def test_steep_refuses_margin_zero() -> None:
    """margin=0 was silently treated as 1; the first point's slope is one-sided."""
    lrs = np.geomspace(1e-4, 1, 50)
    y = 1 - np.tanh(np.log10(lrs) + 2)
    with pytest.raises(ValueError, match="margin must be an integer >= 1, got 0"):
        steep(lrs, y, margin=0)
    with pytest.raises(ValueError, match="margin"):
        steep(lrs, y, margin=-2)
    with pytest.raises(TypeError, match="margin"):
        steep(lrs, y, margin=2.5)
    assert steep(lrs, y, margin=1).lr == steep(lrs, y, margin=1.0).lr


@pytest.mark.parametrize(
    "method, options, exc, match",
    [
        ("auto", {"min_points": 2}, ValueError, "min_points must be an integer >= 3"),
        ("auto", {"divide": True}, TypeError, "divide must be a real number"),
        ("auto", {"divide": 0.5}, ValueError, "divide must be a finite number >= 1"),
        ("auto", {"sigma": "2"}, TypeError, "sigma must be a real number"),
        ("auto", {"sigma": 0}, ValueError, "sigma must be a finite number > 0"),
        ("minimum", {"divide": "10"}, TypeError, "divide must be a real number"),
        ("valley", {"position": 1.5}, ValueError, r"position must be in \[0, 1\]"),
        ("slide", {"window": 0}, ValueError, "window must be an integer >= 1"),
        ("slide", {"window": 2.5}, TypeError, "window must be an integer"),
    ],
)
def test_method_options_are_checked(method, options, exc, match) -> None:
    with pytest.raises(exc, match=match):
        suggest(LRS, clean_valley(), method, **options)
