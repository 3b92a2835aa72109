"""The sequence models (cnn1d, char_transformer, hf_gpt2_tiny) and the new workloads end to
end: each model trains a few steps through onecycle.Trainer and through onecycle.lr_find on
its dataset, with the loss, step and headline its task prescribes."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

import onecycle
from onecycle.data import hf_causal_batch, load, text_bundle
from onecycle.models import (
    CausalLMOutput,
    char_transformer,
    cnn1d,
    count_parameters,
    create,
)
from onecycle.tasks import task_for

try:
    import transformers  # noqa: F401

    HAS_HF = True
except ImportError:
    HAS_HF = False
needs_hf = pytest.mark.skipif(not HAS_HF, reason="transformers not installed "
                              "(pip install 'onecycle[hf]' or pip install transformers)")
try:
    import mnist1d  # noqa: F401

    HAS_MNIST1D = True
except ImportError:
    HAS_MNIST1D = False


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def text() -> onecycle.data.DatasetBundle:
    rng = np.random.default_rng(0)
    words = ["one", "cycle", "policy", "learning", "rate", "momentum", "\n"]
    return text_bundle(" ".join(rng.choice(words, 3000)), seq_len=32, name="words")


# --------------------------------------------------------------------------- cnn1d


@pytest.mark.parametrize("length", [1, 7, 40, 129])
def test_cnn1d_any_length(length: int):
    m = cnn1d((2, length), 5, dropout=0.2)
    out = m(torch.randn(3, 2, length))
    assert out.shape == (3, 5)
    nn.functional.cross_entropy(out, torch.arange(3)).backward()
    assert all(p.grad is not None for p in m.parameters())
    assert [d.p for d in m.modules() if isinstance(d, nn.Dropout)] == [0.2]
    with pytest.raises(ValueError, match=r"\(C, L\)"):
        cnn1d((40,), 10)


# ------------------------------------------------------------------ char_transformer


def test_char_transformer_is_causal_and_its_loss_is_the_cross_entropy():
    torch.manual_seed(0)
    m = char_transformer((16,), 20).eval()
    ids = torch.randint(0, 20, (2, 16))
    out = m(ids, labels=ids.roll(-1, 1))
    assert isinstance(out, CausalLMOutput) and out.logits.shape == (2, 16, 20)
    want = nn.functional.cross_entropy(out.logits.reshape(-1, 20), ids.roll(-1, 1).reshape(-1))
    assert torch.allclose(out.loss, want)
    changed = ids.clone()
    changed[:, 10] = (changed[:, 10] + 1) % 20
    out2 = m(changed)
    assert torch.allclose(out.logits[:, :10], out2.logits[:, :10], atol=1e-6)  # no peeking
    assert not torch.allclose(out.logits[:, 10:], out2.logits[:, 10:])
    assert m(ids[:, :5]).logits.shape == (2, 5, 20) and m(ids).loss is None
    with pytest.raises(ValueError, match="length <= 16"):
        m(torch.zeros(1, 17, dtype=torch.long))


def test_char_transformer_size_and_dropout_modules():
    m = create("char_transformer", (128,), 100)
    assert 150_000 < count_parameters(m) < 180_000
    assert m.head.weight is m.tok_emb.weight  # tied embeddings
    d = create("char_transformer", (8,), 10, dropout=0.3)
    drops = [x for x in d.modules() if isinstance(x, nn.Dropout)]
    assert drops and all(x.p == 0.3 for x in drops)
    d.train()
    ids = torch.randint(0, 10, (4, 8))
    torch.manual_seed(0)
    assert not torch.allclose(d(ids).logits, d(ids).logits)  # dropout acts in training
    with pytest.raises(ValueError, match=r"\(T,\)"):
        create("char_transformer", (1, 8, 8), 10)
    with pytest.raises(ValueError, match="multiple of n_heads"):
        char_transformer((8,), 10, d_model=30, n_heads=4)


# ----------------------------------------------------------------------- hf_gpt2_tiny


@needs_hf
def test_hf_gpt2_tiny_predicts_exactly_our_labels():
    """HF shifts labels itself; the wrapper feeds it the T+1 window so the targets are ours."""
    torch.manual_seed(0)
    m = create("hf_gpt2_tiny", (12,), 25).eval()
    assert m.hf.config.vocab_size == 25 and m.hf.config.n_positions == 13
    window = torch.randint(0, 25, (3, 13))
    x, y = window[:, :-1], window[:, 1:]
    out = m(input_ids=x, labels=y)
    assert out.logits.shape == (3, 12, 25)
    want = nn.functional.cross_entropy(out.logits.reshape(-1, 25), y.reshape(-1))
    assert torch.allclose(out.loss, want, atol=1e-5)
    hf_out = m.hf(**hf_causal_batch({"input_ids": x, "labels": y}))
    assert torch.allclose(hf_out.loss, out.loss)
    assert m(x).loss is None and m(x).logits.shape == (3, 12, 25)
    with pytest.raises(ValueError, match="shifted by one"):
        m(input_ids=x, labels=x)  # HF-style labels given to our wrapper: refused, not misread


def test_hf_gpt2_tiny_without_transformers_names_the_install(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_transformers(name, *args, **kwargs):
        if name == "transformers" or name.startswith("transformers."):
            raise ImportError("No module named 'transformers'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_transformers)
    with pytest.raises(ImportError, match=r"needs transformers: pip install 'onecycle\[hf\]'"):
        create("hf_gpt2_tiny", (8,), 10)


# ---------------------------------------------------- each workload trains, end to end


def _train_and_find(model, bundle, batch_size, lr):
    """A few steps through the Trainer and a short range test, with the task's parts."""
    task = task_for(bundle)
    tr, va, _ = bundle.loaders(batch_size, seed=0)
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    res = onecycle.lr_find(model, opt, task.loss_fn, tr, step_fn=task.step_fn,
                           start_lr=1e-5, end_lr=1.0, num_iter=8, progress=False)
    assert len(res.losses) >= 2 and np.isfinite(res.losses[0])
    trainer = onecycle.Trainer(model, task.loss_fn, opt, tr, val_loader=va,
                               step_fn=task.step_fn, metrics=dict(task.metrics),
                               progress=False)
    history = trainer.fit_one_cycle(epochs=1, max_lr=lr)
    last = history[-1]
    assert math.isfinite(last["train_loss"]) and math.isfinite(last["val_loss"])
    score = task.score(last["val_loss"], {k[4:]: v for k, v in last.items()
                                          if k.startswith("val_")})
    assert score is not None and math.isfinite(score)
    return task, last, score


@pytest.mark.skipif(not HAS_MNIST1D, reason="mnist1d not installed (pip install mnist1d)")
def test_cnn1d_trains_on_mnist1d():
    torch.manual_seed(0)
    bundle = load("mnist1d").subset(train=1000, val=200)
    task, last, acc = _train_and_find(create("cnn1d", bundle.input_shape, 10), bundle, 50, 1e-2)
    assert task.headline == "accuracy" and acc > task.chance  # learned something


def test_char_transformer_trains_on_text(text):
    torch.manual_seed(0)
    model = create("char_transformer", text.input_shape, text.num_classes, d_model=32,
                   n_layers=1)
    task, last, bpc = _train_and_find(model, text, 16, 1e-2)
    assert task.headline == "bpc" and bpc == pytest.approx(last["val_loss"] / math.log(2))
    assert bpc < math.log2(text.num_classes)  # better than a uniform guess


@needs_hf
def test_hf_gpt2_tiny_trains_on_text(text):
    torch.manual_seed(0)
    model = create("hf_gpt2_tiny", text.input_shape, text.num_classes, n_embd=32, n_layer=1)
    task, last, bpc = _train_and_find(model, text, 16, 1e-2)
    assert bpc < math.log2(text.num_classes)


def test_mlp_regresses_diabetes():
    torch.manual_seed(0)
    bundle = load("diabetes")
    model = create("mlp", bundle.input_shape, bundle.num_classes, hidden=(32,))
    task, last, rmse = _train_and_find(model, bundle, 32, 1e-2)
    assert task.headline == "rmse" and rmse == pytest.approx(math.sqrt(last["val_loss"]))
    assert model(bundle.split("val")[0]).shape == (35, 1)
