"""Model registry: build any catalogue model by name (same names as pytorch_impl.models)."""

from __future__ import annotations

import math

import keras

from shared.architectures import CIFAR_BATCHNORM_MOMENTUM, CIFAR_LOGIT_SCALE, HEAD, INPUT_SIZE, input_size

from .alexnet import alexnet
from .cnn import cnn
from .layers import BatchNorm, Scale
from .mobilenet import mobilenet
from .resnet import resnet18
from .vit import vit

_BUILDERS = {"cnn": cnn, "alexnet": alexnet, "mobilenet": mobilenet, "resnet18": resnet18, "vit": vit}

# Variables that are running statistics, not parameters (PyTorch keeps them as buffers).
_STATISTICS = ("moving_mean", "moving_variance")


def build_model(name: str, *, variant: str = "cifar", num_classes: int = 10,
                image_size: int | None = None) -> keras.Model:
    """image_size: the input side, for the models of shared.architectures.RESIZABLE (the
    Keras model's Input has it; PyTorch's adapt to any side)."""
    if name not in _BUILDERS:
        raise KeyError(f"unknown model {name!r}; known: {', '.join(sorted(_BUILDERS))}")
    resized = input_size(name, variant, image_size) != INPUT_SIZE[variant]
    model = _BUILDERS[name](variant=variant, num_classes=num_classes, **({"image_size": image_size} if resized else {}))
    if variant != "cifar" or name not in CIFAR_LOGIT_SCALE:
        return model
    # shared.architectures.CIFAR_LOGIT_SCALE: the same two settings as pytorch_impl's registry.
    for layer in model.layers:
        if isinstance(layer, BatchNorm):
            layer.momentum = 1.0 - CIFAR_BATCHNORM_MOMENTUM
    logits = Scale(CIFAR_LOGIT_SCALE[name], name="logit_scale")(model.outputs[0])
    return keras.Model(model.input, logits, name=model.name)


def count_params(model: keras.Model) -> tuple[int, int]:
    """(total, trainable) parameters, counted as PyTorch counts them: BatchNorm's moving
    statistics are excluded (Keras' count_params() includes them as non-trainable weights)."""
    params = [w for w in model.weights if not w.path.endswith(_STATISTICS)]
    trainable = {id(w) for w in model.trainable_weights}
    return (sum(math.prod(w.shape) for w in params),
            sum(math.prod(w.shape) for w in params if id(w) in trainable))


def freeze_backbone(model: keras.Model, name: str) -> None:
    """Linear probing: only the head trains. Keras runs a non-trainable BatchNormalization in
    inference mode; dropout, which Keras applies whenever training=True, is switched off, so
    the backbone computes exactly what PyTorch's model in eval mode computes."""
    for layer in model.layers:
        layer.trainable = layer.name == HEAD[name]
        if isinstance(layer, keras.layers.Dropout):
            layer.rate = 0.0
