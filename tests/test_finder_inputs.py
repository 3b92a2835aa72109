"""Bad input to the range test (issue #20): each one refused with an error that names it,
before anything is touched; files that cannot be written or read say which file."""

from __future__ import annotations

import errno
import json
import os
import tempfile

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from onecycle.finder import FinderOptions, LRFinderResult, lr_find

torch.set_num_threads(1)


def _data() -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 4, generator=g)
    y = torch.randint(0, 3, (64,), generator=g)
    return [(x[i:i + 16], y[i:i + 16]) for i in range(0, 64, 16)]


@pytest.fixture
def setup():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for x, y in _data()[:2]:  # momentum buffers exist
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    return model, opt, state


def _untouched(model, opt, state) -> bool:
    same = all(torch.equal(state[k], v) for k, v in model.state_dict().items())
    return same and opt.param_groups[0]["lr"] == 0.1 and len(opt.state) == 4


@pytest.mark.parametrize(
    "kw, exc, match",
    [
        ({"seed": 2**70}, ValueError, r"seed must be an integer in \[0, 9223372036854775807\]"),
        ({"seed": 1.5}, TypeError, "seed must be an integer"),
        ({"seed": 2**63 - 1, "repeats": 2}, ValueError, "seed \\+ repeats - 1"),
        ({"device": "bogus"}, ValueError, "device='bogus' is not a torch device name"),
        ({"device": 3.5}, TypeError, "device must be"),
        ({"start_lr": "1e-3"}, TypeError, r"start_lr must be a real number, got '1e-3' \(str\)"),
        ({"start_lr": True}, TypeError, "start_lr must be a real number, got True"),
        ({"end_lr": "10"}, TypeError, "end_lr must be a real number"),
        ({"num_iter": True}, TypeError, "num_iter must be an integer.*got True"),
        ({"num_iter": "100"}, TypeError, "num_iter must be an integer"),
        ({"smooth": "0.9"}, TypeError, "smooth must be a real number"),
        ({"diverge": True}, TypeError, "diverge must be a real number"),
        ({"repeats": True}, TypeError, "repeats must be an integer"),
        ({"val_every": 2.5}, TypeError, "val_every must be an integer"),
        ({"grad_clip": "a"}, TypeError, "grad_clip must be a number > 0, 'auto' or None, got 'a'"),
        ({"grad_clip": 0}, ValueError, "grad_clip must be a number > 0, 'auto' or None, got 0"),
        ({"accumulation_steps": True}, TypeError, "accumulation_steps must be an integer"),
        ({"restore": "gpu"}, ValueError, "restore must be one of True, False, 'memory'"),
        ({"restore": 1}, ValueError, "restore must be one of"),
        ({"progress": "yes"}, ValueError, "progress must be"),
        ({"threads": 0}, ValueError, "threads must be an integer >= 1"),
        ({"mode": "log"}, ValueError, "mode must be 'exp' or 'linear', got 'log'"),
        ({"learning_rate": 0.1}, TypeError, r"unexpected keyword argument\(s\) 'learning_rate'"),
        ({"options": {"seed": 1}}, TypeError, "options must be a FinderOptions"),
        ({"numerics": {"amp": "bf16"}}, TypeError, "numerics must be an onecycle.step.Numerics"),
    ],
)
def test_bad_arguments_are_refused_by_name(setup, kw, exc, match):
    model, opt, state = setup
    kw = {"num_iter": 5, "progress": False, **kw}
    with pytest.raises(exc, match=match):
        lr_find(model, opt, F.cross_entropy, _data(), **kw)
    assert _untouched(model, opt, state)


def test_an_optimizer_over_another_model_is_refused(setup):
    """Issue #20 item 10: it trains nothing, silently, and records a flat curve."""
    model, _, state = setup
    other = nn.Linear(4, 3)
    opt = torch.optim.SGD(other.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="optimizer holds none of the model's trainable"):
        lr_find(model, opt, F.cross_entropy, _data(), num_iter=5, progress=False)
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())
    # an optimizer over part of the model is fine (e.g. the head only)
    head = torch.optim.SGD(model[2].parameters(), lr=0.1)
    assert len(lr_find(model, head, F.cross_entropy, _data(), num_iter=5, progress=False)) == 5


def test_a_model_without_trainable_parameters_is_refused(setup):
    model, opt, state = setup
    for p in model.parameters():
        p.requires_grad_(False)
    with pytest.raises(ValueError, match="model has no trainable parameters"):
        lr_find(model, opt, F.cross_entropy, _data(), num_iter=5, progress=False)


def test_a_detached_loss_is_refused(setup):
    model, opt, state = setup
    with pytest.raises(ValueError, match=r"loss \(loss_fn result\) does not require grad"):
        lr_find(model, opt, lambda o, t: F.cross_entropy(o, t).detach(), _data(),
                num_iter=5, progress=False)
    with pytest.raises(ValueError, match=r"loss \(step_fn result\) does not require grad"):
        lr_find(model, opt, None, _data(), num_iter=5, progress=False,
                step_fn=lambda m, b: F.cross_entropy(m(b[0]), b[1]).detach())
    assert _untouched(model, opt, state)


# ----------------------------------------------------------------------------- files


def _enospc_fsync(real):
    def fsync(fd: int) -> None:
        if os.path.isfile(f"/proc/self/fd/{fd}"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(fd)

    return fsync


def test_restore_disk_with_a_full_temp_dir_names_the_file(setup, tmp_path, monkeypatch):
    model, opt, state = setup
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(os, "fsync", _enospc_fsync(os.fsync))
    with pytest.raises(OSError, match=r"could not write the state snapshot .*onecycle-state-"
                                      r".*No space left on device.*restore='memory'") as info:
        lr_find(model, opt, F.cross_entropy, _data(), num_iter=5, progress=False,
                restore="disk")
    assert str(tmp_path) in str(info.value) and info.value.errno == errno.ENOSPC
    monkeypatch.undo()
    assert _untouched(model, opt, state)
    assert [p for p in tmp_path.iterdir() if "onecycle" in p.name] == []


def test_restore_disk_torch_stream_error_is_wrapped(setup, tmp_path, monkeypatch):
    """torch's own writer reports a full disk as 'basic_ios::clear: iostream error'."""
    model, opt, state = setup

    def save(obj, f, *a, **k):
        raise RuntimeError("[enforce fail at inline_container.cc:603] . unexpected pos; "
                           "basic_ios::clear: iostream error")

    monkeypatch.setattr(torch, "save", save)
    with pytest.raises(OSError, match=r"state snapshot .*iostream error.*restore='memory'"):
        lr_find(model, opt, F.cross_entropy, _data(), num_iter=5, progress=False,
                restore=FinderOptions(restore="disk").restore, threads=None)
    monkeypatch.undo()
    assert _untouched(model, opt, state)


def test_result_save_on_a_full_disk_names_the_file(tmp_path, monkeypatch):
    lrs = np.geomspace(1e-4, 1, 12)
    res = LRFinderResult(lrs, np.linspace(2, 1, 12), np.linspace(2, 1, 12))
    target = tmp_path / "finder.json"
    monkeypatch.setattr(os, "fsync", _enospc_fsync(os.fsync))
    with pytest.raises(OSError, match=r"could not write .*finder\.json.*No space left"):
        res.save(target)
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []


def test_result_load_of_deeply_nested_json_is_a_value_error(tmp_path):
    p = tmp_path / "deep.json"
    p.write_text('{"lrs": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(ValueError, match=r"deep\.json.*nests deeper"):
        LRFinderResult.load(p)
    runs = {"lrs": [0.1], "losses": [1.0], "smoothed": [1.0]}
    for _ in range(40):  # nested runs: refused by depth, never a RecursionError
        runs = {"lrs": [0.1], "losses": [1.0], "smoothed": [1.0], "runs": [runs]}
    p.write_text(json.dumps(runs))
    with pytest.raises(ValueError, match="deep.json"):
        LRFinderResult.load(p)


def test_batch_noise_on_a_flat_start_is_not_a_divergence() -> None:
    """A regression on a few hundred samples: the first five batch losses happen to agree,
    the next ones scatter as much as batches do. The spread of five points alone made
    this stop after 12 iterations (no usable curve); the rule re-estimates the noise."""
    from onecycle.finder.sweep import DivergenceRule

    raw = [0.975, 0.969, 0.856, 0.902, 0.919, 1.257, 0.881, 1.092, 1.163, 1.107, 0.796,
           1.346, 0.88, 1.2, 0.83, 1.15, 0.9, 1.05]
    rule, avg, stops = DivergenceRule(diverge=4.0, warmup=5), 0.0, []
    for i, v in enumerate(raw):
        avg = 0.98 * avg + 0.02 * v
        stops.append(rule.update(v, avg / (1 - 0.98 ** (i + 1))))
    assert not any(stops)
    # a real blow-up still stops at once
    assert rule.update(50.0, 5.0)
