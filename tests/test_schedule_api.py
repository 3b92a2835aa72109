"""The public API other modules use: style defaults, option checks, the adapter key."""

from __future__ import annotations

import pytest
import torch

from onecycle.hyper import adapter_for
from onecycle.schedule import STYLES, OneCycleSchedule, style_defaults


@pytest.mark.parametrize("style", sorted(STYLES))
def test_style_defaults_are_what_a_schedule_uses(style: str) -> None:
    d = style_defaults(style)
    s = OneCycleSchedule(100, 1.0, style=style)
    assert (s.div, s.final_div, s.anneal, s.three_phase) == (
        d.div, d.final_div, d.anneal, d.three_phase)
    assert s.momentum_spec == d.momentum
    assert s.initial_lr == pytest.approx(1.0 / d.div)


def test_style_defaults_refuses_unknown_style() -> None:
    with pytest.raises(ValueError, match="style must be one of"):
        style_defaults("keras")


@pytest.mark.parametrize(
    "opts",
    [{}, {"style": "torch", "three_phase": True, "pct_start": 0.2},
     {"style": "fastai", "momentum": None}, {"annihilate": 0.2, "div": 20},
     {"three_phase": False}, {"style": "torch", "anneal": "linear", "on_end": "raise"}],
)
def test_check_options_resolves_to_the_same_schedule(opts: dict) -> None:
    resolved = OneCycleSchedule.check_options(**opts)
    assert OneCycleSchedule(37, 0.5, **resolved) == OneCycleSchedule(37, 0.5, **opts)
    expected = OneCycleSchedule(37, 0.5, **opts).to_dict()
    for k in ("type", "version", "total_steps", "max_lr"):
        expected.pop(k)
    mom = expected.pop("momentum")
    assert resolved.pop("momentum") == (None if mom is None else tuple(mom))
    assert resolved == expected


def test_check_options_refuses_what_the_constructor_refuses() -> None:
    with pytest.raises(ValueError, match="pct_start"):
        OneCycleSchedule.check_options(pct_start=0.0)
    with pytest.raises(ValueError, match="annihilate"):
        OneCycleSchedule.check_options(style="torch", annihilate=0.1)
    with pytest.raises(TypeError, match="unknown 1cycle option 'total_steps'"):
        OneCycleSchedule.check_options(total_steps=10)


def test_adapter_key_for_is_public() -> None:
    p = [torch.nn.Parameter(torch.zeros(1))]
    adam = adapter_for(torch.optim.Adam(p))
    assert adam.key_for("momentum", "Adam") == "betas[0]"
    assert adam.key_for("lr") == "lr"
    ada = adapter_for(torch.optim.Adagrad(p))
    with pytest.raises(ValueError, match="Adagrad has no momentum-like"):
        ada.key_for("momentum", "Adagrad")
