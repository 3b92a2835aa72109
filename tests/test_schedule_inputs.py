"""Bad inputs to the schedule maths (issue #20 items 11, 12, 14): each refused with a
message that names the argument, the value and what is allowed."""

from __future__ import annotations

import math

import numpy as np
import pytest

from onecycle import _validate
from onecycle.schedule import Curve, OneCycleSchedule, join, linear, schedule_from_dict, wsd


@pytest.mark.parametrize(
    "kwargs, culprit",
    [
        ({"div": 1e-320}, "div"),  # was [nan, nan, nan, inf, nan]
        ({"max_lr": 1e308, "final_div": 1e-10}, "final_div"),  # was: ends at inf
        ({"max_lr": 1e308, "div": 0.1}, "div"),
        ({"max_lr": 5e-324, "div": 10.0}, "div"),  # underflows to an LR of 0
        ({"style": "torch", "max_lr": 1e-300, "final_div": 1e30}, "final_div"),
    ],
)
def test_non_finite_initial_or_final_lr_names_the_argument(kwargs: dict, culprit: str) -> None:
    args = {"max_lr": 1.0, **kwargs}
    with pytest.raises(ValueError, match=rf"^{culprit} is out of range: the (initial|final) LR"):
        OneCycleSchedule(5, args.pop("max_lr"), **args)


@pytest.mark.parametrize("kwargs, culprit", [
    ({"div": 1e-300, "max_lr": 1e-10}, "div"),  # the warm-up ended at an LR of 0
    ({"max_lr": 1e300, "final_div": 1e300}, "final_div"),  # annihilation ended at 0
    ({"style": "fastai", "final_div": 1e20}, "final_div"),
])
def test_lrs_too_far_apart_for_floats_are_refused(kwargs: dict, culprit: str) -> None:
    args = {"max_lr": 1.0, **kwargs}
    with pytest.raises(ValueError, match=rf"^{culprit}=.* spans too many orders of magnitude"):
        OneCycleSchedule(7, args.pop("max_lr"), **args)


@pytest.mark.parametrize("style", ["smith", "fastai", "torch"])
def test_extreme_but_usable_numbers_give_finite_positive_lrs(style: str) -> None:
    for max_lr, div, final_div in ((1e-300, 10.0, 1e4), (1e300, 1e3, 1e8), (1.0, 1e4, 1e8)):
        s = OneCycleSchedule(50, max_lr, style=style, div=div, final_div=final_div)
        lr = s.preview()["lr"]
        assert np.all(np.isfinite(lr)) and np.all(lr > 0)
        assert s.lr_schedule.end_value == pytest.approx(s.final_lr, rel=1e-3)


@pytest.mark.parametrize("bad, exc", [("a", TypeError), (2.5, TypeError), (math.nan, TypeError),
                                      (None, TypeError), (True, TypeError), (-1, ValueError)])
def test_public_step_arguments_are_integers(bad: object, exc: type) -> None:
    s = OneCycleSchedule(10, 1.0)
    for method in (s.lr, s.momentum, s.values):
        with pytest.raises(exc, match=r"^step must be an integer >= 0, got"):
            method(bad)
    assert s.lr(3.0) == s.lr(3) and s.lr(np.int64(3)) == s.lr(3)
    with pytest.raises(TypeError, match="step must be an integer"):
        wsd(10, 1.0).lr(2.5)


def test_internal_evaluation_stays_float() -> None:
    s = OneCycleSchedule(10, 1.0)
    assert s.lr_schedule(2.5) == pytest.approx((s.lr(2) + s.lr(3)) / 2)
    assert s(2.5) == s.lr_schedule(2.5)


@pytest.mark.parametrize("bad", [True, "0.1", b"1", None, [0.1]])
def test_max_lr_must_be_a_number(bad: object) -> None:
    with pytest.raises(TypeError, match=r"^max_lr must be a real number, got"):
        OneCycleSchedule(10, bad)


@pytest.mark.parametrize("bad", [(0.85, 0.95), (0.9, 0.95, 0.99), (0.9, 0.95, 0.8)])
def test_momentum_cycle_is_one_rule_everywhere(bad: tuple) -> None:
    """The config refuses low > high; the schedule does too (_validate.momentum_cycle)."""
    with pytest.raises(ValueError, match=r"^momentum must be \((high, low|start, low, end)\)"):
        OneCycleSchedule(10, 1.0, momentum=bad)
    with pytest.raises(ValueError, match="momentum"):
        _validate.momentum_cycle("momentum", bad)


@pytest.mark.parametrize(
    "kwargs, exc, message",
    [
        ({"total_steps": True}, TypeError, r"total_steps must be an integer >= 1, got True"),
        ({"total_steps": 2.5}, TypeError, r"total_steps must be an integer >= 1, got 2\.5"),
        ({"max_lr": math.inf}, ValueError, r"max_lr must be a finite number > 0, got inf"),
        ({"max_lr": math.nan}, ValueError, r"max_lr must be a finite number > 0, got nan"),
        ({"pct_start": math.nan}, ValueError, r"pct_start must be in \(0, 1\), got nan"),
        ({"momentum": (1.0, 0.85)}, ValueError,
         r"momentum values must be in \[0, 1\), got \(1\.0, 0\.85\)"),
        ({"three_phase": 1}, TypeError, r"three_phase must be True or False, got 1"),
        ({"anneal": "exp"}, ValueError, r"anneal must be one of 'linear', 'cos', got 'exp'"),
        ({"style": "keras"}, ValueError, r"style must be one of 'smith', 'fastai', 'torch'"),
        ({"on_end": "wrap"}, ValueError, r"on_end must be one of 'hold', 'raise', got 'wrap'"),
    ],
)
def test_messages_come_from_the_shared_validators(kwargs: dict, exc: type, message: str) -> None:
    args = {"total_steps": 10, "max_lr": 0.5, **kwargs}
    with pytest.raises(exc, match=message):
        OneCycleSchedule(args.pop("total_steps"), args.pop("max_lr"), **args)


def test_shared_validators_say_what_is_allowed_for_every_bad_value() -> None:
    """The small additions to onecycle._validate this module relies on."""
    with pytest.raises(TypeError, match=r"^n must be an integer >= 1, got 2\.5 \(float\)$"):
        _validate.integer("n", 2.5, least=1)
    with pytest.raises(TypeError, match=r"^n must be an integer, got 'x' \(str\)$"):
        _validate.integer("n", "x", least=None)
    for bad in (math.nan, math.inf, -math.inf):
        with pytest.raises(ValueError, match=r"^lr must be a finite number > 0, got"):
            _validate.positive("lr", bad)
        with pytest.raises(ValueError, match=r"^wd must be a finite number >= 0, got"):
            _validate.nonnegative("wd", bad)
        with pytest.raises(ValueError, match=r"^p must be in \[0, 1\), got"):
            _validate.in_range("p", bad, 0, 1, high_open=True)
    with pytest.raises(TypeError, match=r"m entry must be a real number"):
        _validate.momentum_cycle("m", (0.9, "low"))


def test_plot_schedule_cli_refuses_a_tiny_div() -> None:
    """`plot-schedule --div 1e-320` printed NaN and exited 0; the schedule now refuses
    it, and the CLI turns the ValueError into a usage error (exit 2)."""
    from onecycle.cli import main

    assert main(["plot-schedule", "--div", "1e-320", "--steps", "5"]) == 2


@pytest.mark.parametrize(
    "spec",
    [
        [],
        {"type": "piecewise"},
        {"type": "piecewise", "curves": "x", "knots": [0, 1]},
        {"type": "piecewise", "curves": [{"kind": "linear", "start": "a", "end": 1}], "knots": [0, 1]},
        {"type": "piecewise", "curves": [{"kind": "spline", "start": 0, "end": 1}], "knots": [0, 1]},
        {"type": "piecewise", "curves": [{"kind": "linear", "start": 0, "end": 1}], "knots": [0, 1],
         "boundary": "sideways"},
        {"type": "piecewise", "curves": [{"kind": "linear", "start": 0, "end": 1}], "knots": [0, 1],
         "extra": 1},
        {"type": "timewarp", "base": {"type": "nope"}, "pivot": 0, "old_last": 1, "new_last": 2},
        {"type": "wsd", "total_steps": 10, "peak_lr": 1.0, "decay": 2.0},
        {"type": "wsd", "total_steps": 10, "peak_lr": 1.0, "colour": "red"},
        {"type": "linear_decay", "peak_lr": 1.0},
        {"type": "onecycle", "total_steps": 10},
        {"type": "cosine_restarts"},
    ],
)
def test_bad_specs_are_refused_by_name(spec: object) -> None:
    with pytest.raises((ValueError, TypeError)):
        schedule_from_dict(spec)  # type: ignore[arg-type]


def test_curves_check_their_numbers() -> None:
    with pytest.raises(TypeError, match="curve start must be a real number"):
        linear("0", 1)
    with pytest.raises(ValueError, match="curve kind must be one of"):
        Curve("spline", 0.0, 1.0)
    with pytest.raises(ValueError, match="knots must be non-decreasing"):
        join([linear(0, 1), linear(1, 0)], [0, 10, 5])
