"""grad_clip="auto": the spike cap's rule (properties), the optimizer step that applies
it, the Trainer's count of cut steps, and the range test that leaves it out."""

from __future__ import annotations

import math
import statistics

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from onecycle import Trainer, config
from onecycle.adaptive_clip import FACTOR, MIN_HISTORY, WINDOW, AdaptiveClip
from onecycle.step import Numerics, OptimizerStep
from onecycle.train import Callback

norms = st.lists(st.one_of(st.floats(1e-6, 1e6), st.sampled_from([math.inf, math.nan])),
                 min_size=1, max_size=200)


@settings(max_examples=200, deadline=None)
@given(seq=norms, factor=st.floats(1.1, 10.0), window=st.integers(1, 60),
       least=st.integers(1, 20))
def test_the_cap_is_factor_times_the_median_of_the_recent_finite_norms(seq, factor, window,
                                                                       least):
    clip = AdaptiveClip(factor=factor, window=window, min_history=least)
    seen: list[float] = []
    for g in seq:
        got = clip.cap(g)
        if not math.isfinite(g):
            assert got is None  # neither clipped nor recorded
            continue
        recent = seen[-window:]
        expected = None
        if len(recent) >= least and g > factor * statistics.median(recent):
            expected = factor * statistics.median(recent)
        if expected is None:
            assert got is None
        else:
            assert got == pytest.approx(expected) and got < g
        seen.append(g)  # the norm before clipping is what the median follows


@settings(max_examples=100, deadline=None)
@given(level=st.floats(1e-4, 1e4), wobble=st.lists(st.floats(0.8, 2.0), min_size=1,
                                                    max_size=300))
def test_steady_training_is_never_clipped(level, wobble):
    """Norms at most 2.5x apart stay under 3x their median: the default rule leaves
    such a run alone."""
    clip = AdaptiveClip()
    assert all(clip.cap(level * w) is None for w in wobble)


def test_defaults_and_bad_settings():
    assert (FACTOR, WINDOW, MIN_HISTORY) == (3.0, 50, 10)
    with pytest.raises(ValueError, match=r"factor must be > 1"):
        AdaptiveClip(factor=1.0)
    with pytest.raises(ValueError, match="window"):
        AdaptiveClip(window=0)
    with pytest.raises(TypeError, match="min_history"):
        AdaptiveClip(min_history=2.5)


def _spike_step(clip) -> tuple[list[float], list[bool], list[torch.Tensor]]:
    """Twelve plain SGD steps (lr 1, no momentum) of a linear model whose gradient does
    not depend on the weights; the twelfth one's loss is 100x larger."""
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1, bias=False)
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    runner = OptimizerStep(model, opt, Numerics(grad_clip=clip))
    x = torch.tensor([[1.0, 2.0, 2.0]])  # d(sum)/dw = x: norm 3 every step
    out, cut, deltas = [], [], []
    for i in range(12):
        before = model.weight.detach().clone()
        runner.backward((100.0 if i == 11 else 1.0) * model(x).sum())
        rep = runner.step()
        out.append(rep.grad_norm)
        cut.append(rep.clipped)
        deltas.append(model.weight.detach() - before)
    return out, cut, deltas


def test_the_step_cuts_only_the_spike_to_three_times_the_median():
    got, cut, deltas = _spike_step("auto")
    assert got[:11] == pytest.approx([3.0] * 11) and got[11] == pytest.approx(300.0)
    assert cut == [False] * 11 + [True]
    # the spike's update is the gradient scaled to 3 x median(3, ...) = 9
    assert float(deltas[11].norm()) == pytest.approx(9.0, rel=1e-4)
    assert float(deltas[10].norm()) == pytest.approx(3.0, rel=1e-4)
    # a fixed clip reports its cuts the same way
    _, fixed_cut, fixed = _spike_step(5.0)
    assert fixed_cut == [False] * 11 + [True] and float(fixed[11].norm()) == pytest.approx(5.0)


def _data(spike: bool):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(160, 4, generator=g)
    y = x @ torch.tensor([1.0, -2.0, 0.5, 0.0]) + 0.1 * torch.randn(160, generator=g)
    if spike:
        y[150:] *= 1e3  # the last batch of every epoch: a spike in the loss and gradient
    ds = torch.utils.data.TensorDataset(x, y[:, None])
    return torch.utils.data.DataLoader(ds, batch_size=10)


def _fit(clip, spike: bool, epochs: int = 2):
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    t = Trainer(model, torch.nn.functional.mse_loss, opt, _data(spike), grad_clip=clip,
                progress=False, seed=0, divergence_guard=False)
    hist = t.fit_one_cycle(epochs, max_lr=0.05)
    return model, hist


def test_a_fit_counts_the_steps_the_adaptive_clip_cut():
    model, hist = _fit("auto", spike=True)
    assert hist.meta["clipped_steps"] == 2  # one spiking batch per epoch
    plain_model, plain = _fit(None, spike=True)
    assert "clipped_steps" not in plain.meta
    assert not torch.allclose(model.weight, plain_model.weight)


def test_steady_training_is_the_same_with_and_without_the_adaptive_clip():
    a, ha = _fit("auto", spike=False)
    b, _ = _fit(None, spike=False)
    assert "clipped_steps" not in ha.meta
    assert torch.equal(a.weight, b.weight) and torch.equal(a.bias, b.bias)


def test_the_range_test_leaves_the_adaptive_clip_out():
    """The sweep must see the loss blow up: with "auto" it is the unclipped curve."""
    curves = []
    for clip in ("auto", None, 1.0):
        torch.manual_seed(0)
        model = torch.nn.Linear(4, 1)
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        t = Trainer(model, torch.nn.functional.mse_loss, opt, _data(True), grad_clip=clip,
                    progress=False, seed=0)
        curves.append(t.lr_find(num_iter=30, end_lr=1.0, progress=False))
    auto, plain, fixed = curves
    assert list(auto.losses) == list(plain.losses) and len(auto.grad_norms) == 0
    assert list(fixed.losses) != list(plain.losses) and len(fixed.grad_norms) > 0


@pytest.mark.parametrize("bad, kind", [("bogus", TypeError), (-1.0, ValueError),
                                       (math.nan, ValueError)])
def test_bad_grad_clip_values_name_the_argument_and_auto(bad, kind):
    with pytest.raises(kind, match=r"grad_clip must be a number > 0, 'auto' or None"):
        Numerics(grad_clip=bad)


def test_a_config_file_clips_spikes_by_default_and_says_off_for_none():
    """``onecycle run`` clips spikes unless told otherwise; TOML has no null, so "off"."""
    assert config.RunConfig.from_dict({}).grad_clip == "auto"
    assert config.RunConfig.from_dict({"grad_clip": "off"}).grad_clip is None
    assert config.RunConfig.from_dict({"grad_clip": 2}).grad_clip == 2.0
    for value in ("off", "auto", 0.5):  # the config.toml a run writes reruns the same way
        cfg = config.RunConfig.from_dict({"grad_clip": value})
        text = cfg.to_toml()
        again = config.RunConfig.from_dict(config.parse_toml(text))
        assert again.grad_clip == cfg.grad_clip, (value, text)
    with pytest.raises(config.ConfigError, match=r"grad_clip.*a number > 0, 'auto' or 'off'"):
        config.RunConfig.from_dict({"grad_clip": "sometimes"})


def test_the_report_says_how_many_steps_clipping_cut():
    from types import SimpleNamespace as NS

    from onecycle.report.summary import _clipping_note

    def run(cut, steps=120):
        meta = {"clipped_steps": cut} if cut else {}
        return NS(history=NS(meta=meta, lr=[0.1] * steps))

    facts = NS(config=NS(grad_clip="auto"), cycle=run(31), baseline=run(0))
    note = _clipping_note(facts)
    assert note.startswith("Gradient clipping cut 31 of the 120 steps of the 1cycle run:")
    assert 'grad_clip = "auto"' in note and "baseline" not in note
    facts = NS(config=NS(grad_clip=0.5), cycle=run(2), baseline=run(3, 60))
    assert "2 of the 120 steps of the 1cycle run and 3 of the 60 steps of the baseline" \
        in _clipping_note(facts) and "exceeded grad_clip = 0.5" in _clipping_note(facts)
    assert _clipping_note(NS(config=NS(grad_clip="auto"), cycle=run(0), baseline=None)) is None


class _Crash(Callback):
    """A callback that fails at one step (a crash in the middle of a fit)."""

    def __init__(self, at: int) -> None:
        self.at = at

    def on_batch_end(self, trainer, step, loss):
        if step == self.at:
            raise RuntimeError("simulated crash")


def _clipped_trainer(tmp_path, callbacks=()):
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    return Trainer(model, torch.nn.functional.mse_loss, opt, _data(True), grad_clip="auto",
                   progress=False, seed=0, divergence_guard=False, checkpoint_dir=tmp_path,
                   checkpoint_every=3, callbacks=list(callbacks))


def test_a_resumed_fit_is_bit_identical_with_the_adaptive_clip(tmp_path):
    """The running median is checkpointed: a crash at step 13 (only 13 norms known, the
    next spike at step 15) resumes to exactly the uninterrupted run."""
    ref = _clipped_trainer(tmp_path / "ref")
    ref_hist = ref.fit_one_cycle(3, max_lr=0.05)
    assert ref_hist.meta["clipped_steps"] == 3
    crashed = _clipped_trainer(tmp_path / "run", callbacks=[_Crash(13)])
    with pytest.raises(RuntimeError, match="simulated crash"):
        crashed.fit_one_cycle(3, max_lr=0.05)
    again = _clipped_trainer(tmp_path / "run")
    hist = again.fit_one_cycle(3, max_lr=0.05, resume=True)
    assert hist.loss == ref_hist.loss and hist.meta["clipped_steps"] == 3
    assert torch.equal(again.model.weight, ref.model.weight)
    assert again.adaptive_clip.state_dict() == ref.adaptive_clip.state_dict()


def test_a_checkpoint_with_a_malformed_clip_state_is_refused_whole(tmp_path):
    from onecycle.train.checkpoint import load_checkpoint, save_checkpoint

    t = _clipped_trainer(tmp_path / "a", callbacks=[_Crash(13)])
    with pytest.raises(RuntimeError):
        t.fit_one_cycle(3, max_lr=0.05)
    payload = load_checkpoint(tmp_path / "a" / "last.pt")
    payload["adaptive_clip"] = {"norms": [1.0, math.inf]}
    (tmp_path / "b").mkdir()
    save_checkpoint(tmp_path / "b" / "last.pt", payload)
    fresh = _clipped_trainer(tmp_path / "b")
    before = fresh.model.weight.detach().clone()
    with pytest.raises(ValueError, match="adaptive clip's norms must be at most 50 finite"):
        fresh.fit_one_cycle(3, max_lr=0.05, resume=True)
    assert torch.equal(fresh.model.weight, before)  # nothing was touched
    assert fresh.adaptive_clip.state_dict() == {"norms": []}


def test_the_clip_state_round_trips_and_zero_gradients_set_no_cap():
    clip = AdaptiveClip()
    for v in [0.0] * 12:
        clip.cap(v)
    assert clip.cap(1.0) is None  # a zero median is no scale to clip to
    other = AdaptiveClip()
    other.load_state_dict(clip.state_dict())
    assert other.state_dict() == clip.state_dict()
    with pytest.raises(ValueError, match="mapping with only 'norms'"):
        other.load_state_dict({"norms": [], "clipped": 3})
    with pytest.raises(ValueError, match="at most 50 finite numbers >= 0"):
        other.load_state_dict({"norms": [-1.0]})


@pytest.mark.parametrize("flag, expected", [("off", None), ("auto", "auto"), ("0.5", 0.5),
                                            (None, "auto")])
def test_the_grad_clip_flag_sets_the_runs_clipping(flag, expected):
    from onecycle.cli.flags import config_for
    from onecycle.cli.parser import build_parser

    argv = ["run"] + (["--grad-clip", flag] if flag else [])
    assert config_for(build_parser().parse_args(argv)).grad_clip == expected


def test_a_bad_grad_clip_flag_is_a_usage_error_naming_it(capsys):
    from onecycle.cli import main

    assert main(["run", "--grad-clip", "0"]) == 2
    assert "--grad-clip: expected a number > 0, 'auto' or 'off', got '0'" in \
        capsys.readouterr().err


def test_the_python_recipe_passes_its_clipping_to_every_trial(monkeypatch):
    """``recipe(grad_clip=...)`` reaches the searches' Problem (checked, then stopped)."""
    import importlib

    # the package exports the function under the module's name: take the module itself
    recipe_mod = importlib.import_module("onecycle.search.recipe")

    class Stop(Exception):
        pass

    seen = {}

    def spy(*args, **kw):
        seen.update(kw)
        raise Stop

    monkeypatch.setattr(recipe_mod, "Problem", spy)
    x, y = torch.randn(64, 4), torch.randint(0, 2, (64,))
    with pytest.raises(Stop):
        recipe_mod.recipe(lambda: torch.nn.Linear(4, 2), torch.optim.SGD,
                          torch.nn.functional.cross_entropy, (x, y), (x, y), budget_epochs=2,
                          batch_size=16, grad_clip="auto", progress=False)
    assert seen["grad_clip"] == "auto"
    with pytest.raises(ValueError, match="grad_clip must be a number > 0, 'auto' or None"):
        recipe_mod.RecipeOptions(grad_clip=-1.0)
