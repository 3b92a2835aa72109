"""The budget-aware max_lr: res.suggest(total_steps=N) and choose_max_lr(total_steps=N)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from onecycle import Trainer, lr_find
from onecycle.finder import LRFinderResult, choose_max_lr
from onecycle.finder.budget import CLIP, EXPONENT, SCALE, Budget, budget_factor, plan_budget

LRS = np.geomspace(1e-6, 1.0, 100)
FALLING = 5.0 - np.log10(LRS) + 0.3 * np.sin(np.log10(LRS) * 3)


def curve(family: str | None) -> LRFinderResult:
    config = {"num_iter": 100, "group_ratios": [1.0]}
    if family is not None:
        config["family"] = family
    return LRFinderResult(LRS, FALLING, FALLING, config=config)


def test_warmup_follows_the_style() -> None:
    assert plan_budget(1000).warmup_steps == pytest.approx(450)
    assert plan_budget(1000, style="fastai").warmup_steps == pytest.approx(250)
    assert plan_budget(1000, style="torch").warmup_steps == pytest.approx(300)
    assert plan_budget(1000, warmup=10).warmup_steps == 10
    with pytest.raises(ValueError, match="warmup must be at most total_steps"):
        plan_budget(10, warmup=11)
    with pytest.raises(ValueError, match="total_steps"):
        plan_budget(0)


@pytest.mark.parametrize("family", ["sgd", None, "other"])
def test_sgd_like_picks_do_not_move_with_the_budget(family: str | None) -> None:
    res = curve(family)
    base = res.suggest("auto")
    for steps in (10, 300, 10_000):
        assert res.suggest("auto", total_steps=steps) == base
        assert choose_max_lr(res, total_steps=steps).lr == base.lr


def test_adam_like_picks_scale_the_valley_pick_with_the_warmup() -> None:
    res = curve("adam")
    valley = res.suggest("valley")
    for steps in (100, 309, 927, 5000):
        w = 0.45 * steps
        want = min(CLIP[1], max(CLIP[0], SCALE * (w / 100) ** EXPONENT))
        got = res.suggest("auto", total_steps=steps)
        assert got.lr == pytest.approx(valley.lr * want)
        assert (got.low, got.high) == ((None, None) if valley.low is None else
                                       pytest.approx((valley.low * want, valley.high * want)))
        assert got.method == "auto" and "Adam-like" in got.reason
    # other methods are read as they are, budget or not
    assert res.suggest("steep", total_steps=927) == res.suggest("steep")
    # without a budget, auto is the budget-free pick
    assert res.suggest("auto") == res.suggest(None)


def test_the_factor_is_clipped_at_both_ends() -> None:
    assert budget_factor(Budget(10, 1.0), 100, "adam") == pytest.approx(
        max(CLIP[0], SCALE * 0.01 ** EXPONENT))
    assert budget_factor(Budget(10**7, 4.5e6), 100, "adam") == CLIP[1]


@given(st.integers(1, 10**6), st.integers(1, 10**6), st.integers(2, 2000))
def test_the_factor_grows_with_the_budget_and_stays_in_its_clip(a: int, b: int, n: int) -> None:
    lo, hi = sorted((a, b))
    f_lo = budget_factor(plan_budget(lo), n, "adam")
    f_hi = budget_factor(plan_budget(hi), n, "adam")
    assert CLIP[0] <= f_lo <= f_hi <= CLIP[1]
    assert math.isfinite(f_hi)


def test_lr_find_records_the_optimizer_family() -> None:
    torch.manual_seed(0)
    data = [(torch.randn(8, 3), torch.randint(0, 2, (8,))) for _ in range(4)]
    for opt_cls, fam in ((torch.optim.SGD, "sgd"), (torch.optim.AdamW, "adam"),
                         (torch.optim.Adagrad, "other")):
        model = torch.nn.Linear(3, 2)
        res = lr_find(model, opt_cls(model.parameters(), lr=0.01),
                      torch.nn.functional.cross_entropy, data, num_iter=10, progress=False)
        assert res.config["family"] == fam and res.config["optimizer"] == opt_cls.__name__


def test_fit_one_cycle_passes_its_own_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    torch.manual_seed(0)
    data = [(torch.randn(8, 3), torch.randint(0, 2, (8,))) for _ in range(10)]
    model = torch.nn.Linear(3, 2)
    trainer = Trainer(model, torch.nn.functional.cross_entropy,
                      torch.optim.AdamW(model.parameters(), lr=1e-3), data, progress=False)
    monkeypatch.setattr(trainer, "lr_find", lambda **kw: curve("adam"))
    hist = trainer.fit_one_cycle(3, style="fastai")
    steps = 3 * 10
    want = choose_max_lr(curve("adam"), total_steps=steps, style="fastai").lr
    assert hist.meta["lr_find"]["lr"] == pytest.approx(want)
    assert want != pytest.approx(curve("adam").suggest("auto").lr)


def test_the_recipe_steps_read_the_curve_for_their_cycle() -> None:
    from onecycle.config import RunConfig
    from onecycle.pipeline import finder_options
    from onecycle.search import Problem, SearchOptions, range_test

    torch.manual_seed(0)
    data = [(torch.randn(16, 4), torch.randint(0, 2, (16,))) for _ in range(6)]
    problem = Problem(torch.nn.Linear(4, 2), lambda m: torch.optim.AdamW(m.parameters()),
                      torch.nn.functional.cross_entropy, data)
    o = SearchOptions(num_iter=30, start_lr=1e-5, end_lr=1.0, budget=600)
    test = range_test(problem, o)
    assert test.curve.config["family"] == "adam"
    assert test.max_lr == pytest.approx(choose_max_lr(test.curve, total_steps=600).lr)
    assert "Adam-like" in test.suggestion.reason
    cfg = RunConfig.from_dict({"epochs": 4, "schedule": {"style": "fastai"}})
    assert (finder_options(cfg, 21).budget, finder_options(cfg, 21).budget_style) == (84, "fastai")
