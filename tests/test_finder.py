"""The LR range test on real data (sklearn digits): curve, stop, restore, options, I/O."""

from __future__ import annotations

import copy
import json
import math
import os
import random
import tempfile

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

from onecycle.finder import (
    LRFinderResult,
    Suggestion,
    lr_find,
    lr_grid,
    preserved_state,
    smooth_curve,
)
from onecycle.finder.engine import DivergenceRule
from onecycle.plots.finder import plot_finder

torch.set_num_threads(1)


# ----------------------------------------------------------------------------- data, models


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = torch.tensor(X, dtype=torch.float32)
    y = torch.tensor(y)
    perm = torch.randperm(len(X), generator=torch.Generator().manual_seed(0))
    tr, te = perm[:1400], perm[1400:]
    mu, sd = X[tr].mean(0), X[tr].std(0) + 1.0
    X = (X - mu) / sd
    return X[tr], y[tr], X[te], y[te]


def loader(digits, batch_size=32, shuffle=True, n=None):
    X, y, _, _ = digits
    if n is not None:
        X, y = X[:n], y[:n]
    return DataLoader(TensorDataset(X, y), batch_size=batch_size, shuffle=shuffle)


def val_loader(digits, batch_size=64):
    _, _, X, y = digits
    return DataLoader(TensorDataset(X, y), batch_size=batch_size, shuffle=False)


def mlp(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))


class TinyCNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.drop = nn.Dropout(0.1)
        self.fc = nn.Linear(8 * 4 * 4, 10)

    def forward(self, x):
        x = x.view(-1, 1, 8, 8)
        x = F.max_pool2d(F.relu(self.bn(self.conv(x))), 2)
        return self.fc(self.drop(x.flatten(1)))


def cnn(seed=0):
    torch.manual_seed(seed)
    return TinyCNN()


def snapshot(model, opt):
    """Everything that must come back bit for bit."""
    return {
        "tensors": {k: v.detach().clone() for k, v in model.state_dict(keep_vars=True).items()},
        "grads": {n: None if p.grad is None else p.grad.clone() for n, p in model.named_parameters()},
        "modes": [m.training for m in model.modules()],
        "opt_state": copy.deepcopy(opt.state_dict()["state"]),
        "groups": [{k: copy.deepcopy(v) for k, v in g.items() if k != "params"}
                   for g in opt.param_groups],
        "torch_rng": torch.get_rng_state().clone(),
        "np_rng": np.random.get_state(),
        "py_rng": random.getstate(),
    }


def assert_same(a, b):
    assert a["tensors"].keys() == b["tensors"].keys()
    for k in a["tensors"]:
        assert torch.equal(a["tensors"][k], b["tensors"][k]), k
        assert a["tensors"][k].dtype == b["tensors"][k].dtype, k
    for k in a["grads"]:
        assert (a["grads"][k] is None) == (b["grads"][k] is None), k
        if a["grads"][k] is not None:
            assert torch.equal(a["grads"][k], b["grads"][k]), k
    assert a["modes"] == b["modes"]
    assert a["opt_state"].keys() == b["opt_state"].keys()
    for i in a["opt_state"]:
        assert a["opt_state"][i].keys() == b["opt_state"][i].keys()
        for k, v in a["opt_state"][i].items():
            w = b["opt_state"][i][k]
            if isinstance(v, torch.Tensor):
                assert torch.equal(v, w) and v.dtype == w.dtype, (i, k)
            else:
                assert v == w, (i, k)
    assert a["groups"] == b["groups"]
    assert torch.equal(a["torch_rng"], b["torch_rng"])
    sa, sb = a["np_rng"], b["np_rng"]
    assert sa[0] == sb[0] and np.array_equal(sa[1], sb[1]) and sa[2:] == sb[2:]
    assert a["py_rng"] == b["py_rng"]


def warm_up(model, opt, dl, steps=3):
    """A few real steps so the optimizer has momentum buffers / moments and grads exist."""
    for i, (xb, yb) in enumerate(dl):
        opt.zero_grad()
        F.cross_entropy(model(xb), yb).backward()
        opt.step()
        if i + 1 >= steps:
            break


def find(model, opt, dl, **kw):
    kw.setdefault("progress", False)
    kw.setdefault("start_lr", 1e-5)
    return lr_find(model, opt, F.cross_entropy, dl, **kw)


# ----------------------------------------------------------------------------- curve


@pytest.mark.parametrize("make", [mlp, cnn], ids=["mlp", "cnn"])
def test_curve_falls_then_rises(digits, make):
    model = make()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    res = find(model, opt, loader(digits), end_lr=10, num_iter=100)
    assert isinstance(res, LRFinderResult)
    n = len(res.lrs)
    assert len(res.losses) == len(res.smoothed) == n > 50
    assert np.all(np.isfinite(res.smoothed[:-1]))
    ys = smooth_curve(res.losses[np.isfinite(res.losses)])  # zero-phase, unlike the EMA
    i_min = int(np.argmin(ys))
    assert ys[i_min] < 0.3 * ys[0]
    assert 5 < i_min < n - 1
    # after the minimum the loss rises again (or the test stopped on divergence)
    assert res.diverged or res.losses[-5:].mean() > 2 * ys[i_min]
    s = res.suggest()
    assert s.lr is not None and res.lrs[0] < s.lr <= s.high < res.lrs[-1]
    # the pick is still in the valley: well below the starting loss
    assert ys[int(np.searchsorted(res.lrs, s.lr))] < 0.5 * ys[0]
    assert s.low <= s.lr <= s.high and s.confidence > 0.8


def test_early_stop_on_divergence(digits):
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    res = find(model, opt, loader(digits), end_lr=100, num_iter=100)
    assert res.diverged and res.stop_reason in ("diverged", "non-finite")
    assert len(res.lrs) < 100 and res.stop_index == len(res.lrs) - 1
    assert res.lrs[-1] < 100
    assert "stopped" in repr(res)


@pytest.mark.parametrize("mode", ["exp", "linear"])
def test_lr_spacing(digits, mode):
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    res = find(model, opt, loader(digits), start_lr=1e-3, end_lr=0.5, num_iter=30, mode=mode)
    assert res.mode == mode and not res.diverged
    np.testing.assert_array_equal(res.lrs, lr_grid(1e-3, 0.5, 30, mode))
    assert res.lrs[0] == 1e-3 and res.lrs[-1] == 0.5
    if mode == "exp":
        r = res.lrs[1:] / res.lrs[:-1]
        np.testing.assert_allclose(r, r[0], rtol=1e-9)
    else:
        np.testing.assert_allclose(np.diff(res.lrs), (0.5 - 1e-3) / 29, rtol=1e-9)


def test_loader_cycles_when_shorter_than_num_iter(digits):
    X, y, _, _ = digits
    batches = [(X[i : i + 16], y[i : i + 16]) for i in range(0, 48, 16)]  # 3 batches
    seen = []

    def step(model, batch):
        seen.append(round(batch[0].sum().item(), 4))
        return F.cross_entropy(model(batch[0]), batch[1])

    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    res = lr_find(model, opt, None, batches, start_lr=1e-5, end_lr=1e-2, num_iter=20,
                  step_fn=step, progress=False)
    assert len(res.lrs) == 20 and len(seen) == 20
    assert seen == [seen[i % 3] for i in range(20)] and len(set(seen[:3])) == 3

    def gen():
        yield from batches

    # (this call once built the optimizer from a second model, which lr_find now refuses)
    with pytest.raises(ValueError, match="restarted"):
        lr_find(model, torch.optim.SGD(model.parameters(), lr=0.1), F.cross_entropy, gen(),
                num_iter=10, progress=False)


# ----------------------------------------------------------------------------- restore


@pytest.mark.parametrize("restore", [True, "memory", "disk"])
@pytest.mark.parametrize("kind", ["sgd", "adam"])
def test_bit_for_bit_restore(digits, kind, restore, monkeypatch, tmp_path):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    model = cnn()
    dl = loader(digits)
    if kind == "sgd":
        opt = torch.optim.SGD(
            [{"params": model.conv.parameters(), "lr": 0.01},
             {"params": list(model.bn.parameters()) + list(model.fc.parameters())}],
            lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-4,
        )
    else:
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.99))
    warm_up(model, opt, dl)
    torch.optim.lr_scheduler.StepLR(opt, step_size=10)  # adds initial_lr to every group
    model.eval()
    model.bn.train()  # mixed modes must come back per sub-module
    torch.manual_seed(123)
    np.random.seed(7)
    random.seed(5)
    before = snapshot(model, opt)
    res = find(model, opt, dl, end_lr=10, num_iter=40, restore=restore,
               val_loader=val_loader(digits), val_every=10)
    assert len(res.lrs) > 10
    assert_same(before, snapshot(model, opt))
    # the disk snapshot is gone (torch may create its own cache folder in the temp dir)
    assert [p for p in tmp_path.iterdir() if p.name.startswith(("onecycle", ".onecycle"))] == []


def test_restore_after_exception_in_step_fn(digits):
    model = cnn()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    warm_up(model, opt, loader(digits))
    before = snapshot(model, opt)
    calls = []

    def step(m, batch):
        calls.append(1)
        if len(calls) == 7:
            raise RuntimeError("boom in step_fn")
        x, y = batch
        return F.cross_entropy(m(x), y)

    with pytest.raises(RuntimeError, match="boom in step_fn"):
        lr_find(model, opt, None, loader(digits), num_iter=30, step_fn=step, progress=False)
    assert len(calls) == 7
    assert_same(before, snapshot(model, opt))


def test_restore_false_keeps_the_trained_state_but_not_the_mode(digits):
    model = mlp().eval()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    w0 = model[0].weight.detach().clone()
    find(model, opt, loader(digits), start_lr=1e-3, end_lr=1e-1, num_iter=10, restore=False)
    assert not torch.equal(model[0].weight, w0)
    assert len(opt.state) > 0
    assert not model.training  # the mode always comes back


def test_eval_model_is_run_in_train_mode_and_frozen_submodules_stay_frozen(digits):
    model = cnn()
    model.bn.eval()  # frozen BN inside a training model: the finder must not unfreeze it
    modes = []

    def step(m, batch):
        if torch.is_grad_enabled():
            modes.append((m.training, m.bn.training))
        return F.cross_entropy(m(batch[0]), batch[1])

    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    lr_find(model, opt, None, loader(digits), num_iter=5, step_fn=step, progress=False)
    assert set(modes) == {(True, False)}
    model.eval()
    modes.clear()
    lr_find(model, opt, None, loader(digits), num_iter=5, step_fn=step, progress=False)
    assert set(modes) == {(True, True)}
    assert not model.training and not model.bn.training


def test_preserved_state_standalone_extras_and_keep(tmp_path):
    model = nn.Sequential(nn.Linear(3, 3), nn.BatchNorm1d(3))
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    before = snapshot(model, opt)
    with preserved_state(model, opt, "disk", extras=[sched], tmpdir=tmp_path):
        assert len(list(tmp_path.iterdir())) == 1
        model[1].eval()
        model(torch.randn(4, 3)).sum().backward()
        opt.step()
        sched.step()
        torch.rand(3)
    assert_same(before, snapshot(model, opt))
    assert sched.last_epoch == 0 and opt.param_groups[0]["lr"] == 0.1
    assert list(tmp_path.iterdir()) == []
    with preserved_state(model, opt) as snap:
        opt.param_groups[0]["lr"] = 0.5
        snap.keep()
    assert opt.param_groups[0]["lr"] == 0.5
    with pytest.raises(ValueError, match="where"):
        with preserved_state(model, opt, "cloud"):
            pass


# ----------------------------------------------------------------------------- options


def test_accumulation_matches_a_double_batch(digits):
    X, y, _, _ = digits
    small = [(X[i : i + 32], y[i : i + 32]) for i in range(0, 320, 32)]
    big = [(X[i : i + 64], y[i : i + 64]) for i in range(0, 320, 64)]
    calls = []

    def step(m, batch):
        calls.append(1)
        return F.cross_entropy(m(batch[0]), batch[1])

    results, weights = [], []
    for data, acc in ((small, 2), (big, 1)):
        model = mlp(1)
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        calls.clear()
        res = lr_find(model, opt, None, data, start_lr=1e-3, end_lr=0.3, num_iter=8,
                      accumulation_steps=acc, step_fn=step, restore=False, progress=False)
        assert len(calls) == acc * len(res.lrs)
        results.append(res)
        weights.append(model[0].weight.detach().clone())
    np.testing.assert_allclose(results[0].losses, results[1].losses, rtol=1e-5)
    torch.testing.assert_close(weights[0], weights[1], rtol=1e-4, atol=1e-6)


def test_per_group_ratios_are_kept(digits):
    model = mlp()
    opt = torch.optim.SGD([{"params": model[0].parameters(), "lr": 0.01},
                           {"params": model[2].parameters(), "lr": 0.1}], lr=0.05)
    seen = []

    def step(m, batch):
        seen.append([g["lr"] for g in opt.param_groups])
        return F.cross_entropy(m(batch[0]), batch[1])

    res = lr_find(model, opt, None, loader(digits), start_lr=1e-4, end_lr=1.0, num_iter=20,
                  step_fn=step, progress=False)
    seen = np.array(seen)
    np.testing.assert_allclose(seen[:, 0], res.lrs)
    np.testing.assert_allclose(seen[:, 1] / seen[:, 0], 10.0)
    assert [g["lr"] for g in opt.param_groups] == [0.01, 0.1]
    assert res.config["group_ratios"] == [1.0, 10.0]
    opt.param_groups[1]["lr"] = 0.0
    with pytest.raises(ValueError, match="param group 1 has lr=0.0"):
        lr_find(model, opt, F.cross_entropy, loader(digits), progress=False)


class CountingLoader:
    def __init__(self, dl):
        self.dl, self.pulled = dl, 0

    def __iter__(self):
        for b in self.dl:
            self.pulled += 1
            yield b


def test_val_samples_caps_the_cached_subset(digits):
    """``val_samples`` cuts the cached validation subset to that many samples, and the
    validation loss is exactly the loss on those samples."""
    model = cnn()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    seen = []

    def step(m, batch):
        if not m.training:
            seen.append(len(batch[0]))
        return F.cross_entropy(m(batch[0]), batch[1])

    res = lr_find(model, opt, None, loader(digits), start_lr=1e-4, end_lr=1e-3, num_iter=10,
                  step_fn=step, val_loader=val_loader(digits, batch_size=32), val_every=5,
                  val_samples=40, restore=True, progress=False)
    # two evaluations (iterations 5 and 10) over batches of 32 + 8 samples
    assert seen == [32, 8, 32, 8]
    assert len(res.val_losses) == 2
    with pytest.raises(ValueError, match="val_samples"):
        lr_find(model, opt, None, loader(digits), num_iter=5, step_fn=step,
                val_loader=val_loader(digits, batch_size=32), val_samples=0, progress=False)


def test_validation_curve(digits):
    model = cnn()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    vl = CountingLoader(val_loader(digits, batch_size=32))
    grad_modes = []

    def step(m, batch):
        grad_modes.append((torch.is_grad_enabled(), m.training))
        return F.cross_entropy(m(batch[0]), batch[1])

    res = lr_find(model, opt, None, loader(digits), start_lr=1e-4, end_lr=1.0, num_iter=40,
                  step_fn=step, val_loader=vl, val_every=10, val_batches=3, progress=False)
    assert vl.pulled == 3  # a fixed subset, read once
    assert len(res.val_lrs) == len(res.val_losses) == 4
    np.testing.assert_array_equal(res.val_lrs, res.lrs[[9, 19, 29, 39]])
    assert np.all(np.isfinite(res.val_losses))
    assert res.val_losses[-1] < res.val_losses[0]
    assert (False, False) in grad_modes and (True, True) in grad_modes
    assert not any(g and not t for g, t in grad_modes)
    assert res.suggest(on="val").method == "auto"


def test_repeats_band_and_seeds(digits):
    def run():
        model = mlp()
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        return find(model, opt, loader(digits), end_lr=10, num_iter=60, repeats=3, seed=11)

    res = run()
    assert res.band is not None and len(res.runs) == 3
    assert [r.config["seed"] for r in res.runs] == [11, 12, 13]
    b = res.band
    assert b.curves.shape[0] == 3 and b.n_runs == 3
    assert len(b.lrs) == len(res.lrs) == len(b.median) == min(len(r) for r in res.runs)
    ok = np.isfinite(b.median)
    assert np.all(b.low[ok] <= b.median[ok] + 1e-12) and np.all(b.median[ok] <= b.high[ok] + 1e-12)
    assert not np.array_equal(res.runs[0].losses[:20], res.runs[1].losses[:20])  # reshuffled
    s = res.suggest()
    per_run = [r.suggest().lr for r in res.runs]
    assert s.lr is not None and s.low <= min(per_run) and s.high >= max(per_run)
    assert "3 runs" in s.reason
    again = run()
    np.testing.assert_array_equal(again.losses, res.losses)  # same seed, same curves


def test_repeats_start_from_the_same_state_even_without_restore(digits):
    X, y, _, _ = digits
    data = [(X[i : i + 32], y[i : i + 32]) for i in range(0, 320, 32)]  # fixed order
    model = cnn()
    model.drop.p = 0.0  # the runs' seeds differ; only the data order may carry randomness
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    w0 = model.conv.weight.detach().clone()
    res = find(model, opt, data, end_lr=1.0, num_iter=15, repeats=2, seed=0, restore=False)
    np.testing.assert_array_equal(res.runs[0].losses, res.runs[1].losses)
    assert not torch.equal(model.conv.weight, w0)  # the last run's state is kept


# ----------------------------------------------------------------------------- stop rule


def synthetic_losses(n=100, seed=0):
    rng = np.random.default_rng(seed)
    t = np.linspace(-6, 1, n)
    y = 2.0 - 1.8 / (1 + np.exp(-3 * (t + 2))) + np.where(t > -0.5, np.expm1(3 * (t + 0.5)), 0)
    return y + 0.05 * rng.standard_normal(n)


def scripted_find(values, **kw):
    p = nn.Parameter(torch.zeros(1, dtype=torch.float64))
    model = nn.Module()
    model.p = p
    opt = torch.optim.SGD([p], lr=0.1)
    it = iter(values)

    def step(m, batch):
        return m.p.sum() * 0 + torch.tensor(next(it), dtype=torch.float64)

    kw.setdefault("num_iter", len(values))
    return lr_find(model, opt, None, [0], step_fn=step, progress=False, **kw)


def test_stop_step_is_shift_and_scale_invariant():
    y = synthetic_losses()
    base = scripted_find(y)
    assert base.stop_reason == "diverged" and 50 < base.stop_index < 99
    for shift, scale in ((-1e6, 1.0), (-50.0, 1.0), (-3.0, 7.0)):
        res = scripted_find(y * scale + shift)
        assert np.all(res.losses < 0) or shift > -5
        assert res.stop_index == base.stop_index, (shift, scale)
    # the classic "smoothed > diverge * best" would stop at once on negative losses:
    res = scripted_find(y - 1e6)
    assert res.stop_index == base.stop_index and len(res.lrs) > 50


def test_divergence_rule_threshold():
    rule = DivergenceRule(diverge=4.0, warmup=5)
    for v in [3.0, 3.0, 3.0, 3.0, 3.0, 2.0, 1.0]:  # descent of 2 from ref 3
        assert not rule.update(v, v)
    assert not rule.update(6.9, 6.9)  # rise 5.9 <= 3 * 2
    assert rule.update(7.1, 7.1)  # rise 6.1 > 3 * 2
    never = DivergenceRule(diverge=math.inf)
    assert not any(never.update(v, v) for v in [1.0] * 6 + [1e9])
    const = DivergenceRule(4.0, 5)
    assert not any(const.update(0.1 + 1e-17 * i, 0.1 + 1e-17 * i) for i in range(50))


def test_nan_loss_stops_without_stepping():
    y = list(synthetic_losses()[:40])
    y[30] = math.nan
    p = nn.Parameter(torch.zeros(1, dtype=torch.float64))
    model = nn.Module()
    model.p = p
    opt = torch.optim.SGD([p], lr=0.1)
    steps = []
    opt.register_step_post_hook(lambda *a: steps.append(1))
    it = iter(y)

    def step(m, batch):
        return m.p.sum() * 0 + torch.tensor(next(it), dtype=torch.float64)

    res = lr_find(model, opt, None, [0], num_iter=40, step_fn=step, diverge=math.inf,
                  progress=False)
    assert res.stop_reason == "non-finite" and res.stop_index == 30 and res.diverged
    assert len(res.lrs) == 31 and math.isnan(res.losses[-1])
    assert len(steps) == 30  # no optimizer step on the NaN point


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "kw, exc, match",
    [
        ({"start_lr": 0.0}, ValueError, "start_lr"),
        ({"start_lr": -1e-3}, ValueError, "start_lr"),
        ({"start_lr": math.nan}, ValueError, "start_lr"),
        ({"end_lr": math.inf}, ValueError, "end_lr"),
        ({"start_lr": 1.0, "end_lr": 0.1}, ValueError, "start_lr must be < end_lr"),
        ({"start_lr": 0.1, "end_lr": 0.1}, ValueError, "start_lr must be < end_lr"),
        ({"start_lr": "1e-3"}, TypeError, "start_lr"),
        ({"num_iter": 1}, ValueError, "num_iter"),
        ({"num_iter": 10.5}, TypeError, "num_iter"),
        ({"mode": "log"}, ValueError, "mode must be 'exp' or 'linear', got 'log'"),
        ({"smooth": 1.0}, ValueError, "smooth must be in"),
        ({"smooth": -0.1}, ValueError, "smooth"),
        ({"diverge": 1.0}, ValueError, "diverge must be > 1"),
        ({"diverge": math.nan}, ValueError, "diverge"),
        ({"accumulation_steps": 0}, ValueError, "accumulation_steps"),
        ({"repeats": 0}, ValueError, "repeats"),
        ({"restore": "cloud"}, ValueError, "restore"),
        ({"val_every": 0}, ValueError, "val_every"),
        ({"val_batches": 0}, ValueError, "val_batches"),
        ({"seed": -1}, ValueError, "seed"),
    ],
)
def test_bad_arguments(digits, kw, exc, match):
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    before = model[0].weight.detach().clone()
    with pytest.raises(exc, match=match):
        lr_find(model, opt, F.cross_entropy, loader(digits), progress=False, **kw)
    assert torch.equal(model[0].weight, before)


def test_bad_batches_and_losses(digits):
    X, y, _, _ = digits
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(TypeError, match=r"\(inputs, targets\) pair.*dict"):
        lr_find(model, opt, F.cross_entropy, [{"x": X[:4], "y": y[:4]}], progress=False)
    with pytest.raises(TypeError, match="pair.*tuple of length 3"):
        lr_find(model, opt, F.cross_entropy, [(X[:4], y[:4], y[:4])], progress=False)
    with pytest.raises(ValueError, match=r"scalar.*shape \(4,\)"):
        lr_find(model, opt, lambda o, t: F.cross_entropy(o, t, reduction="none"),
                [(X[:4], y[:4])], progress=False)
    with pytest.raises(ValueError, match="does not require grad"):
        lr_find(model, opt, lambda o, t: F.cross_entropy(o, t).detach(), [(X[:4], y[:4])],
                progress=False)
    with pytest.raises(ValueError, match="train_loader yielded no batches"):
        lr_find(model, opt, F.cross_entropy, [], progress=False)
    with pytest.raises(ValueError, match="val_loader yielded no batches"):
        lr_find(model, opt, F.cross_entropy, [(X[:4], y[:4])], val_loader=[], progress=False)
    with pytest.raises(TypeError, match="loss_fn must be callable"):
        lr_find(model, opt, None, [(X[:4], y[:4])], progress=False)
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        lr_find("model", opt, F.cross_entropy, [(X[:4], y[:4])], progress=False)
    dict_step = lr_find(model, opt, None, [{"x": X[:8], "y": y[:8]}], num_iter=3, progress=False,
                        step_fn=lambda m, b: F.cross_entropy(m(b["x"]), b["y"]), device="cpu")
    assert len(dict_step.lrs) == 3


def test_progress_bar(digits, capsys, monkeypatch):
    """onecycle.progress semantics: a bar on a terminal, bounded lines in a log, nothing
    for short work or with progress=False."""
    import sys

    import onecycle.progress

    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with monkeypatch.context() as m:
        m.setattr(sys.stderr, "isatty", lambda: True, raising=False)
        find(model, opt, loader(digits), num_iter=5, progress=True)
    assert "lr_find" in capsys.readouterr().err
    now = [0.0]

    def clock():  # every reading half a second later: the work "takes" long
        now[0] += 0.5
        return now[0]

    monkeypatch.setattr(onecycle.progress.time, "monotonic", clock)
    find(model, opt, loader(digits), num_iter=50, progress=True)  # stderr is not a TTY
    lines = capsys.readouterr().err.splitlines()
    assert 1 <= len(lines) <= 11 and all(t.startswith("lr_find: ") for t in lines)
    assert "/50" in lines[-1] and "loss" in lines[-1] and "lr" in lines[-1]
    find(model, opt, loader(digits), num_iter=50, progress=False)
    assert capsys.readouterr().err == ""
    monkeypatch.undo()
    monkeypatch.setenv("CI", "true")
    find(model, opt, loader(digits), num_iter=5, progress=None)
    assert capsys.readouterr().err == ""


# ----------------------------------------------------------------------------- result I/O, plots


def test_json_round_trip(digits, tmp_path):
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    res = find(model, opt, loader(digits), end_lr=100, num_iter=60, repeats=2, seed=0,
               val_loader=val_loader(digits), val_every=10)
    res.losses[3] = np.nan  # non-finite values survive the trip
    res.smoothed[4] = np.inf
    path = res.save(tmp_path / "sub" / "lr.json")
    assert [p.name for p in path.parent.iterdir()] == ["lr.json"]  # no temp file left
    json.loads(path.read_text())  # strict JSON (no NaN tokens)
    back = LRFinderResult.load(path)
    for name in ("lrs", "losses", "smoothed", "val_lrs", "val_losses"):
        np.testing.assert_array_equal(getattr(back, name), getattr(res, name))
    assert (back.mode, back.diverged, back.stop_reason, back.stop_index) == (
        res.mode, res.diverged, res.stop_reason, res.stop_index)
    np.testing.assert_array_equal(back.band.curves, res.band.curves)
    np.testing.assert_array_equal(back.band.high, res.band.high)
    assert len(back.runs) == 2 and back.config == res.config
    assert back.suggest() == res.suggest()
    assert repr(back) == repr(res)
    with pytest.raises(ValueError, match="not an lr_find result"):
        LRFinderResult.from_dict({"format": "other"})


def test_repr_is_readable(digits):
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    r = repr(find(model, opt, loader(digits), end_lr=10, num_iter=50))
    assert r.startswith("LRFinderResult(50 points") or "stopped" in r
    assert "lr 1e-05 -> " in r and "(exp)" in r and "suggested lr" in r


def test_plots(digits):
    from matplotlib.figure import Figure

    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    res = find(model, opt, loader(digits), end_lr=100, num_iter=60,
               val_loader=val_loader(digits), val_every=10)
    fig = res.plot(suggestions=("auto", "valley", "steep"))
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any(t.startswith("auto:") for t in labels) and any("stopped" in t for t in labels)
    lin = find(model, opt, loader(digits), start_lr=1e-3, end_lr=1.0, num_iter=20, mode="linear")
    assert lin.plot().axes[0].get_xscale() == "linear"
    assert res.plot(log=False).axes[0].get_xscale() == "linear"
    band = find(model, opt, loader(digits), end_lr=10, num_iter=40, repeats=2, seed=1)
    assert isinstance(band.plot(), Figure)
    fig2 = plot_finder([res, band], ["wd=0", "wd=1e-4"])
    assert isinstance(fig2, Figure) and fig2.axes[0].get_xscale() == "log"
    assert len(fig2.axes[0].get_lines()) >= 4  # two curves, two markers
    fig3 = Figure()
    ax3 = fig3.add_subplot()
    assert plot_finder(res, ax=ax3, suggest=None) is fig3
    fig.savefig(os.devnull, format="png")


def test_no_suggestion_on_a_flat_sweep(digits):
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    res = find(model, opt, loader(digits), start_lr=1e-7, end_lr=1e-6, num_iter=40)
    s = res.suggest()
    assert isinstance(s, Suggestion) and s.lr is None and "flat" in s.reason
    assert "no suggestion" in repr(res)


# ----------------------------------------------------------------------------- 1cycle at the suggestion


@pytest.mark.parametrize("kind", ["sgd", "adam"])
def test_one_cycle_at_suggested_lr_trains_well(digits, kind):
    X, y, Xte, yte = digits
    model = mlp(3)
    if kind == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    dl = loader(digits)
    res = find(model, opt, dl, end_lr=10, num_iter=100, seed=0)
    s = res.suggest()
    assert s.lr is not None and s.confidence > 0.5
    epochs = 3
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=s.lr, epochs=epochs,
                                                steps_per_epoch=len(dl))
    torch.manual_seed(0)
    model.train()
    for _ in range(epochs):
        for xb, yb in dl:
            opt.zero_grad()
            F.cross_entropy(model(xb), yb).backward()
            opt.step()
            sched.step()
    model.eval()
    with torch.no_grad():
        acc = (model(Xte).argmax(1) == yte).float().mean().item()
    assert acc >= 0.93, (s, acc)


def test_epoch_counting_loader_is_put_back(digits):
    """A TensorLoader counts epochs as it is iterated; after the test the next epoch
    must be the one a training loop would have seen without the test."""
    from onecycle.data import TensorLoader

    X, y, _, _ = digits
    tl = TensorLoader((X, y), batch_size=32, shuffle=True, seed=3)
    tl.set_epoch(2)
    expected = tl.order(2).clone()
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    find(model, opt, tl, end_lr=1, num_iter=120)  # more than one pass over the data
    assert tl.epoch == 2
    first = next(iter(tl))[1]
    assert torch.equal(first, y[expected[:32]])
