"""Tests for onecycle.search: weight decay, any-parameter grids, momentum, batch size,
the recipe, their plots and their handling of bad input.

Everything runs on scikit-learn's digits with a tiny MLP, short range tests and
one-epoch trials, so the whole file stays well under a minute and a half.
"""

from __future__ import annotations

import functools
import json
import math

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from torch import nn

from onecycle.data import TensorLoader, load
from onecycle.finder import LRFinderResult
from onecycle.models import mlp
from onecycle.search import (
    BatchSizeResult,
    GridSearchResult,
    MomentumResult,
    Recipe,
    SearchResult,
    SetterError,
    WeightDecayResult,
    attr_setter,
    batch_size_search,
    grid_search,
    hyper_setter,
    momentum_search,
    recipe,
    rescale_lr,
    select_by_curves,
    set_dropout,
    set_weight_decay,
    weight_decay_search,
    weight_decay_snapshot_search,
)
from onecycle.search.curves import curve_stats

F = nn.functional
NUM_ITER = 40


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny models run fastest on one thread (and the machine is shared)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def digits():
    b = load("digits", val_fraction=0.2, seed=0, flatten=True)
    return b.split("train"), b.split("val")


@pytest.fixture()
def loaders(digits):
    train, val = digits
    return TensorLoader(train, 64, shuffle=True, seed=0), TensorLoader(val, 288)


# module-level (picklable) pieces, so that workers > 1 can use them
def make_model() -> nn.Module:
    return mlp((64,), 10, hidden=(32,), dropout=0.1)


def make_sgd(model: nn.Module) -> torch.optim.Optimizer:
    return torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)


def _state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _same_state(a: dict[str, torch.Tensor], model: nn.Module) -> bool:
    b = model.state_dict()
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _legend(fig: Figure, i: int = 0) -> list[str]:
    return [t.get_text() for t in fig.axes[i].get_legend().get_texts()]


# ----------------------------------------------------------------------------- weight decay


def test_weight_decay_search_picks_from_grid_plots_and_is_reproducible(loaders):
    train, _ = loaders
    grid = (1e-2, 1e-3, 1e-4, 0.0)
    kw = dict(grid=grid, num_iter=NUM_ITER, seed=0)
    res = weight_decay_search(make_model, make_sgd, F.cross_entropy, train, **kw)
    assert isinstance(res, WeightDecayResult)
    assert res.best in grid and res.runner_up in grid and res.runner_up != res.best
    assert len(res.curves) == len(grid) and all(isinstance(c, LRFinderResult) for c in res.curves)
    assert [r["weight_decay"] for r in res.rows] == list(grid)
    assert sum(r["selected"] for r in res.rows) == 1 and res.row(res.best)["accepted"]
    assert "weight_decay=" in res.reason and "Runner-up" in res.reason
    # the largest accepted weight decay wins
    accepted = [r["value"] for r in res.rows if r["accepted"]]
    assert res.best == max(accepted)
    fig = res.plot()
    assert isinstance(fig, Figure)
    labels = _legend(fig)
    assert len(labels) == len(grid) and all(t.startswith("wd=") for t in labels)
    assert sum("[chosen]" in t for t in labels) == 1
    # reproducible: same seed, same curves, same answer
    again = weight_decay_search(make_model, make_sgd, F.cross_entropy, train, **kw)
    assert again.best == res.best and again.runner_up == res.runner_up
    for a, b in zip(res.curves, again.curves):
        np.testing.assert_array_equal(a.losses, b.losses)
    # strict JSON round trip
    d = json.loads(json.dumps(res.to_dict(), allow_nan=False))
    assert d["chosen"] == res.best and len(d["curves"]) == len(grid)
    back = SearchResult.from_dict(d)
    assert isinstance(back, WeightDecayResult) and back.best == res.best
    np.testing.assert_array_equal(back.curves[0].losses, res.curves[0].losses)


def test_refinement_bisects_towards_the_rejected_side():
    from onecycle.search.weight_decay import _new_midpoints

    assert _new_midpoints([1e-2, 1e-4, 0.0], 1e-4) == [pytest.approx(1e-3)]
    assert _new_midpoints([1e-2, 1e-4, 0.0], 0.0) == [pytest.approx(1e-5)]
    assert _new_midpoints([1e-2, 1e-4, 0.0], 1e-2) == []  # the largest: nothing above
    assert _new_midpoints([1e-2, 1e-3, 1e-4], 1e-4) == [pytest.approx(10 ** -3.5)]


def test_weight_decay_search_with_validation_and_refinement(loaders):
    train, val = loaders
    model = make_model()
    before = _state(model)
    res = weight_decay_search(model, make_sgd, F.cross_entropy, train, val_loader=val,
                              grid=(1.0, 1e-4, 0.0), refine=1, num_iter=NUM_ITER)
    assert res.signal == "val_loss" and "validation loss" in res.reason
    assert all(len(c.val_losses) >= 3 for c in res.curves)
    refined = [r["value"] for r in res.rows if r["refined"]]
    assert len(res.values) == 4 and len(refined) == 1  # bisected once, upwards only
    assert any(math.isclose(refined[0], math.sqrt(lo * hi) if lo else hi / 10)
               for lo, hi in ((1e-4, 1.0), (0.0, 1e-4)))
    assert res.best in res.values
    assert len(res.plot().axes) == 2  # training and validation panels
    assert _same_state(before, model)


def test_selection_rule_on_synthetic_curves():
    lrs = np.geomspace(1e-4, 10, 60)
    t = np.log10(lrs)

    def curve(level: float, at: float) -> object:
        return curve_stats(lrs, level + (t - at) ** 2 / 4)

    stats = [curve(1.5, -1.0),   # 1e-2: too high a loss
             curve(1.0, -2.0),   # 1e-3: best loss, but its minimum is a decade lower
             curve(1.0, -1.0),   # 1e-4: reaches the best at a high LR -> chosen
             curve(1.0, -1.0)]   # 0
    order, rows, reason = select_by_curves("wd", [1e-2, 1e-3, 1e-4, 0.0], stats)
    assert order[0] == 2 and [r["accepted"] for r in rows] == [False, False, True, True]
    assert "above the best" in rows[0]["why"] and "decades" in rows[1]["why"]
    assert "Runner-up: wd=0" in reason
    order, _, _ = select_by_curves("wd", [1e-2, 1e-3, 1e-4, 0.0], stats, prefer="smallest")
    assert order[0] == 3


def test_weight_decay_snapshot_search(loaders):
    train, val = loaders
    res = weight_decay_snapshot_search(
        make_model, make_sgd, F.cross_entropy, train, val, max_lr=0.3, epochs=3,
        middle=1e-3, others=(1e-2, 0.0), restart_epochs=1, metrics=["accuracy"])
    assert res.values == [1e-3, 1e-2, 0.0] and res.best in res.values
    assert res.mode == "snapshot" and len(res.histories) == 3
    best_row = min(res.rows, key=lambda r: r["val_loss"])
    assert best_row["value"] == res.best and best_row["selected"]
    snap = res.extra["snapshot"]
    assert 0 <= snap["epoch"] < 3 and snap["lr"] > 0 and "Snapshot" in res.reason
    json.dumps(res.to_dict(), allow_nan=False)
    assert len(res.plot().axes[0].patches) == 3


# ----------------------------------------------------------------------------- any parameter


def test_grid_search_on_dropout_leaves_the_model_exactly_as_it_was(loaders):
    train, _ = loaders
    model = make_model()
    model.eval()  # an unusual mode, which must survive too
    before = _state(model)
    rng = torch.get_rng_state()
    res = grid_search("dropout", [0.0, 0.2, 0.5], "dropout", model, make_sgd, F.cross_entropy,
                      train, num_iter=NUM_ITER)
    assert isinstance(res, GridSearchResult) and res.mode == "finder"
    assert res.best in (0.0, 0.2, 0.5) and len(res.curves) == 3
    assert _same_state(before, model)
    assert [m.p for m in model.modules() if isinstance(m, nn.Dropout)] == [0.1]
    assert not model.training and torch.equal(rng, torch.get_rng_state())
    assert train.epoch == 0  # the loader's epoch counter is put back too
    assert len(_legend(res.plot())) == 3


def test_grid_search_short_cycle_returns_a_table(loaders):
    train, val = loaders
    model = make_model()
    before = _state(model)
    res = grid_search("dropout", [0.0, 0.3], None, model, make_sgd, F.cross_entropy, train,
                      val_loader=val, mode="short_cycle", epochs=1, max_lr=0.3,
                      metrics=["accuracy"])
    assert res.mode == "short_cycle" and res.signal == "val_loss" and len(res.histories) == 2
    for r in res.rows:
        assert {"value", "val_loss", "val_accuracy", "train_loss", "selected"} <= set(r)
    assert res.best == min(res.rows, key=lambda r: r["val_loss"])["value"]
    table = res.table()
    assert "val_loss" in table and len(table.splitlines()) == 3
    assert len(res.plot().axes[0].patches) == 2
    assert _same_state(before, model)
    json.dumps(res.to_dict(), allow_nan=False)


def test_a_raising_setter_gives_a_clear_error_and_restores_the_model(loaders):
    train, _ = loaders
    model = make_model()
    before = _state(model)

    def setter(m: nn.Module, opt: torch.optim.Optimizer, value: float) -> None:
        set_dropout(m, opt, 0.4)  # change the copy first, then fail
        if value > 1:
            raise RuntimeError("width too large")

    with pytest.raises(SetterError, match=r"width=2.*width too large") as info:
        grid_search("width", [1, 2], setter, model, make_sgd, F.cross_entropy, train,
                    num_iter=NUM_ITER)
    assert isinstance(info.value, ValueError) and info.value.value == 2
    assert isinstance(info.value.__cause__, RuntimeError)
    assert _same_state(before, model)
    assert [m.p for m in model.modules() if isinstance(m, nn.Dropout)] == [0.1]


def test_builtin_setters():
    model = make_model()
    opt = torch.optim.AdamW(model.parameters(), weight_decay=0.01)
    set_weight_decay(model, opt, 1e-4)
    hyper_setter("eps")(model, opt, 1e-6)
    attr_setter("3.p")(model, opt, 0.25)
    assert opt.param_groups[0]["weight_decay"] == 1e-4 and opt.param_groups[0]["eps"] == 1e-6
    assert model[3].p == 0.25
    with pytest.raises(ValueError, match="no dropout module"):
        set_dropout(nn.Linear(2, 2), None, 0.1)


# ----------------------------------------------------------------------------- momentum


def test_momentum_search_reports_all_pairs_and_picks_the_lowest_val_loss(loaders):
    train, val = loaders
    res = momentum_search(make_model, make_sgd, F.cross_entropy, train, val, max_lr=0.3)
    assert isinstance(res, MomentumResult) and len(res.rows) == 4
    assert [r["value"] for r in res.rows] == [(0.99, 0.9), (0.95, 0.85), (0.9, 0.8),
                                              (0.95, 0.95)]
    best = min(res.rows, key=lambda r: r["val_loss"])
    assert res.best == best["value"] and best["selected"] and best["rank"] == 1
    assert res.runner_up != res.best and not res.row((0.95, 0.95))["cyclical"]
    # each run really cycled its pair: the recorded momentum spans [low, high]
    for (hi, lo), h in zip(res.values, res.histories):
        assert max(h.momentum) == pytest.approx(hi)
        assert min(h.momentum) == pytest.approx(lo, abs=0.01)  # steps are discrete
    back = SearchResult.from_dict(json.loads(json.dumps(res.to_dict(), allow_nan=False)))
    assert back.best == res.best and isinstance(back, MomentumResult)
    assert len(res.plot().axes[0].patches) == 4


@pytest.mark.slow
def test_workers_give_the_same_choice(digits):
    train_t, val_t = digits
    loaders = [(TensorLoader(train_t, 64, shuffle=True, seed=0), TensorLoader(val_t, 288))
               for _ in range(2)]
    kw = dict(max_lr=0.3, pairs=[(0.95, 0.85), (0.9, 0.8)])
    serial = momentum_search(make_model, make_sgd, F.cross_entropy, *loaders[0], workers=1, **kw)
    parallel = momentum_search(make_model, make_sgd, F.cross_entropy, *loaders[1], workers=2,
                               **kw)
    assert parallel.best == serial.best
    assert [r["val_loss"] for r in parallel.rows] == pytest.approx(
        [r["val_loss"] for r in serial.rows], rel=1e-6)


def test_workers_need_picklable_pieces(loaders):
    train, val = loaders
    with pytest.raises(TypeError, match="picklable"):
        momentum_search(make_model, lambda m: make_sgd(m), F.cross_entropy, train, val,
                        max_lr=0.3, pairs=[0.9, 0.8], workers=2)


# ----------------------------------------------------------------------------- batch size


def test_batch_size_search_respects_a_small_memory_budget():
    model = make_model()
    before = _state(model)
    cands = (16, 32, 64, 128, 256)
    free = batch_size_search(model, (64,), candidates=cands, memory_budget="1GB",
                             measure_throughput=False)
    need = {r["batch_size"]: r["train_bytes"] for r in free.rows}
    assert need[16] < need[64] < need[256]  # more samples, more memory
    budget = int(need[64] / 0.8) + 1  # 64 fits within safety x budget, 128 does not
    res = batch_size_search(model, (64,), candidates=cands, memory_budget=budget, safety=0.8,
                            throughput_iters=1, base_lr=0.1, base_batch_size=32, rule="sqrt")
    assert isinstance(res, BatchSizeResult) and res.device == "cpu"
    assert res.train_batch_size == 64 and res.train_batch_size in cands
    chosen = next(r for r in res.rows if r["batch_size"] == 64)
    assert chosen["train_bytes"] <= 0.8 * budget <= budget
    assert all(r["train_bytes"] > 0.8 * budget for r in res.rows if r["batch_size"] > 64)
    assert res.eval_batch_size >= res.train_batch_size  # no backward pass: larger
    assert chosen["samples_per_s"] > 0
    assert res.lr == pytest.approx(0.1 * math.sqrt(2)) and "sqrt" in res.reason
    assert _same_state(before, model) and all(p.grad is None for p in model.parameters())
    json.dumps(res.to_dict(), allow_nan=False)
    fig = res.plot()
    assert isinstance(fig, Figure) and len(fig.axes) == 2


def test_batch_size_search_with_a_sample_batch_and_loss(digits):
    (x, y), _ = digits
    res = batch_size_search(make_model, (x[:100], y[:100]), loss_fn=F.cross_entropy,
                            candidates=(16, 32), memory_budget="512MB", throughput_iters=1)
    assert res.train_batch_size == 32
    with pytest.raises(ValueError, match="smallest candidate"):
        batch_size_search(make_model, (64,), candidates=(16, 32), memory_budget=1000)


def test_cuda_probe_logic_on_a_simulated_device(monkeypatch):
    """The CUDA path's decisions (budget, OOM caught, probing stops) without a GPU: the
    allocator statistics are faked and the model 'runs out of memory' at batch 256."""
    from onecycle.search import batch_size as bsmod

    peak = {"v": 0}

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = nn.Linear(4, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if len(x) >= 256:
                raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
            peak["v"] = max(peak["v"], 1000 * len(x))
            return self.lin(x)

    fake = {
        "synchronize": lambda *a: None, "empty_cache": lambda: None,
        "mem_get_info": lambda *a: (200_000, 10**9), "memory_reserved": lambda *a: 0,
        "reset_peak_memory_stats": lambda *a: peak.update(v=0),
        "max_memory_allocated": lambda *a: peak["v"],
    }
    for k, v in fake.items():
        monkeypatch.setattr(torch.cuda, k, v)
    cpu = torch.device("cpu")
    from onecycle.progress import Progress

    grid = [16, 64, 128, 256, 512]
    opts = bsmod.BatchSizeOptions(safety=0.8, optimizer_slots=0, throughput_iters=1)
    out = bsmod._search_cuda(bsmod._Measure(Net(), bsmod._Batches((4,), cpu, 0), cpu, grid,
                                            grid, None, None, opts, Progress(0, "", progress=False)))
    train_bs, eval_bs, rows, method, budget, _, reason = out
    assert (train_bs, eval_bs, method, budget) == (128, 128, "cuda-probe", 200_000)
    by = {r["batch_size"]: r for r in rows}
    assert by[128]["train_bytes"] == 128_000 and by[128]["samples_per_s"] > 0
    assert by[256]["oom"] and not by[256]["fits_train"]
    assert by[512]["train_bytes"] is None  # probing stopped after the first failure
    assert "max_memory_allocated" in reason


def test_rescale_lr_rules():
    assert rescale_lr(0.1, 128, 512) == pytest.approx(0.4)
    assert rescale_lr(0.1, 128, 512, rule="sqrt") == pytest.approx(0.2)
    assert rescale_lr(0.4, 512, 128) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="rule"):
        rescale_lr(0.1, 128, 256, rule="cubic")
    with pytest.raises(ValueError, match="to_bs"):
        rescale_lr(0.1, 128, 0)


# ----------------------------------------------------------------------------- recipe


def test_recipe_batch_cap_keeps_enough_iterations():
    from onecycle.search.recipe import _default_batch_candidates as cands

    # 55k images, 3 epochs: 1000 iterations cap the batch at 165 -> 128, not 2048
    assert cands(55000, 20, 3, 1000)[-1] == 128
    assert cands(55000, 20, 3, 0)[-1] == 2048  # min_iterations=0: per-epoch cap only
    assert cands(1000, 20, 2, 1000)[-1] == 32  # never below 32
    assert cands(100, 20, 1, 0) == [5]  # tiny data: the per-epoch cap itself


def test_recipe_confirms_the_winner_against_smaller_weight_decays():
    from onecycle.search.rules import confirm_candidates as cands

    grid = [1e-2, 3e-3, 1e-3, 1e-4, 1e-5, 0.0, 1e-1]
    assert cands(grid, 1e-2) == [1e-2, 1e-3, 1e-4, 0.0]  # winner and smallest kept
    assert cands(grid, 1e-4) == [1e-4, 1e-5, 0.0]  # never above the winner
    assert cands(grid, 0.0) == [0.0]  # nothing to confirm


def test_recipe_end_to_end_on_digits(digits, tmp_path):
    train, val = digits
    r = recipe(make_model, make_sgd, F.cross_entropy, train, val, budget_epochs=6, quick=True)
    assert isinstance(r, Recipe)
    assert r.batch_size >= 8 and r.max_lr > 0 and r.epochs == 6 and r.style == "smith"
    assert r.weight_decay in (1e-3, 1e-4, 1e-5, 0.0)
    ev = r.evidence["weight_decay"]
    winner = next(row["value"] for row in ev["rows"] if row["selected"])
    if winner > 0:  # the range tests' winner was confirmed against smaller values
        c = ev["confirm"]
        assert max(c["values"]) == winner and min(c["values"]) == 0.0
        assert r.weight_decay == c["best"] and "then decided" in ev["reason"]
        # a quarter of the 6-epoch budget, rounded up: the decay's cost grows with the steps
        assert c["config"]["epochs"] == 2 and "2 epoch(s) of 1cycle" in ev["reason"]
    else:
        assert "confirm" not in ev and r.weight_decay == 0.0
    # the momentum runs are as long: one-epoch runs favour the most aggressive pair
    m = r.evidence["momentum"]
    assert m["config"]["epochs"] == 2 and "after 2 epoch(s)" in m["reason"]
    assert r.momentum == tuple(m["best"])
    assert set(r.reasons) == {"batch_size", "max_lr", "weight_decay", "momentum"}
    assert all(r.reasons.values())
    text = json.dumps(r.to_dict(), allow_nan=False)
    assert isinstance(json.loads(text)["evidence"]["max_lr"]["losses"], list)
    back = Recipe.load(r.save(tmp_path / "recipe.json"))
    assert back.to_dict() == r.to_dict()
    hist = back.train(make_model, make_sgd, F.cross_entropy, train, val)
    assert len(hist) == 6 and hist.meta["recipe"]["max_lr"] == r.max_lr
    assert hist[-1]["val_accuracy"] >= 0.9


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (lambda t: weight_decay_search(make_model, make_sgd, F.cross_entropy, t, grid=()),
         ValueError, "grid must not be empty"),
        (lambda t: weight_decay_search(make_model, make_sgd, F.cross_entropy, t,
                                       grid=(1e-3, -1e-4)), ValueError, r">= 0.*-0.0001"),
        (lambda t: weight_decay_search(make_model, make_sgd, F.cross_entropy, t,
                                       grid=(1e-3, 1e-3)), ValueError, "twice"),
        (lambda t: weight_decay_search(make_model, make_sgd, F.cross_entropy, t,
                                       grid=("big",)), TypeError, "real number"),
        (lambda t: weight_decay_search(make_model, make_sgd, F.cross_entropy, t, refine=-1),
         ValueError, "refine"),
        (lambda t: grid_search("dropout", [0.1, 1.5], None, make_model, make_sgd,
                               F.cross_entropy, t), ValueError, r"dropout p must be in \[0, 1\)"),
        (lambda t: grid_search("dropout", [], None, make_model, make_sgd, F.cross_entropy, t),
         ValueError, "values must not be empty"),
        (lambda t: grid_search("dropout", [0.1], None, make_model, make_sgd, F.cross_entropy, t,
                               mode="sweep"), ValueError, "mode must be"),
        (lambda t: grid_search("width", [1], None, make_model, make_sgd, F.cross_entropy, t),
         ValueError, "no built-in setter"),
        (lambda t: grid_search("dropout", [0.1], None, make_model, make_sgd, F.cross_entropy, t,
                               prefer="big"), ValueError, "prefer must be"),
        (lambda t: grid_search("dropout", [0.1], None, make_model, make_sgd, F.cross_entropy, t,
                               tolerance=-0.1), ValueError, "tolerance must be a finite number >= 0"),
        (lambda t: grid_search("dropout", [0.1, 0.2], None, make_model, make_sgd,
                               F.cross_entropy, t, mode="short_cycle", max_lr=0.1,
                               select="val_acc"), ValueError, "needs a val_loader"),
        (lambda t: grid_search("dropout", [0.1], None, make_model, make_sgd, F.cross_entropy, t,
                               mode="short_cycle", schedule={"div": -1}), ValueError, "div"),
        (lambda t: grid_search("dropout", [0.1], None, make_model, make_sgd, F.cross_entropy, t,
                               workers=0), ValueError, "workers"),
        (lambda t: momentum_search(make_model, make_sgd, F.cross_entropy, t, max_lr=0.1,
                                   pairs=[(0.95, 1.0)]), ValueError, r"\[0, 1\)"),
        (lambda t: momentum_search(make_model, make_sgd, F.cross_entropy, t, max_lr=0.1,
                                   pairs=[(0.9, 0.8, 0.7)]), TypeError, "pairs"),
        (lambda t: momentum_search(make_model, make_sgd, F.cross_entropy, t, max_lr=-1.0),
         ValueError, "max_lr must be a finite number > 0"),
        (lambda t: momentum_search(make_model, functools.partial(torch.optim.Adagrad, lr=0.1),
                                   F.cross_entropy, t, max_lr=0.1), ValueError,
         "no momentum-like"),
        (lambda t: batch_size_search(make_model, (64,), candidates=(0, 16)), ValueError,
         r">= 1.*0"),
        (lambda t: batch_size_search(make_model, (64,), candidates=()), ValueError, "non-empty"),
        (lambda t: batch_size_search(make_model, (64,), safety=1.5), ValueError, "safety"),
        (lambda t: batch_size_search(make_model, (64,), memory_budget="lots"), ValueError,
         "not a size"),
        (lambda t: batch_size_search(make_model, "64"), TypeError, "input_shape"),
        (lambda t: weight_decay_snapshot_search(make_model, make_sgd, F.cross_entropy, t, t,
                                                middle=1e-3, others=(1e-3,)), ValueError,
         "middle"),
        (lambda t: recipe(make_model, make_sgd, F.cross_entropy, [1, 2, 3], None,
                          budget_epochs=1), TypeError, "train_data"),
        (lambda t: recipe(make_model, make_sgd, F.cross_entropy, None, None, budget_epochs=0),
         ValueError, "budget_epochs"),
        (lambda t: recipe(make_model, make_sgd, F.cross_entropy, None, None, budget_epochs=2,
                          confirm_epochs=0), ValueError, "confirm_epochs"),
    ],
)
def test_bad_input_is_refused_clearly(loaders, call, exc, match):
    train, _ = loaders
    with pytest.raises(exc, match=match):
        call(train)


def test_recipe_round_trip_and_validation():
    r = Recipe(batch_size=32, max_lr=0.5, weight_decay=1e-4, momentum=(0.95, 0.85), epochs=3)
    assert r.div == 10 and r.final_div == 1000 and r.annihilate == 0.1
    assert Recipe.from_dict(r.to_json()).to_dict() == r.to_dict()
    assert r.schedule(10).total_steps == 30
    with pytest.raises(ValueError, match="max_lr"):
        Recipe(batch_size=32, max_lr=0.0, weight_decay=None, momentum=None, epochs=3)
    with pytest.raises(ValueError, match="not a recipe"):
        Recipe.from_dict({"batch_size": 3})
