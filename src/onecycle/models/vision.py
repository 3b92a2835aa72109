"""Image and flat-feature classifiers: an MLP, LeNet-5, Caffe's LeNet and a small CNN.

Every factory takes ``input_shape`` (``(C, H, W)``, or ``(D,)`` for :func:`mlp`),
``num_classes`` and ``dropout=`` and returns logits ``(N, num_classes)``. They work from
8x8 inputs (scikit-learn digits) up to 32x32: convolutions are padded and pooling is
skipped where a feature map would otherwise vanish.

Example:
    >>> import torch
    >>> small_cnn((1, 28, 28), 10)(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 10])
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from torch import nn

from .shapes import check_shape

__all__ = ["caffe_lenet", "lenet", "mlp", "small_cnn"]


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
    shape = check_shape(input_shape, num_classes, image=False)
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
    c, h, w = check_shape(input_shape, num_classes, image=True)
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
    c, h, w = check_shape(input_shape, num_classes, image=True)

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
    c, h, w = check_shape(input_shape, num_classes, image=True)
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
