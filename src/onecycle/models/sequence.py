"""A small 1-D CNN for signals such as MNIST-1D: ``(C, L)`` inputs, logits out.

Example:
    >>> import torch
    >>> cnn1d((1, 40), 10)(torch.zeros(2, 1, 40)).shape
    torch.Size([2, 10])
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from .shapes import check_shape

__all__ = ["cnn1d"]


def cnn1d(
    input_shape: Sequence[int], num_classes: int, dropout: float = 0.0, width: int = 32
) -> nn.Sequential:
    """Three ``Conv1d -> ReLU`` stages of ``width`` channels, each halving the length.

    The first convolution has kernel 5, the others kernel 3, all stride 2 and padded,
    so a length ``L`` becomes ``ceil(L / 8)`` and never vanishes (40 -> 20 -> 10 -> 5
    on MNIST-1D); then flatten, ``nn.Dropout(dropout)`` and a linear classifier. About
    8 k parameters at the defaults on MNIST-1D.

    Example:
        >>> import torch
        >>> m = cnn1d((1, 40), 10)
        >>> m(torch.zeros(3, 1, 40)).shape, m[-1].in_features
        (torch.Size([3, 10]), 160)
    """
    c, length = check_shape(input_shape, num_classes, dims=2, layout="(C, L)")
    layers: list[nn.Module] = []
    cin = c
    for kernel in (5, 3, 3):
        layers += [nn.Conv1d(cin, width, kernel, stride=2, padding=kernel // 2),
                   nn.ReLU(inplace=True)]
        cin = width
        length = (length + 1) // 2
    layers += [nn.Flatten(), nn.Dropout(dropout), nn.Linear(width * length, num_classes)]
    return nn.Sequential(*layers)
