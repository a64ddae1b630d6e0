"""Model registry: build any catalogue model by name (same names as tensorflow_impl.models)."""

from __future__ import annotations

from torch import nn

from shared.architectures import HEAD, input_size

from .alexnet import alexnet
from .cnn import cnn
from .mobilenet import mobilenet
from .resnet import resnet18
from .vit import vit

_BUILDERS = {"cnn": cnn, "alexnet": alexnet, "mobilenet": mobilenet, "resnet18": resnet18, "vit": vit}


def build_model(name: str, *, variant: str = "cifar", num_classes: int = 10,
                image_size: int | None = None) -> nn.Module:
    """image_size: the input side, for the models of shared.architectures.RESIZABLE (checked
    here; the PyTorch models adapt to any side, the Keras ones build their Input with it)."""
    if name not in _BUILDERS:
        raise KeyError(f"unknown model {name!r}; known: {', '.join(sorted(_BUILDERS))}")
    input_size(name, variant, image_size)
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
