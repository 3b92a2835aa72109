"""The CIFAR ResNets of He et al. (2016): depth ``6n + 2``, widths 16/32/64, option-A shortcuts.

Example:
    >>> import torch
    >>> resnet_cifar((3, 32, 32), 10, depth=8)(torch.zeros(1, 3, 32, 32)).shape
    torch.Size([1, 10])
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .shapes import check_shape

__all__ = ["CifarResNet", "resnet20", "resnet56", "resnet_cifar"]


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
        """Logits ``(N, num_classes)`` for images ``(N, C, H, W)``.

        Example:
            >>> import torch
            >>> CifarResNet(8, in_channels=1, num_classes=3)(torch.zeros(2, 1, 8, 8)).shape
            torch.Size([2, 3])
        """
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
    c, _, _ = check_shape(input_shape, num_classes, image=True)
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
