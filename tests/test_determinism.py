"""Determinism: the same seed on the same CPU gives the same numbers, bit for bit.

* ``lr_find(seed=s)`` twice (even with the global RNGs disturbed in between, and in
  another process) -> identical LRs, raw and smoothed losses; other seeds -> other curves;
* ``Trainer(seed=s).fit_one_cycle`` twice -> identical per-iteration losses, LRs,
  momenta, epoch records and final weights; other seeds -> other losses.

Every source of randomness is in play: weight init, dropout, a shuffling DataLoader.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

from _fault_worker import finder_run  # noqa: E402
from _train_worker import blobs  # noqa: E402
from onecycle.finder import LRFinderResult

torch.set_num_threads(1)
WORKER = Path(__file__).with_name("_fault_worker.py")


def bits(a: np.ndarray) -> bytes:
    return np.ascontiguousarray(a, dtype=np.float64).tobytes()


def same_curve(a: LRFinderResult, b: LRFinderResult) -> bool:
    return all(bits(x) == bits(y) for x, y in
               ((a.lrs, b.lrs), (a.losses, b.losses), (a.smoothed, b.smoothed)))


def disturb_global_rngs() -> None:
    torch.rand(1000)
    np.random.rand(77)
    random.random()


# ----------------------------------------------------------------------------- range test


def test_finder_same_seed_identical_curve_bit_for_bit() -> None:
    a = finder_run(seed=7)
    disturb_global_rngs()
    b = finder_run(seed=7)
    assert len(a.lrs) > 5 and same_curve(a, b)
    assert a.stop_reason == b.stop_reason and a.stop_index == b.stop_index
    assert a.suggest() == b.suggest()


def test_finder_different_seeds_give_different_curves() -> None:
    a, b = finder_run(seed=7), finder_run(seed=8)
    assert bits(a.lrs[:5]) == bits(b.lrs[:5])  # the same sweep ...
    n = min(len(a.losses), len(b.losses))
    assert not np.array_equal(a.losses[:n], b.losses[:n])  # ... different batches/dropout


def test_finder_same_seed_identical_in_another_process(tmp_path: Path) -> None:
    out = tmp_path / "curve.json"
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONHASHSEED="123")
    subprocess.run([sys.executable, str(WORKER), "finder", "--path", str(out), "--seed", "7"],
                   check=True, env=env, capture_output=True, timeout=120)
    assert same_curve(LRFinderResult.load(out), finder_run(seed=7))


def test_finder_repeats_are_deterministic_too() -> None:
    def run() -> LRFinderResult:
        x, y = blobs(n=128)
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(12, 16), nn.Dropout(0.2), nn.Linear(16, 4))
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True)
        from onecycle.finder import lr_find

        return lr_find(model, opt, F.cross_entropy, loader, num_iter=12, repeats=3, seed=3,
                       start_lr=1e-4, end_lr=1.0, progress=False)

    a = run()
    disturb_global_rngs()
    b = run()
    assert same_curve(a, b) and a.band is not None and b.band is not None
    assert bits(a.band.curves) == bits(b.band.curves)
    assert all(same_curve(r, s) for r, s in zip(a.runs, b.runs))


# ----------------------------------------------------------------------------- training


def _fit(seed: int, epochs: int = 2) -> tuple[Any, Any]:
    from onecycle.train import Trainer

    x, y = blobs(n=256)
    torch.manual_seed(1234)  # the same initial weights for every seed
    model = nn.Sequential(nn.Linear(12, 32), nn.ReLU(), nn.Dropout(0.3), nn.Linear(32, 4))
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
    train = DataLoader(TensorDataset(x[:192], y[:192]), batch_size=32, shuffle=True)
    val = DataLoader(TensorDataset(x[192:], y[192:]), batch_size=64)
    disturb_global_rngs()
    t = Trainer(model, F.cross_entropy, opt, train, val, metrics=["accuracy"], seed=seed,
                progress=False)
    h = t.fit_one_cycle(epochs, max_lr=0.5)
    return t, h


def _records(h: Any) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k != "wall_time"} for r in h]


def test_training_same_seed_identical_history_and_weights() -> None:
    t1, h1 = _fit(seed=5)
    t2, h2 = _fit(seed=5)
    assert h1.iterations == 12
    assert h1.loss == h2.loss and h1.lr == h2.lr and h1.momentum == h2.momentum
    assert _records(h1) == _records(h2)
    s1, s2 = t1.model.state_dict(), t2.model.state_dict()
    assert all(torch.equal(s1[k], s2[k]) for k in s1)
    o1, o2 = t1.optimizer.state_dict()["state"], t2.optimizer.state_dict()["state"]
    assert all(torch.equal(o1[k]["momentum_buffer"], o2[k]["momentum_buffer"]) for k in o1)


def test_training_different_seeds_differ() -> None:
    (_, h1), (_, h2) = _fit(seed=5, epochs=1), _fit(seed=6, epochs=1)
    assert h1.lr == h2.lr  # the same schedule ...
    assert h1.loss != h2.loss  # ... different batch order and dropout masks


@pytest.mark.parametrize("second", ["fit", "fit_tail"])
def test_a_second_fit_is_deterministic_too(second: str) -> None:
    def run() -> tuple[list[float], dict[str, torch.Tensor]]:
        t, _ = _fit(seed=9, epochs=1)
        disturb_global_rngs()  # the same outside use of the RNGs in both runs
        if second == "fit":
            t.fit(1, lr=0.01)
        else:
            t.fit_tail(1)
        return t.history.loss, t.model.state_dict()

    (l1, s1), (l2, s2) = run(), run()
    assert l1 == l2 and all(torch.equal(s1[k], s2[k]) for k in s1)
