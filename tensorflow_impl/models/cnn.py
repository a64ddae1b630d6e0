"""The custom CNN for 32×32 CIFAR-10, layer for layer the networks of pytorch_impl/models/cnn.py
(see its docstring for the two designs), with the same layer names so the generic port maps
weights by name: whiten, features.<i>.conv1, features.<i>.bn1, features.<i>.conv2,
features.<i>.bn2, head."""

from __future__ import annotations

import keras

from shared.architectures import AIRBENCH, WHITEN_KERNEL, WHITEN_WIDTH

from .layers import BatchNorm, Scale, conv3x3, exact_gelu

WIDTHS = (64, 128, 256)


def conv_block(x, out_channels: int, *, name: str, activation: str = "relu", **batchnorm):
    x = conv3x3(out_channels, name=f"{name}.conv1")(x)
    x = keras.layers.MaxPooling2D(2, name=f"{name}.pool")(x)
    x = BatchNorm(name=f"{name}.bn1", **batchnorm)(x)
    x = _activation(activation, f"{name}.activation1")(x)
    x = conv3x3(out_channels, name=f"{name}.conv2")(x)
    x = BatchNorm(name=f"{name}.bn2", **batchnorm)(x)
    return _activation(activation, f"{name}.activation2")(x)


def _activation(kind: str, name: str) -> keras.layers.Layer:
    # Exact (erf), as PyTorch's nn.GELU; keras.ops.gelu would default to the tanh approximation.
    return keras.layers.Activation(exact_gelu, name=name) if kind == "gelu" else keras.layers.ReLU(name=name)


def whitening_stem() -> keras.layers.Conv2D:
    """The whitening convolution; its kernel is frozen once the model is built (its values come
    from the port)."""
    return keras.layers.Conv2D(WHITEN_WIDTH, WHITEN_KERNEL, padding="valid", name="whiten")


def cnn(*, variant: str = "cifar", num_classes: int = 10, widths: tuple[int, ...] = WIDTHS) -> keras.Model:
    if variant == "airbench":
        return airbench_cnn(num_classes=num_classes)
    if variant != "cifar":
        raise ValueError(f"cnn has no {variant!r} variant; known: cifar, airbench")
    inputs = keras.Input((32, 32, 3), name="images")
    whiten = whitening_stem()
    x = _activation("relu", "activation")(whiten(inputs))
    for i, width in enumerate(widths):
        x = conv_block(x, width, name=f"features.{i}")
    x = keras.layers.GlobalMaxPooling2D(name="pool")(x)
    outputs = keras.layers.Dense(num_classes, name="head")(x)
    model = keras.Model(inputs, outputs, name="cnn")
    whiten.kernel.trainable = False
    return model


def airbench_cnn(*, num_classes: int = 10) -> keras.Model:
    """airbench94's network: the whitening layer's kernel and BatchNorm's scale are frozen
    (their values come from the port, or stay at 1 for the scale)."""
    inputs = keras.Input((32, 32, 3), name="images")
    whiten = whitening_stem()
    x = _activation("gelu", "activation")(whiten(inputs))
    channels = AIRBENCH["widths"]
    for i, width in enumerate(channels):
        x = conv_block(x, width, name=f"features.{i}", activation="gelu", epsilon=AIRBENCH["batchnorm_eps"],
                       torch_momentum=AIRBENCH["batchnorm_momentum"])
    x = keras.layers.GlobalMaxPooling2D(name="pool")(x)
    x = keras.layers.Dense(num_classes, use_bias=False, name="head")(x)
    outputs = Scale(AIRBENCH["logit_scale"], name="logit_scale")(x)
    model = keras.Model(inputs, outputs, name="cnn_airbench")
    whiten.kernel.trainable = False
    for layer in model.layers:
        if isinstance(layer, BatchNorm):
            layer.gamma.trainable = False
    return model
