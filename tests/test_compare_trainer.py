"""The Trainer runs every alternative of ``onecycle compare``: ``fit_schedule`` (any
schedule of onecycle.schedule, resumable) and optimizers with train/eval modes
(schedule-free: evaluated and checkpointed in its averaged weights)."""

from __future__ import annotations

import math

import pytest
import torch

from onecycle import Trainer
from onecycle.schedule import constant_lr, join, linear, linear_decay, warmup_cosine, wsd
from onecycle.train import Callback, load_checkpoint
from onecycle.train.modes import (
    averaged_weights,
    has_batchnorm,
    has_modes,
    in_train_mode,
    refresh_batchnorm,
)

SF_REASON = "schedulefree is not installed: pip install 'onecycle[compare]'"


def _data(n=64, batch=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    x, y = torch.randn(n, 4, generator=g), torch.randint(0, 2, (n,), generator=g)
    return [(x[i:i + batch], y[i:i + batch]) for i in range(0, n, batch)]


def _model(bn=False, seed=0):
    torch.manual_seed(seed)
    layers = [torch.nn.Linear(4, 8)] + ([torch.nn.BatchNorm1d(8)] if bn else []) + [
        torch.nn.ReLU(), torch.nn.Linear(8, 2)]
    return torch.nn.Sequential(*layers)


def _trainer(model, opt, data, **kw):
    return Trainer(model, torch.nn.functional.cross_entropy, opt, data, val_loader=data,
                   metrics=["accuracy"], progress=False, seed=0, **kw)


class _Kill(Callback):
    """Stops a fit by raising at one step (a crash between checkpoints)."""

    class Crash(Exception):
        pass

    def __init__(self, at):
        self.at = at

    def on_batch_end(self, trainer, step, loss):
        if step == self.at:
            raise self.Crash()


# ----------------------------------------------------------------------------- fit_schedule


@pytest.mark.parametrize("make", [
    lambda T: linear_decay(T, 0.2),
    lambda T: warmup_cosine(T, 0.2, warmup=0.25),
    lambda T: wsd(T, 0.2, warmup=0.1, decay=0.3, shape="1-sqrt"),
    lambda T: constant_lr(T, 0.05, warmup=0.5),
])
def test_fit_schedule_steps_the_lr_by_the_schedule(make):
    m = _model()
    opt = torch.optim.SGD(m.parameters(), lr=1.0, momentum=0.9)
    t = _trainer(m, opt, _data())
    hist = t.fit_schedule(3, lambda T: {"lr": make(T)})
    sched = make(12)
    assert hist.iterations == 12 == t.steps_for(3)
    assert hist.lr == pytest.approx([sched.lr(i) for i in range(12)], rel=1e-12)
    assert hist.momentum == [0.9] * 12  # no momentum schedule: left as it is
    assert hist.fits[0]["kind"] == "schedule"


def test_fit_schedule_mapping_per_group_and_other_hypers():
    m = _model()
    opt = torch.optim.SGD([{"params": m[0].parameters()}, {"params": m[2].parameters()}],
                          lr=1.0, momentum=0.9)
    t = _trainer(m, opt, _data())
    T = t.steps_for(2)
    hist = t.fit_schedule(2, {"lr": [linear_decay(T, 0.2), linear_decay(T, 0.02)],
                              "momentum": join([linear(0.95, 0.85)], [0, T])})
    assert hist.lr[0] == 0.2 and hist.lr[-1] == pytest.approx(0.2 / T)
    assert opt.param_groups[1]["lr"] == pytest.approx(0.0)  # past the last step: zero
    assert hist.momentum[0] == 0.95 and hist.momentum[-1] == pytest.approx(0.95 - 0.1 * (T - 1) / T)


def test_fit_schedule_refuses_what_it_cannot_resume_or_that_does_not_fit():
    m = _model()
    t = _trainer(m, torch.optim.SGD(m.parameters(), lr=0.1), _data())
    with pytest.raises(ValueError, match=r"spans 100 steps but the fit has 8 .*steps_for"):
        t.fit_schedule(2, {"lr": linear_decay(100, 0.1)})
    with pytest.raises(TypeError, match=r"to_dict\(\) so the fit can resume"):
        t.fit_schedule(2, {"lr": lambda step: 0.1})
    with pytest.raises(TypeError, match="non-empty mapping"):
        t.fit_schedule(2, linear_decay(8, 0.1))
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        t.fit_schedule(0, {"lr": linear_decay(8, 0.1)})
    assert t.history.iterations == 0 and t.fit_index == 0


def _resume_run(tmp_path, make_opt, schedules, kill_at=None, name="a"):
    m = _model(bn=True)
    cbs = [] if kill_at is None else [_Kill(kill_at)]
    t = _trainer(m, make_opt(m), _data(), checkpoint_dir=tmp_path / name, checkpoint_every=3,
                 callbacks=cbs)
    return m, t, t.fit_schedule(3, schedules, resume=kill_at is None and name != "a")


def _exact_resume(tmp_path, make_opt, schedules):
    m_full, _t, full = _resume_run(tmp_path, make_opt, schedules, name="a")
    with pytest.raises(_Kill.Crash):
        _resume_run(tmp_path, make_opt, schedules, kill_at=7, name="b")
    m_res, _t2, resumed = _resume_run(tmp_path, make_opt, schedules, name="b")
    assert resumed.loss == full.loss and resumed.lr == full.lr
    assert [r["val_loss"] for r in resumed] == [r["val_loss"] for r in full]
    for a, b in zip(m_full.state_dict().values(), m_res.state_dict().values()):
        assert torch.equal(a, b)


def test_fit_schedule_resumes_mid_fit_exactly(tmp_path):
    _exact_resume(tmp_path, lambda m: torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9),
                  lambda T: {"lr": wsd(T, 0.2, shape="1-sqrt")})


def test_fit_schedule_resume_with_other_schedules_is_refused(tmp_path):
    from onecycle.train import CheckpointError

    make = lambda m: torch.optim.SGD(m.parameters(), lr=0.1)  # noqa: E731
    with pytest.raises(_Kill.Crash):
        _resume_run(tmp_path, make, lambda T: {"lr": linear_decay(T, 0.1)}, kill_at=5, name="b")
    with pytest.raises(CheckpointError, match="linear_decay.*pass the same arguments"):
        _resume_run(tmp_path, make, lambda T: {"lr": linear_decay(T, 0.2)}, name="b")


# ----------------------------------------------------------------------------- modes


def test_plain_optimizers_have_no_modes():
    opt = torch.optim.SGD(_model().parameters(), lr=0.1)
    assert not has_modes(opt) and not in_train_mode(opt)
    with averaged_weights(opt) as switched:
        assert switched is False


class _ModeSpy(Callback):
    """Records the optimizer's mode in the hooks around evaluation."""

    def __init__(self):
        self.modes = []

    def on_epoch_end(self, trainer, epoch, record):
        self.modes.append(in_train_mode(trainer.optimizer))


def test_schedule_free_is_evaluated_in_its_averaged_weights_and_switched_back():
    sf = pytest.importorskip("schedulefree", reason=SF_REASON)
    m = _model()
    opt = sf.SGDScheduleFree(m.parameters(), lr=0.5, warmup_steps=2)
    seen = []

    def spy(outputs, targets):  # a metric: runs only inside evaluation
        seen.append(in_train_mode(opt))
        return torch.tensor(0.0)

    spy_cb = _ModeSpy()
    t = Trainer(m, torch.nn.functional.cross_entropy, opt, _data(), val_loader=_data(),
                metrics={"spy": spy}, progress=False, seed=0, callbacks=[spy_cb])
    t.fit_schedule(2, lambda T: {"lr": constant_lr(T, 0.5)})
    assert seen and not any(seen)  # every validation batch: eval mode (the x sequence)
    assert spy_cb.modes == [True, True]  # and back to train mode to go on training
    assert not in_train_mode(opt)  # the fit leaves the averaged weights in the model
    # evaluate() outside a fit: the averaged weights, the mode left as it was
    x = [p.detach().clone() for p in m.parameters()]
    t.evaluate()
    assert all(torch.equal(a, p) for a, p in zip(x, m.parameters()))
    opt.train()
    y = [p.detach().clone() for p in m.parameters()]
    seen.clear()
    t.evaluate()
    assert not any(seen) and in_train_mode(opt)
    assert all(torch.allclose(a, p, atol=1e-6) for a, p in zip(y, m.parameters()))


def test_schedule_free_checkpoints_hold_the_averaged_weights(tmp_path):
    sf = pytest.importorskip("schedulefree", reason=SF_REASON)
    m = _model()
    opt = sf.AdamWScheduleFree(m.parameters(), lr=0.01, warmup_steps=2)
    t = _trainer(m, opt, _data(), checkpoint_dir=tmp_path)
    t.fit_schedule(2, lambda T: {"lr": constant_lr(T, 0.01)})
    payload = load_checkpoint(tmp_path / "last.pt")
    assert all(not g["train_mode"] for g in payload["optimizer"]["param_groups"])
    for k, v in m.state_dict().items():
        assert torch.equal(payload["model"][k], v)
    opt.train()  # state_dict() in train mode: a copy of the averaged weights
    sd = t.state_dict()
    assert in_train_mode(opt)
    assert not all(torch.equal(sd["model"][k], v) for k, v in m.state_dict().items())


def test_schedule_free_fit_resumes_exactly(tmp_path):
    sf = pytest.importorskip("schedulefree", reason=SF_REASON)
    _exact_resume(tmp_path, lambda m: sf.SGDScheduleFree(m.parameters(), lr=0.3,
                                                         warmup_steps=3),
                  lambda T: {"lr": constant_lr(T, 0.3)})


def test_batchnorm_statistics_are_recomputed_at_the_averaged_weights():
    sf = pytest.importorskip("schedulefree", reason=SF_REASON)
    m = _model(bn=True)
    data = _data()
    opt = sf.SGDScheduleFree(m.parameters(), lr=0.5)
    t = _trainer(m, opt, data)
    t.fit_schedule(1, lambda T: {"lr": constant_lr(T, 0.5)})
    assert has_batchnorm(m) and not in_train_mode(opt)
    t.evaluate()
    bn = m[1]
    with torch.no_grad():  # the exact average over the training batches, at x
        hidden = [m[0](x) for x, _ in data]
    mean = torch.stack([h.mean(0) for h in hidden]).mean(0)
    var = torch.stack([h.var(0, unbiased=True) for h in hidden]).mean(0)
    assert torch.allclose(bn.running_mean, mean, atol=1e-5)
    assert torch.allclose(bn.running_var, var, atol=1e-4)
    assert bn.momentum == 0.1 and m.training  # put back as they were


def test_refresh_batchnorm_puts_rngs_modes_and_epochs_back():
    from onecycle.data import TensorLoader

    m = _model(bn=True)
    m.eval()
    loader = TensorLoader((torch.randn(40, 4), torch.zeros(40, dtype=torch.long)), 8,
                          shuffle=True, seed=0)
    loader.set_epoch(3)
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    dropout = torch.nn.Dropout(0.5)
    used = refresh_batchnorm(m, loader, lambda mod, b: dropout(mod(b[0])).sum(), batches=2)
    assert used == 2 and loader.epoch == 3 and not m.training
    assert torch.equal(torch.rand(3), expected)
    assert refresh_batchnorm(_model(), loader, lambda mod, b: mod(b[0]).sum()) == 0
    assert math.isclose(m[1].momentum, 0.1)
