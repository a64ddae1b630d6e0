"""MobileNetV2: torchvision's builder. imagenet = torchvision.models.mobilenet_v2 exactly;
cifar = the same network with stride 1 in the stem and in the first stride-2 stage
(shared/architectures.py), as the well-known CIFAR ports do."""

from __future__ import annotations

from torch import nn
from torchvision.models import mobilenet_v2 as torchvision_mobilenet_v2

from shared.architectures import MOBILENET_V2_STAGES, MOBILENET_V2_STEM_STRIDE


def mobilenet(*, variant: str = "cifar", num_classes: int = 10) -> nn.Module:
    if variant not in MOBILENET_V2_STAGES:
        raise ValueError(f"mobilenet has no {variant!r} variant; known: {', '.join(MOBILENET_V2_STAGES)}")
    model = torchvision_mobilenet_v2(weights=None, num_classes=num_classes,
                                     inverted_residual_setting=[list(s) for s in MOBILENET_V2_STAGES[variant]])
    stem = model.features[0][0]
    stem.stride = (MOBILENET_V2_STEM_STRIDE[variant],) * 2  # a stride is not a weight: no re-init
    return model
