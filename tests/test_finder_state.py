"""One home for the RNG helpers (onecycle._rng) and the host-memory snapshot."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from onecycle import _rng
from onecycle.finder import StateSnapshot, lr_find, preserved_state
from onecycle.finder import state as finder_state

torch.set_num_threads(1)


def _draw() -> tuple[float, float, float]:
    return random.random(), float(np.random.rand()), float(torch.rand(1))


def test_rng_state_round_trip_every_generator():
    _rng.seed_everything(5)
    s = _rng.rng_state()
    a = _draw()
    _draw()
    _rng.set_rng_state(s)
    assert _draw() == a


def test_rng_state_is_weights_only_safe(tmp_path):
    s = _rng.rng_state()
    a = _draw()
    torch.save(s, tmp_path / "rng.pt")
    back = torch.load(tmp_path / "rng.pt", weights_only=True)
    _rng.set_rng_state(back)
    assert _draw() == a


def test_seed_everything_is_deterministic_and_checks_the_seed():
    _rng.seed_everything(11)
    a = _draw()
    _rng.seed_everything(11)
    assert _draw() == a
    _rng.seed_everything(2**40)  # numpy takes it modulo 2**32
    with pytest.raises(ValueError, match=r"seed must be an integer in \[0, "):
        _rng.seed_everything(2**70)
    with pytest.raises(TypeError, match="seed"):
        _rng.seed_everything("1")


def test_old_names_are_the_shared_helpers():
    assert finder_state.rng_state is _rng.rng_state
    assert finder_state.set_rng_state is _rng.set_rng_state


def test_partial_state_leaves_the_rest_alone():
    torch.manual_seed(0)
    t = torch.get_rng_state()
    random.seed(1)
    _rng.set_rng_state({"torch": t})  # no python/numpy keys: those are not touched
    assert torch.equal(torch.get_rng_state(), t)


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))


def test_restore_cpu_is_the_host_memory_snapshot():
    g = torch.Generator().manual_seed(0)
    data = [(torch.randn(16, 4, generator=g), torch.randint(0, 3, (16,), generator=g))
            for _ in range(4)]
    model = _model()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rng = torch.get_rng_state()
    res = lr_find(model, opt, F.cross_entropy, data, num_iter=8, restore="cpu", progress=False)
    assert len(res.lrs) == 8
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert len(opt.state) == 0 and torch.equal(torch.get_rng_state(), rng)
    snap = StateSnapshot(model, opt, where="cpu")
    assert snap.where == "memory" and snap.path is None
    snap.close()
    with preserved_state(model, opt, "cpu"):
        with torch.no_grad():
            model[0].weight.add_(1.0)
    assert torch.equal(model[0].weight, before["0.weight"])


def test_snapshot_where_is_checked():
    with pytest.raises(ValueError, match="where must be one of 'memory', 'cpu', 'disk'"):
        StateSnapshot(_model(), where="gpu")
