"""The custom CNN for 32×32 CIFAR-10, sized for a 2-core CPU.

Design (after airbench's network, scaled down for the CPU): three blocks of
conv3×3 → max-pool 2 → BatchNorm → ReLU → conv3×3 → BatchNorm → ReLU, widths 64-128-256, so the
feature map goes 32 → 16 → 8 → 4; a global max-pool and one Linear layer classify. Pooling before
the first BatchNorm of a block (as airbench does) normalises a 4× smaller tensor. Convolutions
carry no bias (BatchNorm follows). 1,148,874 parameters with 10 classes; about 68 M
multiply-adds per image.

tensorflow_impl/models/cnn.py is the same network layer for layer, with the same layer names.
"""

from __future__ import annotations

from torch import nn

WIDTHS = (64, 128, 256)


class ConvBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
        self.pool = nn.MaxPool2d(2)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        x = self.relu(self.bn1(self.pool(self.conv1(x))))
        return self.relu(self.bn2(self.conv2(x)))


class CNN(nn.Module):
    def __init__(self, *, num_classes: int = 10, widths: tuple[int, ...] = WIDTHS):
        super().__init__()
        channels = (3, *widths)
        self.features = nn.Sequential(*(ConvBlock(cin, cout) for cin, cout in zip(channels, widths)))
        self.pool = nn.AdaptiveMaxPool2d(1)
        self.head = nn.Linear(widths[-1], num_classes)

    def forward(self, x):
        return self.head(self.pool(self.features(x)).flatten(1))

    def reset_head(self, num_classes: int) -> None:
        self.head = nn.Linear(self.head.in_features, num_classes)


def cnn(*, variant: str = "cifar", num_classes: int = 10) -> CNN:
    if variant != "cifar":
        raise ValueError(f"cnn has no {variant!r} variant; known: cifar")
    return CNN(num_classes=num_classes)
