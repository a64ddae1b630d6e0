"""The custom CNN for 32×32 CIFAR-10, in two designs (`variant`). Both start with airbench's
whitening stem (shared/architectures.py WHITEN_*): a frozen 2×2 convolution whose 24 filters
whiten the training images' 2×2 patches (init_weights sets them; the bias trains), so the 32×32
image becomes a 31×31 map.

cifar (ours, sized for a 2-core CPU; after airbench's network, scaled down): the stem and a ReLU,
then three blocks of conv3×3 → max-pool 2 → BatchNorm → ReLU → conv3×3 → BatchNorm → ReLU,
widths 64-128-256, so the feature map goes 31 → 15 → 7 → 3; a global max-pool and one Linear
layer classify. Pooling before the first BatchNorm of a block (as airbench does) normalises a 4×
smaller tensor. Convolutions carry no bias (BatchNorm follows). 1,161,282 parameters with 10
classes, 1,160,994 of them trained; about 65 M multiply-adds per image.

airbench: airbench94's network (shared/architectures.py AIRBENCH has the design and its source):
the stem and a GELU before the same kind of blocks (GELU, widths 64-256-256), BatchNorm without a
learned scale, Dirac-initialised convolutions, a bias-free Linear layer and logits × 1/9.
1,972,792 parameters, 1,971,352 of them trained.

tensorflow_impl/models/cnn.py is the same network layer for layer, with the same layer names.
"""

from __future__ import annotations

import torch
from torch import nn

from shared.architectures import AIRBENCH, WHITEN_KERNEL, WHITEN_WIDTH

WIDTHS = (64, 128, 256)


class ConvBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, activation=nn.ReLU, batchnorm=nn.BatchNorm2d):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
        self.pool = nn.MaxPool2d(2)
        self.bn1 = batchnorm(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = batchnorm(out_channels)
        self.activation = activation()

    def forward(self, x):
        x = self.activation(self.bn1(self.pool(self.conv1(x))))
        return self.activation(self.bn2(self.conv2(x)))


def whitening_stem() -> nn.Conv2d:
    """The frozen whitening convolution; until init_weights whitens it, it holds the default
    initialisation."""
    whiten = nn.Conv2d(3, WHITEN_WIDTH, WHITEN_KERNEL, bias=True)
    whiten.weight.requires_grad = False
    return whiten


class CNN(nn.Module):
    def __init__(self, *, num_classes: int = 10, widths: tuple[int, ...] = WIDTHS):
        super().__init__()
        self.whiten = whitening_stem()
        self.activation = nn.ReLU()
        channels = (WHITEN_WIDTH, *widths)
        self.features = nn.Sequential(*(ConvBlock(cin, cout) for cin, cout in zip(channels, widths)))
        self.pool = nn.AdaptiveMaxPool2d(1)
        self.head = nn.Linear(widths[-1], num_classes)

    def forward(self, x):
        x = self.features(self.activation(self.whiten(x)))
        return self.head(self.pool(x).flatten(1))

    def reset_head(self, num_classes: int) -> None:
        self.head = nn.Linear(self.head.in_features, num_classes)


def _airbench_batchnorm(channels: int) -> nn.BatchNorm2d:
    bn = nn.BatchNorm2d(channels, eps=AIRBENCH["batchnorm_eps"], momentum=AIRBENCH["batchnorm_momentum"])
    bn.weight.requires_grad = False  # the scale stays 1: only the bias (the shift) learns
    return bn


class AirbenchCNN(nn.Module):
    """airbench94's network."""

    def __init__(self, *, num_classes: int = 10):
        super().__init__()
        widths = AIRBENCH["widths"]
        self.whiten = whitening_stem()
        self.activation = nn.GELU()
        channels = (WHITEN_WIDTH, *widths)
        self.features = nn.Sequential(*(ConvBlock(cin, cout, nn.GELU, _airbench_batchnorm)
                                        for cin, cout in zip(channels, widths)))
        self.pool = nn.AdaptiveMaxPool2d(1)  # the map is 3×3 here: airbench's MaxPool2d(3)
        self.head = nn.Linear(widths[-1], num_classes, bias=False)
        self.logit_scale = AIRBENCH["logit_scale"]
        with torch.no_grad():
            for block in self.features:  # partial identity: each conv starts by passing its input on
                for conv in (block.conv1, block.conv2):
                    nn.init.dirac_(conv.weight[:conv.in_channels])

    def forward(self, x):
        x = self.features(self.activation(self.whiten(x)))
        return self.head(self.pool(x).flatten(1)) * self.logit_scale

    def reset_head(self, num_classes: int) -> None:
        self.head = nn.Linear(self.head.in_features, num_classes, bias=False)


def cnn(*, variant: str = "cifar", num_classes: int = 10) -> nn.Module:
    if variant == "airbench":
        return AirbenchCNN(num_classes=num_classes)
    if variant != "cifar":
        raise ValueError(f"cnn has no {variant!r} variant; known: cifar, airbench")
    return CNN(num_classes=num_classes)
