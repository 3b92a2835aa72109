"""Train anything: step functions, dict/nested batches, metrics with step functions,
gradient accumulation, the range test under the Trainer's numerics, fp16 skipped steps,
and the grouped options (issue #18 items 1-4, issue #17 item 3)."""

from __future__ import annotations

import math
import warnings
from collections import OrderedDict
from typing import Any

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from _train_worker import blobs
from onecycle.train import Callback, CheckpointError, Trainer, TrainerOptions

torch.set_num_threads(1)
CE = F.cross_entropy


def linear_model(seed: int = 0, d: int = 12, classes: int = 4) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(d, 16), nn.Tanh(), nn.Linear(16, classes))


def pair_batches(n: int = 96, bs: int = 16, seed: int = 0) -> list[tuple[torch.Tensor, ...]]:
    x, y = blobs(n=n, seed=seed)
    return [(x[i:i + bs], y[i:i + bs]) for i in range(0, n, bs)]


def dict_batches(n: int = 96, bs: int = 16) -> list[dict[str, Any]]:
    return [{"inputs": {"x": x}, "labels": y} for x, y in pair_batches(n, bs)]


def sgd(model: nn.Module, lr: float = 0.1) -> torch.optim.Optimizer:
    return torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)


def same_params(a: nn.Module, b: nn.Module, atol: float = 1e-6) -> bool:
    return all(torch.allclose(p, q, atol=atol, rtol=1e-5)
               for p, q in zip(a.parameters(), b.parameters()))


# ----------------------------------------------------------------------------- step_fn


def test_step_fn_with_dict_batches_trains_like_the_default_step() -> None:
    """A step function over nested dict batches, with loss_fn=None, gives the same
    weights and losses as the default (inputs, targets) step on the same data."""
    ref_model = linear_model()
    ref = Trainer(ref_model, CE, sgd(ref_model), pair_batches(), progress=False, seed=0)
    h_ref = ref.fit_one_cycle(2, max_lr=0.3)

    def step(m: nn.Module, b: dict[str, Any]) -> torch.Tensor:
        return CE(m(b["inputs"]["x"]), b["labels"])

    model = linear_model()
    t = Trainer(model, None, sgd(model), dict_batches(), step_fn=step, progress=False, seed=0)
    h = t.fit_one_cycle(2, max_lr=0.3)
    assert h.loss == pytest.approx(h_ref.loss, rel=1e-6)
    assert same_params(model, ref_model)


@pytest.mark.parametrize("shape", ["tensor", "dict", "object"])
def test_step_results_loss_tensor_dict_or_object_with_loss(shape: str) -> None:
    class Output(OrderedDict):  # a Hugging Face ModelOutput is an OrderedDict with attributes
        def __getattr__(self, name: str) -> Any:
            try:
                return self[name]
            except KeyError:
                raise AttributeError(name) from None

    def step(m: nn.Module, b: tuple[torch.Tensor, torch.Tensor]) -> Any:
        logits = m(b[0])
        loss = CE(logits, b[1])
        if shape == "tensor":
            return loss
        if shape == "dict":
            return {"loss": loss, "outputs": logits, "targets": b[1]}
        return Output(loss=loss, logits=logits)

    model = linear_model()
    t = Trainer(model, None, sgd(model), pair_batches(), step_fn=step, progress=False)
    h = t.fit(2, lr=0.05)
    assert h.iterations == 12 and h.loss[-1] < h.loss[0]


def test_metrics_see_the_outputs_and_targets_of_a_step_fn() -> None:
    batches = dict_batches()

    def step(m: nn.Module, b: dict[str, Any]) -> dict[str, Any]:
        logits = m(b["inputs"]["x"])
        return {"loss": CE(logits, b["labels"]), "logits": logits, "targets": b["labels"]}

    model = linear_model()
    t = Trainer(model, None, sgd(model), batches, val_loader=batches, step_fn=step,
                metrics="accuracy", progress=False)
    h = t.fit(1, lr=0.05)
    with torch.no_grad():
        x = torch.cat([b["inputs"]["x"] for b in batches])
        y = torch.cat([b["labels"] for b in batches])
        logits = model(x)
    assert h[-1]["val_loss"] == pytest.approx(float(CE(logits, y)), rel=1e-5)
    assert h[-1]["val_accuracy"] == pytest.approx(float((logits.argmax(1) == y).float().mean()))


def test_an_object_output_takes_its_targets_from_the_batch_labels() -> None:
    class Out:
        def __init__(self, loss: torch.Tensor, logits: torch.Tensor) -> None:
            self.loss, self.logits = loss, logits

    batches = dict_batches()
    model = linear_model()
    t = Trainer(model, None, sgd(model), batches, val_loader=batches, metrics="accuracy",
                step_fn=lambda m, b: Out(CE(m(b["inputs"]["x"]), b["labels"]),
                                         m(b["inputs"]["x"])), progress=False)
    assert 0.0 <= t.evaluate()["accuracy"] <= 1.0


def test_a_loss_only_step_with_metrics_says_what_to_return_and_eval_fn_fixes_it() -> None:
    batches = dict_batches()

    def loss_only(m: nn.Module, b: dict[str, Any]) -> torch.Tensor:
        return CE(m(b["inputs"]["x"]), b["labels"])

    model = linear_model()
    t = Trainer(model, None, sgd(model), batches, val_loader=batches, step_fn=loss_only,
                metrics="accuracy", progress=False)
    with pytest.raises(TypeError, match=r"metrics need the model's outputs.*'outputs'.*eval_fn"):
        t.evaluate()

    def evaluate(m: nn.Module, b: dict[str, Any]) -> dict[str, Any]:
        out = m(b["inputs"]["x"])
        return {"loss": CE(out, b["labels"]), "outputs": out, "targets": b["labels"]}

    t2 = Trainer(model, None, sgd(model), batches, val_loader=batches, step_fn=loss_only,
                 eval_fn=evaluate, metrics="accuracy", progress=False)
    h = t2.fit(1, lr=0.05)
    assert "val_accuracy" in h[-1]


def test_validation_weights_batches_by_their_size() -> None:
    x, y = blobs(n=50)
    batches = [{"x": x[:32], "y": y[:32]}, {"x": x[32:], "y": y[32:]}]  # 32 and 18
    model = linear_model()
    t = Trainer(model, None, sgd(model), batches,
                step_fn=lambda m, b: CE(m(b["x"]), b["y"]), progress=False)
    with torch.no_grad():
        full = float(CE(model(x), y))
    assert t.evaluate(batches)["loss"] == pytest.approx(full, rel=1e-5)


# ----------------------------------------------------------------------------- accumulation


def test_accumulation_of_two_batches_of_16_equals_one_batch_of_32() -> None:
    a_model, b_model = linear_model(), linear_model()
    a = Trainer(a_model, CE, sgd(a_model), pair_batches(bs=16), accumulation_steps=2,
                progress=False)
    b = Trainer(b_model, CE, sgd(b_model), pair_batches(bs=32), progress=False)
    ha, hb = a.fit_one_cycle(3, max_lr=0.3), b.fit_one_cycle(3, max_lr=0.3)
    assert ha.iterations == hb.iterations == 9  # the schedule counts optimizer steps
    assert a.steps_per_epoch == 3 and a.scheduler.total_steps == 9
    assert ha.lr == pytest.approx(hb.lr) and ha.loss == pytest.approx(hb.loss, rel=1e-5)
    assert same_params(a_model, b_model)


def test_the_last_short_group_of_an_epoch_averages_what_it_has() -> None:
    """48 samples in batches of 16 with k=2: one group of two batches and one of a
    single batch, which is the mean over its 16 samples (not half of it)."""
    x, y = blobs(n=48)
    a_model, b_model = linear_model(), linear_model()
    a = Trainer(a_model, CE, sgd(a_model), [(x[i:i + 16], y[i:i + 16]) for i in (0, 16, 32)],
                accumulation_steps=2, progress=False)
    b = Trainer(b_model, CE, sgd(b_model), [(x[:32], y[:32]), (x[32:], y[32:])],
                progress=False)
    ha, hb = a.fit(2, lr=0.1), b.fit(2, lr=0.1)
    assert ha.iterations == hb.iterations == 4
    assert ha.loss == pytest.approx(hb.loss, rel=1e-5)
    assert same_params(a_model, b_model)


def test_accumulation_resume_is_exact(tmp_path: Any) -> None:
    class Crash(Callback):
        def on_batch_end(self, trainer: Any, step: int, loss: float) -> None:
            if step == 4:
                raise RuntimeError("crash")

    def make(**kw: Any) -> Trainer:
        model = linear_model()
        kw = {"checkpoint_dir": tmp_path, "checkpoint_every": 2, **kw}
        return Trainer(model, CE, sgd(model), pair_batches(n=112), accumulation_steps=3,
                       progress=False, seed=0, **kw)

    ref = make(checkpoint_dir=None, checkpoint_every=None)
    h_ref = ref.fit_one_cycle(2, max_lr=0.3)
    with pytest.raises(RuntimeError, match="crash"):
        make(callbacks=[Crash()]).fit_one_cycle(2, max_lr=0.3)
    t = make()
    h = t.fit_one_cycle(2, max_lr=0.3, resume=True)
    assert h.loss == h_ref.loss and same_params(t.model, ref.model, atol=0)
    with pytest.raises(CheckpointError, match="accumulation_steps=3"):
        model = linear_model()
        Trainer(model, CE, sgd(model), pair_batches(n=112), accumulation_steps=2,
                progress=False, checkpoint_dir=tmp_path / "other").fit_one_cycle(
            2, max_lr=0.3, resume=tmp_path / "last.pt")


# ----------------------------------------------------------------------------- range test


def test_lr_find_runs_under_the_trainers_step_fn_clip_and_accumulation() -> None:
    calls = {"n": 0}

    def step(m: nn.Module, b: dict[str, Any]) -> torch.Tensor:
        calls["n"] += 1
        return CE(m(b["inputs"]["x"]), b["labels"])

    model = linear_model()
    t = Trainer(model, None, sgd(model), dict_batches(), step_fn=step, grad_clip=0.25,
                accumulation_steps=2, progress=False)
    res = t.lr_find(num_iter=10)
    assert res.config["grad_clip"] == 0.25 and res.config["accumulation_steps"] == 2
    assert len(res.grad_norms) == len(res.lrs) and calls["n"] >= 2 * len(res.lrs)
    free = t.lr_find(num_iter=10, grad_clip=None)  # keywords override the trainer's
    assert free.config["grad_clip"] is None and len(free.grad_norms) == 0


def test_fit_one_cycle_without_max_lr_keeps_the_group_ratios() -> None:
    """Issue #20 item 5: groups at 0.001 and 0.01 are swept 1:10 and peak 1:10."""
    model = linear_model()
    opt = torch.optim.SGD([{"params": model[0].parameters(), "lr": 0.001},
                           {"params": model[2].parameters(), "lr": 0.01}], momentum=0.9)
    t = Trainer(model, CE, opt, pair_batches(n=384), progress=False, seed=0)
    h = t.fit_one_cycle(1, lr_find_kw={"num_iter": 40, "end_lr": 10.0})
    peak = h.fits[0]["resolved"]["max_lr"]
    info = h.meta["lr_find"]
    assert isinstance(peak, list) and peak[1] == pytest.approx(10 * peak[0])
    assert info["per_group"] == pytest.approx(peak) and info["lr"] == pytest.approx(peak[0])
    assert t.scheduler.max_lrs == pytest.approx(peak)


# ----------------------------------------------------------------------------- fp16 skips


class _InfGrad(torch.autograd.Function):
    """Identity forward, infinite gradient backward: what an fp16 overflow looks like."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        return x.clone()

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> torch.Tensor:
        return g * math.inf


def test_a_step_the_fp16_scaler_skips_does_not_advance_the_schedule() -> None:
    calls = {"n": 0}

    def step(m: nn.Module, b: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        calls["n"] += 1
        out = m(b[0])
        if calls["n"] == 4:  # the 4th batch overflows
            out = _InfGrad.apply(out)
        return CE(out.float(), b[1])

    class Weights(Callback):
        def __init__(self) -> None:
            self.w: list[torch.Tensor] = []

        def on_batch_end(self, trainer: Any, i: int, loss: float) -> None:
            self.w.append(trainer.model[0].weight.detach().clone())

    spy = Weights()
    model = linear_model()
    t = Trainer(model, None, sgd(model), pair_batches(), step_fn=step, amp="fp16",
                callbacks=[spy], progress=False)
    h = t.fit_one_cycle(2, max_lr=0.3)
    assert h.meta["skipped_steps"] == 1 and h.iterations == 12
    assert h.lr[4] == h.lr[3] and h.lr[5] != h.lr[4]  # step 3 was skipped: lr held once
    assert torch.equal(spy.w[3], spy.w[2])  # ... and the weights were not changed
    assert t.scheduler.last_epoch == 11  # 12 attempts, 11 steps taken
    assert all(math.isfinite(v) for v in h.loss)


# ----------------------------------------------------------------------------- options


def test_grouped_options_equal_flat_keywords_and_keywords_override() -> None:
    opts = TrainerOptions(grad_clip=0.5, accumulation_steps=2, seed=3, progress=False)
    m1, m2 = linear_model(), linear_model()
    a = Trainer(m1, CE, sgd(m1), pair_batches(), options=opts)
    b = Trainer(m2, CE, sgd(m2), pair_batches(), grad_clip=0.5, accumulation_steps=2,
                seed=3, progress=False)
    assert a.options == b.options and a.numerics == b.numerics
    assert a.fit(1, lr=0.1).loss == b.fit(1, lr=0.1).loss
    m3 = linear_model()
    c = Trainer(m3, CE, sgd(m3), pair_batches(), options=opts, grad_clip=1.0)
    assert c.grad_clip == 1.0 and c.options.seed == 3
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'grad_clipping'"):
        Trainer(m3, CE, sgd(m3), pair_batches(), grad_clipping=1.0)
    with pytest.raises(TypeError, match="options must be a TrainerOptions"):
        Trainer(m3, CE, sgd(m3), pair_batches(), options={"grad_clip": 1.0})


def test_no_public_signature_is_long() -> None:
    import inspect

    for fn in (Trainer.__init__, Trainer.fit_one_cycle, Trainer.fit, Trainer.fit_tail,
               Trainer.load):
        params = [p for p in inspect.signature(fn).parameters.values()
                  if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]
        assert len(params) <= 10, fn.__qualname__


def test_a_callback_can_read_the_gradients_after_the_step() -> None:
    class Norms(Callback):
        def __init__(self) -> None:
            self.norms: list[float] = []

        def on_batch_end(self, trainer: Any, step: int, loss: float) -> None:
            grads = [p.grad for p in trainer.model.parameters()]
            self.norms.append(float(torch.cat([g.reshape(-1) for g in grads]).norm()))

    spy = Norms()
    model = linear_model()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Trainer(model, CE, sgd(model), pair_batches(), grad_clip=0.05, callbacks=[spy],
                progress=False).fit(1, lr=0.05)
    assert len(spy.norms) == 6 and max(spy.norms) <= 0.05 + 1e-6
