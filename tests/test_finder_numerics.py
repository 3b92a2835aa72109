"""lr_find under the step contract: numerics (amp, grad_clip, accumulation, device),
step outputs (tensor, dict, .loss objects), options grouped or as keywords."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from onecycle.finder import FinderOptions, LRFinderResult, lr_find
from onecycle.step import Numerics

torch.set_num_threads(1)


def _data(n: int = 256, seed: int = 0) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 8, generator=g)
    y = (x[:, :3].sum(1) > 0).long()
    return [(x[i:i + 32], y[i:i + 32]) for i in range(0, n, 32)]


def _model(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))


def _find(model: nn.Module, **kw):
    opt = kw.pop("opt", None) or torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    kw.setdefault("progress", False)
    kw.setdefault("start_lr", 1e-4)
    kw.setdefault("end_lr", 1.0)
    kw.setdefault("num_iter", 20)
    return lr_find(model, opt, kw.pop("loss_fn", F.cross_entropy), kw.pop("data", _data()), **kw)


def _grad_norm(params) -> float:
    return float(torch.linalg.vector_norm(
        torch.stack([torch.linalg.vector_norm(p.grad) for p in params if p.grad is not None])))


# ----------------------------------------------------------------------------- clipping


def test_grad_clip_records_the_norm_before_clipping_and_clips():
    model = _model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    after = []  # the norm the optimizer sees, after clipping
    opt.register_step_pre_hook(lambda o, a, k: after.append(_grad_norm(model.parameters())))
    res = _find(model, opt=opt, grad_clip=0.05, end_lr=10.0, num_iter=30)
    steps = len(after)
    assert len(res.grad_norms) == len(res.lrs) and steps >= len(res.lrs) - 1
    recorded = res.grad_norms[:steps]
    assert np.all(np.isfinite(recorded)) and np.all(recorded > 0.05)  # before clipping
    assert max(after) <= 0.05 * (1 + 1e-5)  # the optimizer only saw clipped gradients
    if res.stop_index is not None:  # no step on the stop point: no norm either
        assert math.isnan(res.grad_norms[res.stop_index])
    assert res.config["grad_clip"] == 0.05


def test_without_clipping_no_norms_are_recorded():
    res = _find(_model())
    assert len(res.grad_norms) == 0 and res.config["grad_clip"] is None


def test_clipping_changes_the_curve_and_restores_everything():
    a = _find(_model(), seed=0, end_lr=10.0, num_iter=40)
    model = _model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    b = _find(model, seed=0, end_lr=10.0, num_iter=40, grad_clip=0.01)
    assert not np.array_equal(a.losses[5:20], b.losses[5:20])
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_grad_norms_survive_json_and_repeats(tmp_path):
    res = _find(_model(), grad_clip=0.5, repeats=2, seed=3)
    assert len(res.grad_norms) == len(res.lrs) and all(len(r.grad_norms) for r in res.runs)
    back = LRFinderResult.load(res.save(tmp_path / "r.json"))
    np.testing.assert_array_equal(back.grad_norms, res.grad_norms)
    np.testing.assert_array_equal(back.runs[1].grad_norms, res.runs[1].grad_norms)


# ----------------------------------------------------------------------------- numerics grouped


def test_numerics_object_and_keywords_give_the_same_curve():
    kw = {"seed": 0, "num_iter": 12}
    a = _find(_model(), numerics=Numerics(grad_clip=0.5, accumulation_steps=2), **kw)
    b = _find(_model(), grad_clip=0.5, accumulation_steps=2, **kw)
    np.testing.assert_array_equal(a.losses, b.losses)
    np.testing.assert_array_equal(a.grad_norms, b.grad_norms)
    assert a.config["accumulation_steps"] == 2


def test_a_keyword_overrides_the_groups_field():
    res = _find(_model(), numerics=Numerics(grad_clip=0.5), grad_clip=0.25,
                options=FinderOptions(repeats=2, seed=1), repeats=3)
    assert res.config["grad_clip"] == 0.25 and len(res.runs) == 3
    assert res.config["seed"] == 1


def test_options_object_is_the_same_as_its_keywords():
    v = _data(64, seed=1)
    opts = FinderOptions(smooth=0.9, diverge=3.0, val_loader=v, val_every=5, seed=2)
    a = _find(_model(), options=opts)
    b = _find(_model(), smooth=0.9, diverge=3.0, val_loader=v, val_every=5, seed=2)
    np.testing.assert_array_equal(a.losses, b.losses)
    np.testing.assert_array_equal(a.val_losses, b.val_losses)
    assert a.config == b.config and a.config["smooth"] == 0.9


def test_threads_are_set_for_the_test_and_put_back():
    seen = []

    def step(m, b):
        seen.append(torch.get_num_threads())
        return F.cross_entropy(m(b[0]), b[1])

    before = torch.get_num_threads()
    _find(_model(), loss_fn=None, step_fn=step, threads=1, num_iter=3)
    assert set(seen) == {1} and torch.get_num_threads() == before


# ----------------------------------------------------------------------------- amp


def test_bf16_autocast_on_cpu():
    dtypes = []

    def step(m, b):
        out = m(b[0])
        if torch.is_grad_enabled():
            dtypes.append(out.dtype)
        return F.cross_entropy(out, b[1])

    res = _find(_model(), loss_fn=None, step_fn=step, amp="bf16", num_iter=10)
    assert set(dtypes) == {torch.bfloat16} and len(res.lrs) == 10
    assert res.config["amp"] == "bf16" and np.all(np.isfinite(res.losses))


def test_fp16_skipped_steps_are_counted():
    """A step whose gradients overflow is skipped by the GradScaler (the loss itself is
    finite, so the test goes on); the result counts it."""
    calls = {"n": 0}

    def step(m, b):
        calls["n"] += 1
        loss = F.cross_entropy(m(b[0]), b[1])
        if calls["n"] == 4:
            loss.register_hook(lambda g: g * math.inf)  # inf gradients, finite loss
        return loss

    model = _model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    res = _find(model, loss_fn=None, step_fn=step, amp="fp16", num_iter=10, grad_clip=10.0)
    assert len(res.lrs) == 10 and res.stop_reason == "completed"
    assert res.config["skipped_steps"] == 1 and res.config["amp"] == "fp16"
    assert math.isnan(res.grad_norms[3]) and np.isfinite(res.grad_norms[4])
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    plain = _find(_model(), num_iter=5)
    assert plain.config["skipped_steps"] == 0


def test_bad_amp_is_refused_by_name():
    with pytest.raises(ValueError, match="amp must be None, 'bf16' or 'fp16'"):
        _find(_model(), amp="fp8")


# ----------------------------------------------------------------------------- step outputs


@pytest.mark.parametrize("wrap", ["tensor", "dict", "object"])
def test_step_fn_may_return_a_dict_or_an_object_with_loss(wrap):
    def step(m, b):
        logits = m(b["x"])
        loss = F.cross_entropy(logits, b["labels"])
        if wrap == "dict":
            return {"loss": loss, "logits": logits}
        if wrap == "object":  # a Hugging Face ModelOutput-like result
            return SimpleNamespace(loss=loss, logits=logits)
        return loss

    data = [{"x": x, "labels": y} for x, y in _data()]
    res = _find(_model(), loss_fn=None, step_fn=step, data=data, seed=0,
                val_loader=data[:2], val_every=5)
    ref = _find(_model(), seed=0, val_loader=_data()[:2], val_every=5)
    np.testing.assert_array_equal(res.losses, ref.losses)
    np.testing.assert_array_equal(res.val_losses, ref.val_losses)


def test_a_result_without_loss_is_a_clear_type_error():
    with pytest.raises(TypeError, match="without a 'loss' entry"):
        _find(_model(), loss_fn=None, step_fn=lambda m, b: {"logits": m(b[0])})
