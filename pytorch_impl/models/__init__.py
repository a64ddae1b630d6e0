"""Model registry: build any catalogue model by name (same names as tensorflow_impl.models)."""

from __future__ import annotations

from torch import nn

from shared.architectures import CIFAR_BATCHNORM_MOMENTUM, CIFAR_LOGIT_SCALE, HEAD, input_size

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
    model = _BUILDERS[name](variant=variant, num_classes=num_classes)
    if variant != "cifar" or name not in CIFAR_LOGIT_SCALE:
        return model
    # shared.architectures.CIFAR_LOGIT_SCALE. The scale is a hook on the model's output, so the
    # module names, the state_dict and every module's own output stay torchvision's (the port and
    # the per-layer parity table rely on them); Keras adds a weightless last layer instead.
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.momentum = CIFAR_BATCHNORM_MOMENTUM
    scale = CIFAR_LOGIT_SCALE[name]
    model.register_forward_hook(lambda _model, _inputs, logits: logits * scale)
    return model


def count_params(model: nn.Module) -> tuple[int, int]:
    """(total, trainable) parameters; BatchNorm running statistics are buffers, not parameters."""
    params = list(model.parameters())
    return sum(p.numel() for p in params), sum(p.numel() for p in params if p.requires_grad)


def freeze_backbone(model: nn.Module, name: str) -> None:
    """Linear probing: only the head's parameters keep requiring gradients."""
    prefix = HEAD[name] + "."
    for key, param in model.named_parameters():
        param.requires_grad = key.startswith(prefix)
