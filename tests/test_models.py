"""Tests for onecycle.models: shapes, registry, dropout exposure, a quick training run."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from onecycle.data import load
from onecycle.models import (
    MODELS,
    caffe_lenet,
    count_parameters,
    create,
    mlp,
    register_model,
    resnet20,
    resnet56,
)

SHAPES = [(1, 8, 8), (1, 28, 28), (3, 32, 32)]
#: The image classifiers (the sequence models are tested in test_models_sequence.py).
IMAGE_MODELS = ["caffe_lenet", "lenet", "mlp", "resnet20", "resnet56", "small_cnn"]


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny models run fastest on one thread (and the CI machine is shared)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("name", IMAGE_MODELS)
def test_forward_shapes(name: str, shape: tuple[int, int, int]) -> None:
    torch.manual_seed(0)
    model = create(name, shape, 7)
    model.eval()
    with torch.no_grad():
        out = model(torch.rand(3, *shape))
    assert out.shape == (3, 7) and out.dtype == torch.float32
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", IMAGE_MODELS)
def test_backward_reaches_every_parameter(name: str) -> None:
    torch.manual_seed(0)
    model = create(name, (1, 8, 8), 10)
    loss = nn.functional.cross_entropy(model(torch.rand(4, 1, 8, 8)), torch.arange(4))
    loss.backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), pname


@pytest.mark.parametrize("name", IMAGE_MODELS)
def test_dropout_is_exposed_as_modules(name: str) -> None:
    model = create(name, (1, 12, 12), 10, dropout=0.3)
    drops = [m for m in model.modules() if isinstance(m, nn.Dropout)]
    assert drops and all(d.p == 0.3 for d in drops)
    default = create(name, (1, 12, 12), 10)
    assert all(m.p == 0.0 for m in default.modules() if isinstance(m, nn.Dropout))
    # setting p on the modules changes the training-mode output, as a search would do
    for d in drops:
        d.p = 0.9
    model.train()
    torch.manual_seed(0)
    x = torch.rand(4, 1, 12, 12)
    a, b = model(x), model(x)
    assert not torch.allclose(a, b)


def test_mlp_hidden_layers_and_flat_input() -> None:
    m = mlp((64,), 10, hidden=(32, 16, 8))
    linears = [layer for layer in m if isinstance(layer, nn.Linear)]
    assert [(lin.in_features, lin.out_features) for lin in linears] == [
        (64, 32),
        (32, 16),
        (16, 8),
        (8, 10),
    ]
    assert m(torch.zeros(2, 64)).shape == (2, 10)
    assert mlp((5,), 3, hidden=())(torch.zeros(1, 5)).shape == (1, 3)


def test_caffe_lenet_is_caffes_network_on_28x28() -> None:
    m = caffe_lenet((1, 28, 28), 10)
    convs = [layer for layer in m if isinstance(layer, nn.Conv2d)]
    linears = [layer for layer in m if isinstance(layer, nn.Linear)]
    assert [(c.out_channels, c.kernel_size, c.padding) for c in convs] == [
        (20, (5, 5), (0, 0)),
        (50, (5, 5), (0, 0)),
    ]
    assert [(lin.in_features, lin.out_features) for lin in linears] == [(800, 500), (500, 10)]
    assert count_parameters(m) == 431080
    # 8x8 digits: padded so the maps do not vanish
    small = caffe_lenet((1, 8, 8), 10)
    assert all(c.padding == (2, 2) for c in small if isinstance(c, nn.Conv2d))


def test_resnet_sizes() -> None:
    assert count_parameters(resnet20((3, 32, 32), 10)) == pytest.approx(0.27e6, rel=0.02)
    assert count_parameters(resnet56((3, 32, 32), 10)) == pytest.approx(0.85e6, rel=0.02)
    convs = [m for m in resnet20((1, 28, 28), 10).modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 19  # + the final fc = 20 weighted layers


def test_small_cnn_has_batchnorm_and_eval_on_one_sample() -> None:
    m = create("small_cnn", (1, 8, 8), 10)
    assert any(isinstance(x, nn.BatchNorm2d) for x in m.modules())
    m.eval()
    assert m(torch.rand(1, 1, 8, 8)).shape == (1, 10)


def test_create_errors_and_aliases() -> None:
    with pytest.raises(ValueError, match=r"name='vgg16'.*'mlp'.*'resnet56'"):
        create("vgg16", (1, 8, 8), 10)
    assert isinstance(create("Caffe-LeNet", (1, 8, 8), 10), nn.Module)
    with pytest.raises(ValueError, match=r"\(C, H, W\)"):
        create("lenet", (64,), 10)
    with pytest.raises(ValueError, match="num_classes"):
        create("mlp", (4,), 0)


def test_registry_has_every_model() -> None:
    assert set(IMAGE_MODELS) | {"cnn1d", "char_transformer", "hf_gpt2_tiny"} == set(MODELS)


def test_mlp_is_a_regression_head_with_one_output() -> None:
    m = create("mlp", (10,), 1, hidden=(8,))
    out = m(torch.randn(5, 10))
    assert out.shape == (5, 1)
    nn.functional.mse_loss(out, torch.randn(5, 1)).backward()


def test_register_model() -> None:
    register_model("Tiny-Linear", lambda shape, k: mlp(shape, k, hidden=()))
    try:
        assert create("tiny_linear", (2, 2), 3)(torch.zeros(1, 2, 2)).shape == (1, 3)
    finally:
        del MODELS["tiny_linear"]


def test_mlp_learns_digits() -> None:
    torch.manual_seed(0)
    bundle = load("digits")
    train, _, test = bundle.loaders(32, seed=0)
    model = mlp(bundle.input_shape, bundle.num_classes, hidden=(128,))
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    for _ in range(3):
        model.train()
        for x, y in train:
            opt.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        correct = sum(int((model(x).argmax(1) == y).sum()) for x, y in test)
    assert correct / len(bundle.test) > 0.9
