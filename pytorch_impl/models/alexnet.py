"""AlexNet: torchvision's builder. imagenet = torchvision.models.alexnet exactly; cifar = the same
module layout (features.0/3/6/8/10, classifier.1/4/6) with the 32×32 adaptation of
shared/architectures.py: 3×3 stride-1 convolutions, 2×2 pools, a 4×4×256 map into a 1024-wide
classifier, He-initialised (init_like_vgg)."""

from __future__ import annotations

from torch import nn
from torchvision.models import alexnet as torchvision_alexnet

from shared.architectures import ALEXNET_FEATURES, ALEXNET_HIDDEN, ALEXNET_POOLED_SIDE


def _features(spec) -> nn.Sequential:
    layers, in_channels = [], 3
    for out_channels, kernel, stride, padding, pool in spec:
        layers += [nn.Conv2d(in_channels, out_channels, kernel, stride, padding), nn.ReLU(inplace=True)]
        if pool:
            layers.append(nn.MaxPool2d(*pool))
        in_channels = out_channels
    return nn.Sequential(*layers)


def alexnet(*, variant: str = "cifar", num_classes: int = 10) -> nn.Module:
    if variant not in ALEXNET_FEATURES:
        raise ValueError(f"alexnet has no {variant!r} variant; known: {', '.join(ALEXNET_FEATURES)}")
    model = torchvision_alexnet(weights=None, num_classes=num_classes)
    if variant == "cifar":
        side, hidden = ALEXNET_POOLED_SIDE[variant], ALEXNET_HIDDEN[variant]
        model.features = _features(ALEXNET_FEATURES[variant])
        model.avgpool = nn.AdaptiveAvgPool2d((side, side))
        model.classifier = nn.Sequential(
            nn.Dropout(0.5), nn.Linear(256 * side * side, hidden), nn.ReLU(inplace=True),
            nn.Dropout(0.5), nn.Linear(hidden, hidden), nn.ReLU(inplace=True),
            nn.Linear(hidden, num_classes))
        init_like_vgg(model)
    return model


def init_like_vgg(model: nn.Module) -> None:
    """He initialisation, as torchvision's VGG initialises its convolutions: kaiming-normal for
    ReLU (fan-out for convolutions, fan-in for linear layers), zero biases. PyTorch's default
    (kaiming-uniform, a=√5) gives each ReLU layer a sixth of its input's variance, so through
    AlexNet's eight BatchNorm-free layers the logits and gradients vanished and training never
    left ln 10; VGG's N(0, 0.01) linear layers still stalled in short runs (docs/results.md, "The
    short-run settings"). The imagenet variant stays torchvision's own."""
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(module, nn.Linear):
            nn.init.kaiming_normal_(module.weight, mode="fan_in", nonlinearity="relu")
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            nn.init.zeros_(module.bias)
