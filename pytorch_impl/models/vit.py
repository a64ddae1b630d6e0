"""Vision Transformer: torchvision's VisionTransformer. imagenet = torchvision.models.vit_b_16
exactly; cifar = the same class at 32×32 with patch 4 and the small size of
shared/architectures.py (VIT["cifar"])."""

from __future__ import annotations

from torch import nn
from torchvision.models import vit_b_16
from torchvision.models.vision_transformer import VisionTransformer

from shared.architectures import VIT


def vit(*, variant: str = "cifar", num_classes: int = 10) -> nn.Module:
    if variant == "imagenet":
        return vit_b_16(weights=None, num_classes=num_classes)
    if variant == "cifar":
        return VisionTransformer(**VIT["cifar"], num_classes=num_classes)
    raise ValueError(f"vit has no {variant!r} variant; known: {', '.join(VIT)}")
