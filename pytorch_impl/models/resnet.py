"""ResNet-18: torchvision's own builder, in two variants.

- imagenet: exactly torchvision.models.resnet18 (224×224 input), with a num_classes head.
- cifar: the same network with the usual CIFAR stem — a 3×3 stride-1 conv1 and no max-pool — so a
  32×32 image keeps its resolution until layer2 (11,173,962 parameters with 10 classes).

tensorflow_impl/models/resnet.py mirrors it layer for layer, with torchvision's layer names.
"""

from __future__ import annotations

from torch import nn
from torchvision.models import resnet18 as torchvision_resnet18


def resnet18(*, variant: str = "cifar", num_classes: int = 10) -> nn.Module:
    model = torchvision_resnet18(weights=None, num_classes=num_classes)
    if variant == "cifar":
        model.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
        nn.init.kaiming_normal_(model.conv1.weight, mode="fan_out", nonlinearity="relu")  # torchvision's init
        model.maxpool = nn.Identity()
    elif variant != "imagenet":
        raise ValueError(f"resnet18 has no {variant!r} variant; known: cifar, imagenet")
    return model
