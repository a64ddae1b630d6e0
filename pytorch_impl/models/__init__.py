"""Model registry: build any catalogue model by name (same names as tensorflow_impl.models)."""

from __future__ import annotations

from torch import nn

from shared.architectures import HEAD

from .alexnet import alexnet
from .cnn import cnn
from .mobilenet import mobilenet
from .resnet import resnet18
from .vit import vit

_BUILDERS = {"cnn": cnn, "alexnet": alexnet, "mobilenet": mobilenet, "resnet18": resnet18, "vit": vit}


def build_model(name: str, *, variant: str = "cifar", num_classes: int = 10) -> nn.Module:
    if name not in _BUILDERS:
        raise KeyError(f"unknown model {name!r}; known: {', '.join(sorted(_BUILDERS))}")
    return _BUILDERS[name](variant=variant, num_classes=num_classes)


def count_params(model: nn.Module) -> tuple[int, int]:
    """(total, trainable) parameters; BatchNorm running statistics are buffers, not parameters."""
    params = list(model.parameters())
    return sum(p.numel() for p in params), sum(p.numel() for p in params if p.requires_grad)


def freeze_backbone(model: nn.Module, name: str) -> None:
    """Linear probing: only the head's parameters keep requiring gradients."""
    prefix = HEAD[name] + "."
    for key, param in model.named_parameters():
        param.requires_grad = key.startswith(prefix)
