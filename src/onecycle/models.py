"""Reference models for the experiments: MLP, LeNet, Caffe's LeNet, a small CNN, ResNets.

Every factory takes ``input_shape`` (``(C, H, W)`` for images, ``(D,)`` for flat
features; only :func:`mlp` accepts the latter) and ``num_classes``, and returns an
``nn.Module`` producing logits of shape ``(N, num_classes)``. All work from 8x8 inputs
(scikit-learn digits) up to 28x28 (MNIST) and 32x32 (CIFAR): convolutions are padded
and pooling is skipped where a feature map would otherwise vanish.

Every factory takes ``dropout=`` and every model contains at least one ``nn.Dropout``
module (with ``p=0.0`` by default, which is the identity), so a dropout search can set
``p`` on every ``nn.Dropout`` of any of them.

Example:
    >>> import torch
    >>> from onecycle.models import create
    >>> model = create("small_cnn", (1, 28, 28), 10)
    >>> model(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 10])
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ._imports import import_object, is_import_spec

__all__ = [
    "MODELS",
    "CifarResNet",
    "caffe_lenet",
    "count_parameters",
    "create",
    "lenet",
    "mlp",
    "register_model",
    "resolve",
    "resnet20",
    "resnet56",
    "resnet_cifar",
    "small_cnn",
]


def _check_shape(input_shape: Sequence[int], num_classes: int, *, image: bool) -> tuple[int, ...]:
    shape = tuple(int(s) for s in input_shape)
    if not shape or any(s < 1 for s in shape):
        raise ValueError(f"input_shape must be positive sizes, got {tuple(input_shape)!r}")
    if image and len(shape) != 3:
        raise ValueError(
            f"input_shape must be (C, H, W) for a convolutional model, got {shape!r} "
            "(use mlp for flat features)"
        )
    if isinstance(num_classes, bool) or int(num_classes) != num_classes or num_classes < 1:
        raise ValueError(f"num_classes must be a positive int, got {num_classes!r}")
    return shape


def _pool_size(size: int) -> int:
    """Spatial size after a 2x2 max-pool (or unchanged when it is skipped)."""
    return size // 2 if size >= 2 else size


def _pool(size_h: int, size_w: int) -> nn.Module:
    return nn.MaxPool2d(2) if min(size_h, size_w) >= 2 else nn.Identity()


def mlp(
    input_shape: Sequence[int],
    num_classes: int,
    hidden: Sequence[int] = (256, 128),
    dropout: float = 0.0,
) -> nn.Sequential:
    """Multi-layer perceptron: flatten, then ``Linear -> ReLU -> Dropout`` per hidden layer.

    Example:
        >>> import torch
        >>> m = mlp((1, 8, 8), 10, hidden=(32,), dropout=0.1)
        >>> m(torch.zeros(4, 1, 8, 8)).shape
        torch.Size([4, 10])
    """
    shape = _check_shape(input_shape, num_classes, image=False)
    layers: list[nn.Module] = [nn.Flatten()]
    width = math.prod(shape)
    for h in hidden:
        layers += [nn.Linear(width, int(h)), nn.ReLU(inplace=True), nn.Dropout(dropout)]
        width = int(h)
    if not hidden:
        layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(width, num_classes))
    return nn.Sequential(*layers)


def lenet(input_shape: Sequence[int], num_classes: int, dropout: float = 0.0) -> nn.Sequential:
    """A LeNet-5 style network (ReLU, max-pool): conv 6@5x5, conv 16@5x5, fc 120, fc 84.

    The first convolution is padded to keep the input size (as for the 32x32 original
    on 28x28 MNIST); the second is padded only when the map is too small (8x8 digits).

    Example:
        >>> import torch
        >>> lenet((1, 28, 28), 10)(torch.zeros(2, 1, 28, 28)).shape
        torch.Size([2, 10])
    """
    c, h, w = _check_shape(input_shape, num_classes, image=True)
    h1, w1 = _pool_size(h), _pool_size(w)
    pad2 = 0 if min(h1, w1) >= 5 else 2
    h2, w2 = h1 + 2 * pad2 - 4, w1 + 2 * pad2 - 4
    h3, w3 = _pool_size(h2), _pool_size(w2)
    return nn.Sequential(
        nn.Conv2d(c, 6, 5, padding=2),
        nn.ReLU(inplace=True),
        _pool(h, w),
        nn.Conv2d(6, 16, 5, padding=pad2),
        nn.ReLU(inplace=True),
        _pool(h2, w2),
        nn.Flatten(),
        nn.Linear(16 * h3 * w3, 120),
        nn.ReLU(inplace=True),
        nn.Linear(120, 84),
        nn.ReLU(inplace=True),
        nn.Dropout(dropout),
        nn.Linear(84, num_classes),
    )


def caffe_lenet(
    input_shape: Sequence[int], num_classes: int, dropout: float = 0.0
) -> nn.Sequential:
    """Caffe's MNIST LeNet: conv 20@5x5, pool, conv 50@5x5, pool, fc 500, ReLU, fc.

    The network of Caffe's ``lenet_train_test.prototxt`` (no non-linearity after the
    convolutions), used in Smith's 1cycle experiments. On 28x28 inputs it is exactly
    that network (800 -> 500 -> classes); inputs smaller than 16x16 get padded
    convolutions so the feature maps do not vanish. The ``nn.Dropout`` before the last
    layer is the identity at the default ``dropout=0``.

    Example:
        >>> import torch
        >>> m = caffe_lenet((1, 28, 28), 10)
        >>> m(torch.zeros(2, 1, 28, 28)).shape, m[5].in_features
        (torch.Size([2, 10]), 800)
    """
    c, h, w = _check_shape(input_shape, num_classes, image=True)

    def unpadded(s: int) -> int:
        return ((s - 4) // 2 - 4) // 2

    pad = 0 if min(unpadded(h), unpadded(w)) >= 1 else 2
    h1, w1 = h + 2 * pad - 4, w + 2 * pad - 4
    h2, w2 = _pool_size(h1), _pool_size(w1)
    h3, w3 = h2 + 2 * pad - 4, w2 + 2 * pad - 4
    h4, w4 = _pool_size(h3), _pool_size(w3)
    if min(h3, w3) < 1:
        raise ValueError(f"input_shape {tuple(input_shape)} is too small for caffe_lenet")
    return nn.Sequential(
        nn.Conv2d(c, 20, 5, padding=pad),
        _pool(h1, w1),
        nn.Conv2d(20, 50, 5, padding=pad),
        _pool(h3, w3),
        nn.Flatten(),
        nn.Linear(50 * h4 * w4, 500),
        nn.ReLU(inplace=True),
        nn.Dropout(dropout),
        nn.Linear(500, num_classes),
    )


def _conv_bn(cin: int, cout: int) -> list[nn.Module]:
    return [
        nn.Conv2d(cin, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    ]


def small_cnn(
    input_shape: Sequence[int], num_classes: int, dropout: float = 0.0, width: int = 32
) -> nn.Sequential:
    """A small VGG-like CNN with BatchNorm: three stages of 3x3 conv-BN-ReLU.

    Channels ``width, 2*width, 4*width``; the first two stages have two convolutions,
    each stage ends in a 2x2 max-pool (skipped when the map is already 1 pixel),
    then global average pooling, ``nn.Dropout(dropout)`` and a linear classifier.

    Example:
        >>> import torch
        >>> small_cnn((1, 8, 8), 10, dropout=0.2)(torch.zeros(2, 1, 8, 8)).shape
        torch.Size([2, 10])
    """
    c, h, w = _check_shape(input_shape, num_classes, image=True)
    layers: list[nn.Module] = []
    cin = c
    for stage, convs in enumerate((2, 2, 1)):
        cout = width * 2**stage
        for _ in range(convs):
            layers += _conv_bn(cin, cout)
            cin = cout
        layers.append(_pool(h, w))
        h, w = _pool_size(h), _pool_size(w)
    layers += [
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Dropout(dropout),
        nn.Linear(cin, num_classes),
    ]
    return nn.Sequential(*layers)


class _BasicBlock(nn.Module):
    """CIFAR ResNet basic block with the parameter-free shortcut ("option A")."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.stride = stride
        self.extra_channels = cout - cin

    def shortcut(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride != 1:
            x = x[:, :, :: self.stride, :: self.stride]
        if self.extra_channels:
            half = self.extra_channels // 2
            x = F.pad(x, (0, 0, 0, 0, half, self.extra_channels - half))
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)), inplace=True)
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x), inplace=True)


class CifarResNet(nn.Module):
    """The CIFAR ResNet of He et al. (2016), depth ``6n + 2``, widths 16/32/64.

    Example:
        >>> import torch
        >>> CifarResNet(20, in_channels=3, num_classes=10)(torch.zeros(1, 3, 32, 32)).shape
        torch.Size([1, 10])
    """

    def __init__(
        self,
        depth: int,
        *,
        in_channels: int,
        num_classes: int,
        dropout: float = 0.0,
        widths: Sequence[int] = (16, 32, 64),
    ) -> None:
        super().__init__()
        if depth < 8 or (depth - 2) % 6:
            raise ValueError(f"depth must be 6n + 2 (20, 32, 44, 56, 110, ...), got {depth}")
        n = (depth - 2) // 6
        self.depth = depth
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, widths[0], 3, padding=1, bias=False),
            nn.BatchNorm2d(widths[0]),
            nn.ReLU(inplace=True),
        )
        blocks: list[nn.Module] = []
        cin = widths[0]
        for stage, cout in enumerate(widths):
            for i in range(n):
                blocks.append(_BasicBlock(cin, cout, 2 if stage > 0 and i == 0 else 1))
                cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(cin, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d | nn.Linear):
                nn.init.kaiming_normal_(
                    m.weight,
                    mode="fan_out" if isinstance(m, nn.Conv2d) else "fan_in",
                    nonlinearity="relu",
                )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.blocks(self.stem(x))
        return self.fc(self.dropout(torch.flatten(self.pool(x), 1)))


def resnet_cifar(
    input_shape: Sequence[int], num_classes: int, depth: int = 20, dropout: float = 0.0
) -> CifarResNet:
    """CIFAR-style ResNet of any depth ``6n + 2`` for ``input_shape`` (C, H, W).

    Example:
        >>> import torch
        >>> resnet_cifar((1, 8, 8), 10, depth=8)(torch.zeros(2, 1, 8, 8)).shape
        torch.Size([2, 10])
    """
    c, _, _ = _check_shape(input_shape, num_classes, image=True)
    return CifarResNet(depth, in_channels=c, num_classes=num_classes, dropout=dropout)


def resnet20(input_shape: Sequence[int], num_classes: int, dropout: float = 0.0) -> CifarResNet:
    """ResNet-20 for CIFAR-sized inputs (about 0.27 M parameters).

    Example:
        >>> import torch
        >>> resnet20((3, 32, 32), 10)(torch.zeros(2, 3, 32, 32)).shape
        torch.Size([2, 10])
    """
    return resnet_cifar(input_shape, num_classes, depth=20, dropout=dropout)


def resnet56(input_shape: Sequence[int], num_classes: int, dropout: float = 0.0) -> CifarResNet:
    """ResNet-56 (about 0.85 M parameters), the network of Smith's CIFAR-10 1cycle runs.

    Example:
        >>> import torch
        >>> resnet56((1, 28, 28), 10)(torch.zeros(1, 1, 28, 28)).shape
        torch.Size([1, 10])
    """
    return resnet_cifar(input_shape, num_classes, depth=56, dropout=dropout)


#: Model factories by name: ``factory(input_shape, num_classes, **kw) -> nn.Module``.
MODELS: dict[str, Callable[..., nn.Module]] = {
    "mlp": mlp,
    "lenet": lenet,
    "caffe_lenet": caffe_lenet,
    "small_cnn": small_cnn,
    "resnet20": resnet20,
    "resnet56": resnet56,
}


def _key(name: str) -> str:
    return name.strip().lower().replace("-", "_")


def register_model(name: str, factory: Callable[..., nn.Module]) -> None:
    """Add ``factory(input_shape, num_classes, **kw)`` to :data:`MODELS` under ``name``.

    Example:
        >>> register_model("linear", lambda shape, k: mlp(shape, k, hidden=()))
        >>> "linear" in MODELS
        True
        >>> del MODELS["linear"]
    """
    if not callable(factory):
        raise TypeError(f"factory must be callable, got {type(factory).__name__}")
    MODELS[_key(name)] = factory


def create(name: str, input_shape: Sequence[int], num_classes: int, **kw: object) -> nn.Module:
    """Build the model registered as ``name`` (case-insensitive, ``-`` same as ``_``).

    Example:
        >>> create("caffe-lenet", (1, 8, 8), 10)(torch.zeros(1, 1, 8, 8)).shape
        torch.Size([1, 10])
    """
    key = _key(name)
    if key not in MODELS:
        raise ValueError(
            f"name={name!r} is not a known model; allowed: {', '.join(repr(k) for k in MODELS)}"
        )
    return MODELS[key](input_shape, num_classes, **kw)


def count_parameters(model: nn.Module, *, trainable_only: bool = True) -> int:
    """Number of (trainable) parameters of ``model``.

    Example:
        >>> count_parameters(mlp((4,), 3, hidden=(5,)))
        43
    """
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def resolve(
    spec: str | Callable[..., Any],
    input_shape: Sequence[int],
    num_classes: int,
    *,
    allow_imports: bool = True,
    **options: Any,
) -> nn.Module:
    """Build a model from a registered name, a ``"package.module:factory"`` spec or a callable.

    The factory is called as ``factory(input_shape, num_classes, **options)`` and must
    return an ``nn.Module``. An import spec goes through
    :func:`onecycle._imports.import_object`, so with ``allow_imports=False`` (a spec
    read from a config file without ``--allow-imports``) it is refused before anything
    is imported.

    Example:
        >>> resolve("mlp", (1, 8, 8), 10, hidden=(16,)).__class__.__name__
        'Sequential'
        >>> resolve("torch.nn:Bilinear", (4,), 3, allow_imports=False)
        Traceback (most recent call last):
        ...
        ValueError: model 'torch.nn:Bilinear' is an import path, and importing it runs code; it is refused here: pass --allow-imports (or give it on the command line, or pass allow_imports=True from Python)
    """
    if callable(spec) and not isinstance(spec, str):
        factory, label = spec, getattr(spec, "__name__", "model")
    elif is_import_spec(spec):
        factory = import_object(spec, "model", allowed=allow_imports)
        label = str(spec).strip()
        if not callable(factory):
            raise ValueError(f"model {label!r} is not callable (it is called as "
                             "factory(input_shape, num_classes, **model_options))")
    elif isinstance(spec, str):
        try:
            return create(spec, tuple(input_shape), num_classes, **options)
        except TypeError as err:
            raise TypeError(f"model {spec!r}: bad model_options {options!r} ({err})") from None
    else:
        raise TypeError(
            f"model must be a model name, a 'package.module:factory' string or a callable, "
            f"got {spec!r} ({type(spec).__name__})"
        )
    model = factory(tuple(input_shape), num_classes, **options)
    if not isinstance(model, nn.Module):
        raise TypeError(
            f"model factory {label!r} returned {type(model).__name__}, expected a "
            "torch.nn.Module (it is called as factory(input_shape, num_classes))"
        )
    return model
