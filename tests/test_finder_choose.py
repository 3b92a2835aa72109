"""choose_max_lr: one rule from a range-test curve to a cycle's max_lr (per group)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

import onecycle
from onecycle.finder import (
    LRFinderResult,
    MaxLRChoice,
    NoUsableLR,
    Suggestion,
    choose_max_lr,
    lr_find,
)

torch.set_num_threads(1)


def _valley(n: int = 80, ratios=None) -> LRFinderResult:
    lrs = np.geomspace(1e-5, 10, n)
    t = np.log10(lrs)
    losses = 2 - 1.5 / (1 + np.exp(-3 * (t + 2))) + np.maximum(0, t + 0.5) ** 3
    config = {} if ratios is None else {"group_ratios": list(ratios)}
    return LRFinderResult(lrs, losses, losses.copy(), config=config)


def test_pick_is_the_curves_suggestion():
    res = _valley()
    c = choose_max_lr(res)
    s = res.suggest()
    assert isinstance(c, MaxLRChoice)
    assert c.lr == s.lr and c.suggestion == s
    assert (c.low, c.high, c.confidence, c.reason, c.method) == (
        s.low, s.high, s.confidence, s.reason, "auto")
    assert c.per_group == (c.lr,)  # no ratios recorded: one group
    assert choose_max_lr(res, method=None).lr == c.lr
    assert choose_max_lr(res, method="valley").lr == res.suggest("valley").lr


def test_per_group_keeps_the_sweeps_ratios():
    res = _valley(ratios=[1.0, 10.0, 0.5])
    c = choose_max_lr(res)
    assert c.per_group[0] == c.lr
    assert c.per_group[1] == pytest.approx(10 * c.lr, rel=1e-12)
    assert c.per_group[2] == pytest.approx(0.5 * c.lr, rel=1e-12)
    assert c.to_dict()["per_group"] == list(c.per_group)


def test_real_sweep_with_two_groups_keeps_1_to_10():
    """Issue #20 item 5: groups at 0.001 and 0.01 are swept 1:10, and the peak keeps it."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(512, 6, generator=g)
    y = (x[:, 0] > 0).long()
    data = [(x[i:i + 32], y[i:i + 32]) for i in range(0, 512, 32)]
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
    opt = torch.optim.SGD([{"params": model[0].parameters(), "lr": 0.001},
                           {"params": model[2].parameters(), "lr": 0.01}], lr=0.001)
    res = lr_find(model, opt, torch.nn.functional.cross_entropy, data, start_lr=1e-5,
                  end_lr=10, num_iter=80, progress=False, seed=0)
    c = choose_max_lr(res, fallback=("minimum",))
    assert len(c.per_group) == 2
    assert c.per_group[1] / c.per_group[0] == pytest.approx(10.0, rel=1e-9)
    assert [g["lr"] for g in opt.param_groups] == [0.001, 0.01]  # the test put them back


def test_ratios_survive_json():
    res = LRFinderResult.from_dict(_valley(ratios=[1.0, 0.1]).to_dict())
    assert choose_max_lr(res).per_group[1] == pytest.approx(0.1 * choose_max_lr(res).lr)


def test_no_pick_raises_with_reason_and_advice():
    lrs = np.geomspace(1e-5, 1, 60)
    flat = LRFinderResult(lrs, np.ones(60), np.ones(60))
    with pytest.raises(NoUsableLR) as info:
        choose_max_lr(flat)
    err = info.value
    assert isinstance(err, ValueError)
    assert err.reason == flat.suggest().reason and "flat curve" in err.reason
    assert err.suggestion == flat.suggest()
    msg = str(err)
    assert "flat curve" in msg and "pass max_lr explicitly" in msg and "res.plot()" in msg


def test_fallback_is_tried_in_order():
    # a curve too short for auto (< 10 points) but long enough for the simple methods
    lrs = np.geomspace(1e-3, 1, 8)
    losses = np.array([2.0, 1.8, 1.5, 1.0, 0.7, 0.5, 0.9, 3.0])
    res = LRFinderResult(lrs, losses, losses)
    assert res.suggest().lr is None
    with pytest.raises(NoUsableLR, match="too short a sweep"):
        choose_max_lr(res)
    c = choose_max_lr(res, fallback=("minimum",))
    assert c.method == "minimum" and c.lr == res.suggest("minimum").lr
    assert choose_max_lr(res, fallback="minimum").lr == c.lr
    with pytest.raises(NoUsableLR, match="auto: too short"):  # first method's reason
        choose_max_lr(LRFinderResult(lrs[:2], losses[:2], losses[:2]), fallback=("minimum",))


def test_no_usable_lr_pickles():
    err = NoUsableLR(Suggestion(None, method="auto", reason="diverged at once"))
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is NoUsableLR and str(back) == str(err) and back.reason == err.reason
    plain = pickle.loads(pickle.dumps(NoUsableLR("no curve")))
    assert plain.reason == "no curve" and plain.suggestion is None


def test_bad_inputs():
    with pytest.raises(TypeError, match="LRFinderResult"):
        choose_max_lr([1, 2, 3])
    with pytest.raises(ValueError, match="unknown suggestion method"):
        choose_max_lr(_valley(), method="nope")
    with pytest.raises(ValueError, match="group_ratios"):
        choose_max_lr(_valley(ratios=[1.0, -2.0]))
    bad = _valley()
    bad.config["group_ratios"] = "1,2"
    with pytest.raises(ValueError, match="group_ratios"):
        choose_max_lr(bad)


def test_top_level_names():
    assert onecycle.choose_max_lr is choose_max_lr
    assert onecycle.NoUsableLR is NoUsableLR
