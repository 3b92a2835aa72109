"""Torch schedulers and hyper-parameter adapters."""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import onecycle as oc
from onecycle.hyper import adapter_for, get_hyper, register_optimizer, set_hyper
from onecycle.schedule import join, linear
from onecycle.scheduler import OneCycle, ParamScheduler


def _params(n=1):
    return [torch.nn.Parameter(torch.randn(3)) for _ in range(n)]


def _run(opt, sched, steps):
    lrs, moms = [], []
    for _ in range(steps):
        lrs.append([g["lr"] for g in opt.param_groups])
        moms.append(get_hyper(opt, "momentum") if "momentum" in sched.current_values() else None)
        opt.step()
        sched.step()
    return lrs, moms


# --------------------------------------------------------------------------- adapters


@pytest.mark.parametrize(
    "cls, key",
    [
        (torch.optim.SGD, "momentum"),
        (torch.optim.RMSprop, "momentum"),
        (torch.optim.Adam, "betas"),
        (torch.optim.AdamW, "betas"),
        (torch.optim.NAdam, "betas"),
        (torch.optim.RAdam, "betas"),
        (torch.optim.Adamax, "betas"),
    ],
)
def test_adapters_write_momentum_or_beta1_only(cls, key):
    kw = {"momentum": 0.5} if key == "momentum" else {"betas": (0.8, 0.987)}
    opt = cls(_params(), lr=0.01, **kw)
    set_hyper(opt, "momentum", 0.9)
    g = opt.param_groups[0]
    if key == "betas":
        assert g["betas"] == (0.9, 0.987)  # beta2 untouched
    else:
        assert g["momentum"] == 0.9
    assert get_hyper(opt, "momentum") == [0.9]


def test_no_momentum_optimizer_is_a_clear_error():
    opt = torch.optim.Adagrad(_params(), lr=0.1)
    with pytest.raises(ValueError, match="Adagrad"):
        set_hyper(opt, "momentum", 0.9)
    with pytest.raises(ValueError, match="Adagrad.*momentum=None"):
        OneCycle(opt, max_lr=0.1, total_steps=10)
    s = OneCycle(opt, max_lr=0.1, total_steps=10, momentum=None)
    assert "momentum" not in s.current_values()


def test_third_party_optimizer_needs_registration():
    class Lion(torch.optim.Optimizer):
        def __init__(self, params, lr=1e-4, beta1=0.9, weight_decay=0.0):
            super().__init__(params, {"lr": lr, "beta1": beta1, "weight_decay": weight_decay})

        def step(self, closure=None):
            return None

    class Adam(torch.optim.Optimizer):  # same name as torch's, different storage
        def __init__(self, params):
            super().__init__(params, {"lr": 1e-3, "mom": 0.9})

        def step(self, closure=None):
            return None

    assert not oc.hyper.supports_momentum(Adam(_params()))
    opt = Lion(_params())
    with pytest.raises(ValueError, match="register"):
        OneCycle(opt, max_lr=1e-3, total_steps=10)
    register_optimizer(Lion, momentum="beta1")
    s = OneCycle(opt, max_lr=1e-3, total_steps=10)
    assert opt.param_groups[0]["beta1"] == 0.95
    opt.step()
    s.step()
    assert opt.param_groups[0]["beta1"] < 0.95


@pytest.mark.parametrize(
    "name, value, match",
    [
        ("lr", 0.0, "lr"),
        ("lr", -1.0, "lr"),
        ("lr", float("nan"), "lr"),
        ("lr", float("inf"), "lr"),
        ("momentum", 1.0, "momentum"),
        ("momentum", -0.1, "momentum"),
        ("weight_decay", -1e-4, "weight_decay"),
    ],
)
def test_adapter_validates_values(name, value, match):
    opt = torch.optim.SGD(_params(), lr=0.1, momentum=0.9)
    before = copy.deepcopy(opt.param_groups[0])
    with pytest.raises(ValueError, match=match):
        set_hyper(opt, name, value)
    g = opt.param_groups[0]
    assert all(g[k] == before[k] for k in before if k != "params")


def test_set_hyper_per_group_list_validated_before_writing():
    opt = torch.optim.SGD([{"params": _params()}, {"params": _params()}], lr=0.1)
    with pytest.raises(ValueError, match="param groups"):
        set_hyper(opt, "lr", [0.1])
    with pytest.raises(ValueError, match="lr"):
        set_hyper(opt, "lr", [0.2, -1.0])
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.1]


def test_tensor_lr_is_updated_in_place():
    opt = torch.optim.Adam(_params(), lr=torch.tensor(0.01))
    t = opt.param_groups[0]["lr"]
    set_hyper(opt, "lr", 0.5)
    assert opt.param_groups[0]["lr"] is t and float(t) == 0.5
    assert adapter_for(opt).family == "Adam"


# --------------------------------------------------------------------------- OneCycle


@pytest.mark.parametrize("opt_name", ["sgd", "adam"])
@pytest.mark.parametrize(
    "kw",
    [{}, {"three_phase": True}, {"anneal_strategy": "linear"}, {"pct_start": 0.2, "div_factor": 5.0}],
)
def test_onecycle_torch_style_parity_with_onecyclelr(opt_name, kw):
    T = 137

    def make():
        ps = [torch.nn.Parameter(torch.ones(2)), torch.nn.Parameter(torch.ones(2))]
        groups = [{"params": [ps[0]]}, {"params": [ps[1]], "lr": 0.5}]
        if opt_name == "sgd":
            return torch.optim.SGD(groups, lr=0.1, momentum=0.9)
        return torch.optim.Adam(groups, lr=0.1, betas=(0.9, 0.977))

    o1, o2 = make(), make()
    ref = torch.optim.lr_scheduler.OneCycleLR(o1, max_lr=[0.8, 0.4], total_steps=T, **kw)
    ours = OneCycle(
        o2,
        max_lr=[0.8, 0.4],
        total_steps=T,
        style="torch",
        three_phase=kw.get("three_phase"),
        anneal=kw.get("anneal_strategy"),
        pct_start=kw.get("pct_start"),
        div=kw.get("div_factor"),
    )
    key = "momentum" if opt_name == "sgd" else "betas"
    for _ in range(T):
        for g1, g2 in zip(o1.param_groups, o2.param_groups):
            assert abs(g1["lr"] - g2["lr"]) <= 1e-12
            m1 = g1[key] if key == "momentum" else g1[key][0]
            m2 = g2[key] if key == "momentum" else g2[key][0]
            assert abs(m1 - m2) <= 1e-12
            if key == "betas":
                assert g2["betas"][1] == 0.977
        assert ref.get_last_lr() == pytest.approx(ours.get_last_lr(), abs=1e-12)
        o1.step()
        o2.step()
        ref.step()
        ours.step()


def test_onecycle_epochs_and_validation():
    opt = torch.optim.SGD(_params(), lr=0.1, momentum=0.9)
    assert OneCycle(opt, 0.5, epochs=3, steps_per_epoch=7).total_steps == 21
    with pytest.raises(ValueError, match="epochs"):
        OneCycle(opt, 0.5)
    with pytest.raises(ValueError, match="contradicts"):
        OneCycle(opt, 0.5, total_steps=10, epochs=3, steps_per_epoch=7)
    with pytest.raises(ValueError, match="param groups"):
        OneCycle(opt, [0.5, 0.1], total_steps=10)
    with pytest.raises(ValueError, match="lr"):
        OneCycle(opt, -0.5, total_steps=10)
    with pytest.raises(TypeError, match="Optimizer"):
        OneCycle("sgd", 0.5, total_steps=10)


def test_onecycle_is_a_torch_lrscheduler():
    opt = torch.optim.SGD(_params(), lr=0.1, momentum=0.9)
    s = OneCycle(opt, 0.5, total_steps=10)
    assert isinstance(s, torch.optim.lr_scheduler.LRScheduler)
    assert s.get_last_lr() == [opt.param_groups[0]["lr"]]
    # no scheduler state leaks into the param groups
    assert set(opt.param_groups[0]) == set(torch.optim.SGD(_params(), lr=0.1).param_groups[0])


def test_past_end_holds_or_raises():
    opt = torch.optim.SGD(_params(), lr=0.1, momentum=0.9)
    s = OneCycle(opt, 0.5, total_steps=5)
    for _ in range(4):
        opt.step()
        s.step()
    last = s.get_last_lr()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s.step()  # step 5: where every loop lands after its last optimizer step
    with pytest.warns(RuntimeWarning, match="past the end"):
        s.step()
    assert s.get_last_lr() == last
    r = OneCycle(torch.optim.SGD(_params(), lr=0.1, momentum=0.9), 0.5, total_steps=5, on_end="raise")
    for _ in range(5):
        r.optimizer.step()
        r.step()
    with pytest.raises(ValueError, match="total steps"):
        r.step()


@settings(max_examples=30, deadline=None)
@given(
    st.integers(2, 300),
    st.integers(0, 10_000),
    st.sampled_from(["smith", "fastai", "torch"]),
)
def test_property_resume_at_any_step_is_identical(T, k_raw, style):
    k = k_raw % T
    opt1 = torch.optim.Adam(_params(), lr=1e-3)
    s1 = OneCycle(opt1, 0.1, total_steps=T, style=style)
    full, _ = _run(opt1, s1, T)
    opt2 = torch.optim.Adam(_params(), lr=1e-3)
    s2 = OneCycle(opt2, 0.1, total_steps=T, style=style)
    for _ in range(k):
        opt2.step()
        s2.step()
    state = copy.deepcopy(s2.state_dict())
    opt3 = torch.optim.Adam(_params(), lr=123.0)
    s3 = OneCycle(opt3, 0.7, total_steps=T + 50, style="torch")  # different plan, replaced by load
    s3.load_state_dict(state)
    rest, _ = _run(opt3, s3, T - k)
    assert full[k:] == rest


def test_state_dict_is_weights_only_safe(tmp_path):
    opt = torch.optim.SGD(_params(), lr=0.1, momentum=0.9)
    s = OneCycle(opt, 0.5, total_steps=40)
    for _ in range(13):
        opt.step()
        s.step()
    s.replan(80)
    path = tmp_path / "sched.pt"
    torch.save(s.state_dict(), path)
    loaded = torch.load(path, weights_only=True)
    s2 = OneCycle(torch.optim.SGD(_params(), lr=0.1, momentum=0.9), 0.5, total_steps=40)
    s2.load_state_dict(loaded)
    assert s2.total_steps == 80
    for _ in range(60):
        assert s.get_last_lr() == s2.get_last_lr()
        opt.step()
        s.step()
        s2.optimizer.step()
        s2.step()


def test_replan_extends_without_jump_and_keeps_the_end():
    opt = torch.optim.SGD(_params(), lr=0.1, momentum=0.9)
    s = OneCycle(opt, 1.0, total_steps=100)
    for _ in range(60):
        opt.step()
        s.step()
    before = s.get_last_lr()[0]
    m_before = s.current_values()["momentum"][0]
    s.replan(total_steps=200)
    assert s.get_last_lr()[0] == before
    assert s.current_values()["momentum"][0] == m_before
    seq = []
    for _ in range(139):
        opt.step()
        s.step()
        seq.append(s.get_last_lr()[0])
    assert seq[-1] == pytest.approx(1.0 / 1000)
    steps = np.abs(np.diff([before] + seq))
    assert steps.max() < 0.05  # smooth: no jump anywhere
    with pytest.raises(ValueError, match="total_steps"):
        s.replan(total_steps=10)


def test_param_scheduler_weight_decay_and_per_group():
    opt = torch.optim.AdamW([{"params": _params()}, {"params": _params()}], lr=1e-3)
    wd = [join([linear(0.0, 1e-2)], [0, 10]), join([linear(1e-2, 0.0)], [0, 10])]
    ps = ParamScheduler(opt, {"weight_decay": wd}, total_steps=11)
    for _ in range(10):
        opt.step()
        ps.step()
    assert opt.param_groups[0]["weight_decay"] == pytest.approx(1e-2)
    assert opt.param_groups[1]["weight_decay"] == pytest.approx(0.0)
    with pytest.raises(ValueError, match="param groups"):
        ParamScheduler(opt, {"lr": [lambda s: 0.1]})
    with pytest.raises(ValueError, match="no hyper-parameter"):
        ParamScheduler(opt, {"dampening": lambda s: 0.1})
    with pytest.raises(TypeError, match="callable"):
        ParamScheduler(opt, {"lr": 0.1})


def test_param_scheduler_rejects_nan_schedule_value():
    opt = torch.optim.SGD(_params(), lr=0.1)
    with pytest.raises(ValueError, match="lr"):
        ParamScheduler(opt, {"lr": lambda s: float("nan")})


def test_discriminative_lrs_keep_shape():
    opt = torch.optim.SGD([{"params": _params()}, {"params": _params()}], lr=0.1, momentum=0.9)
    s = OneCycle(opt, [1.0, 0.1], total_steps=50)
    lrs, _ = _run(opt, s, 50)
    ratio = np.array([a / b for a, b in lrs])
    assert np.allclose(ratio, 10.0)


def test_scheduler_works_in_a_training_loop():
    torch.manual_seed(0)
    x = torch.randn(256, 5)
    y = x @ torch.randn(5, 1)
    model = torch.nn.Linear(5, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    s = OneCycle(opt, max_lr=0.1, total_steps=200)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for i in range(200):
            xb, yb = x[(i * 32) % 256 :][:32], y[(i * 32) % 256 :][:32]
            loss = torch.nn.functional.mse_loss(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            s.step() if i < 199 else None
    assert torch.nn.functional.mse_loss(model(x), y).item() < 1e-3


def test_plot_schedule_headless(tmp_path):
    fig = oc.plot_schedule(oc.OneCycleSchedule(300, 0.8), log_lr=True)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    assert len(fig.axes) == 2  # twin momentum axis
    line = ax.get_lines()[0]
    assert len(line.get_xdata()) == 300
    assert np.isclose(max(line.get_ydata()), 0.8)
    fig.savefig(tmp_path / "s.png")
    assert (tmp_path / "s.png").stat().st_size > 1000
    opt = torch.optim.SGD(_params(), lr=0.1)
    fig2 = oc.plot_schedule(OneCycle(opt, 0.5, total_steps=50, momentum=None))
    assert len(fig2.axes) == 1
    with pytest.raises(TypeError, match="plot_schedule"):
        oc.plot_schedule(42)


def test_scheduler_follows_optimizer_load_state_dict():
    """optimizer.load_state_dict() replaces the param-group dicts; the scheduler must
    keep driving the new ones (a common resume order: build both, then load)."""
    opt = torch.optim.SGD(_params(), lr=0.1, momentum=0.9)
    s = OneCycle(opt, 1.0, total_steps=100)
    other = torch.optim.SGD(_params(), lr=0.5, momentum=0.5)
    opt.load_state_dict(other.state_dict())
    for _ in range(10):
        opt.step()
        s.step()
    assert opt.param_groups[0]["lr"] == s.get_last_lr()[0] == s.schedule.lr(10)
    assert opt.param_groups[0]["momentum"] == s.schedule.momentum(10)
    opt.add_param_group({"params": _params()})
    with pytest.raises(ValueError, match="param groups"):
        s.step()
