"""The custom CNN for 32×32 CIFAR-10, layer for layer the network of pytorch_impl/models/cnn.py
(see its docstring for the design), with the same layer names so the generic port maps weights
by name: features.<i>.conv1, features.<i>.bn1, features.<i>.conv2, features.<i>.bn2, head."""

from __future__ import annotations

import keras

from .layers import BatchNorm, conv3x3

WIDTHS = (64, 128, 256)


def conv_block(x, out_channels: int, *, name: str):
    x = conv3x3(out_channels, name=f"{name}.conv1")(x)
    x = keras.layers.MaxPooling2D(2, name=f"{name}.pool")(x)
    x = BatchNorm(name=f"{name}.bn1")(x)
    x = keras.layers.ReLU(name=f"{name}.relu1")(x)
    x = conv3x3(out_channels, name=f"{name}.conv2")(x)
    x = BatchNorm(name=f"{name}.bn2")(x)
    return keras.layers.ReLU(name=f"{name}.relu2")(x)


def cnn(*, variant: str = "cifar", num_classes: int = 10, widths: tuple[int, ...] = WIDTHS) -> keras.Model:
    if variant != "cifar":
        raise ValueError(f"cnn has no {variant!r} variant; known: cifar")
    inputs = keras.Input((32, 32, 3), name="images")
    x = inputs
    for i, width in enumerate(widths):
        x = conv_block(x, width, name=f"features.{i}")
    x = keras.layers.GlobalMaxPooling2D(name="pool")(x)
    outputs = keras.layers.Dense(num_classes, name="head")(x)
    return keras.Model(inputs, outputs, name="cnn")
