"""Where a step on a knot belongs: ``join`` starts the next curve (as optax and fastai do),
the torch style keeps torch's phase table. Peer values are written out literally."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest
import torch

from onecycle.schedule import (
    OneCycleSchedule,
    Piecewise,
    constant,
    cosine,
    join,
    linear,
    schedule_from_dict,
)


def test_join_on_a_knot_starts_the_next_curve_like_fastai_combine_scheds() -> None:
    # fastai: combine_scheds([.5, .5], [SchedCos(1, 0), SchedCos(1, 0)]) at pos
    # 0.0, 0.4, 0.5, 0.9, 1.0 gives 1.0, 0.09549150281252629, 1.0, 0.09549150281252629, 0.0
    s = join([cosine(1.0, 0.0), cosine(1.0, 0.0)], [0, 5, 10])
    assert s(0) == 1.0
    assert s(4) == pytest.approx(0.09549150281252629, abs=1e-15)
    assert s(5) == 1.0  # was 0.0 (the first curve's end): one step late
    assert s(9) == pytest.approx(0.09549150281252629, abs=1e-15)
    assert s(10) == 0.0


def test_join_on_a_knot_starts_the_next_curve_like_optax_join_schedules() -> None:
    # optax.join_schedules([constant_schedule(1.), constant_schedule(2.),
    #                       constant_schedule(3.)], boundaries=[3, 6]) at steps 0..7:
    # 1, 1, 1, 2, 2, 2, 3, 3
    s = join([constant(1.0), constant(2.0), constant(3.0)], [0, 3, 6, 9])
    assert [s(i) for i in range(8)] == [1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 3.0, 3.0]


def test_a_warm_restart_is_on_time() -> None:
    """SGDR: each cycle restarts at its knot; the step before it is near the bottom."""
    cyc = [cosine(0.1, 0.001)] * 3
    s = join(cyc, [0, 10, 30, 70])
    for k in (10, 30):
        assert s(k) == 0.1
        assert s(k - 1) < 0.01


def test_zero_length_curves_are_skipped_on_their_knot() -> None:
    s = join([linear(0.0, 1.0), constant(5.0), linear(1.0, 0.0)], [0, 4, 4, 8])
    assert s(4) == 1.0 and s(3) == 0.75 and s(8) == 0.0


def test_previous_rule_is_torchs_phase_table() -> None:
    s = Piecewise([constant(1.0), constant(2.0)], [0, 3, 6], boundary="previous")
    assert [s(i) for i in range(7)] == [1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0]
    with pytest.raises(ValueError, match="boundary must be one of 'next', 'previous'"):
        Piecewise([constant(1.0)], [0, 1], boundary="later")


def test_a_spec_from_before_the_boundary_choice_keeps_its_rule() -> None:
    """Old checkpoints hold piecewise specs without "boundary": they were evaluated with
    torch's rule and resume with it, value for value."""
    old = {"type": "piecewise", "curves": [{"kind": "constant", "start": 1.0, "end": 1.0},
                                           {"kind": "constant", "start": 2.0, "end": 2.0}],
           "knots": [0.0, 3.0, 6.0], "strict": True}
    s = schedule_from_dict(old)
    assert s.boundary == "previous" and s(3) == 1.0
    new = join([constant(1.0), constant(2.0)], [0, 3, 6])
    assert schedule_from_dict(json.loads(json.dumps(new.to_dict())))(3) == 2.0


def _onecyclelr(T: int, **kw: object) -> tuple[np.ndarray, np.ndarray]:
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1, momentum=0.9)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sch = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.8, total_steps=T, **kw)
        lr, mom = [], []
        for i in range(T):
            lr.append(opt.param_groups[0]["lr"])
            mom.append(opt.param_groups[0]["momentum"])
            opt.step()
            if i < T - 1:
                sch.step()
    return np.array(lr), np.array(mom)


@pytest.mark.parametrize("T", [1, 2, 3, 4, 5, 6, 7, 10, 20, 100])
@pytest.mark.parametrize("kw", [{}, {"three_phase": True}, {"anneal_strategy": "linear"},
                                {"anneal_strategy": "linear", "three_phase": True},
                                {"pct_start": 0.2, "three_phase": True}])
def test_torch_style_is_identical_to_onecyclelr_at_tiny_step_counts(T: int, kw: dict) -> None:
    try:
        ref_lr, ref_m = _onecyclelr(T, **kw)
    except ZeroDivisionError:
        pytest.skip("torch divides by zero for this cycle")
    s = OneCycleSchedule(T, 0.8, style="torch", three_phase=kw.get("three_phase"),
                         anneal=kw.get("anneal_strategy"), pct_start=kw.get("pct_start"))
    p = s.preview()
    assert p["lr"].tolist() == ref_lr.tolist()  # bit for bit, not approximately
    assert p["momentum"].tolist() == ref_m.tolist()


def test_smith_style_keeps_its_peak_when_a_tiny_cycle_squeezes_the_cool_down() -> None:
    """T=3: the smith knots clamp to [0, 1, 1, 2] (a zero-length cool-down). Step 1 lies on
    the warm-up's end; torch's rule puts it there, at max_lr. ("next" would put it at the
    start of annihilation, max_lr / div, and the cycle would never reach its peak.)"""
    s = OneCycleSchedule(3, 1.0)
    assert s.lr_schedule.knots == (0.0, 1.0, 1.0, 2.0)
    assert s.preview()["lr"] == pytest.approx([0.1, 1.0, 0.001], abs=1e-15)
    assert s.lr(1) == 1.0
    assert OneCycleSchedule(2, 1.0).preview()["lr"] == pytest.approx([0.1, 0.001], abs=1e-15)


@pytest.mark.parametrize("T", [1, 2, 3, 4, 8, 100])
@pytest.mark.parametrize("three", [False, True])
def test_fastai_style_on_a_knot_is_fastais_next_phase(T: int, three: bool) -> None:
    """fastai's combined_cos: ``pos >= pct`` already belongs to the next phase."""
    s = OneCycleSchedule(T, 1.0, style="fastai", three_phase=three)
    pct = [0.0, 0.25, 0.5, 1.0] if three else [0.0, 0.25, 1.0]
    vals = [1 / 25, 1.0, 1 / 25, 1e-5] if three else [1 / 25, 1.0, 1e-5]

    def ref(i: int) -> float:
        pos = i / T
        k = max(j for j in range(len(pct) - 1) if pos >= pct[j])
        x = (pos - pct[k]) / (pct[k + 1] - pct[k])
        return vals[k] + (1 + math.cos(math.pi * (1 - x))) * (vals[k + 1] - vals[k]) / 2

    assert s.preview()["lr"] == pytest.approx([ref(i) for i in range(T)], abs=1e-15)
    if T % 4 == 0:  # a step lands exactly on pct_start * T
        assert s.lr(T // 4) == 1.0
