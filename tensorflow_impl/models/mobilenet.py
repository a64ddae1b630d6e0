"""MobileNetV2 in Keras, layer for layer torchvision's (see pytorch_impl/models/mobilenet.py),
built from the same stage table (shared/architectures.py) with torchvision's layer names:
features.0.0 (stem conv), features.<i>.conv.<j>[.0|.1] (inverted residuals), features.18.0,
classifier.1."""

from __future__ import annotations

import keras

from shared.architectures import (input_size, MOBILENET_V2_LAST, MOBILENET_V2_STAGES,
                                  MOBILENET_V2_STEM, MOBILENET_V2_STEM_STRIDE)

from .layers import BatchNorm, torch_conv2d, torch_depthwise_conv2d


def conv_bn_relu6(x, filters: int, kernel: int, stride: int, *, name: str, depthwise: bool = False):
    """torchvision's Conv2dNormActivation(activation=ReLU6): <name>.0 conv, <name>.1 BatchNorm."""
    if depthwise:
        x = torch_depthwise_conv2d(x, kernel, stride=stride, padding=kernel // 2, name=f"{name}.0")
    else:
        x = torch_conv2d(x, filters, kernel, stride=stride, padding=kernel // 2, name=f"{name}.0")
    x = BatchNorm(name=f"{name}.1")(x)
    return keras.layers.ReLU(max_value=6.0, name=f"{name}.2")(x)


def inverted_residual(x, out_channels: int, stride: int, expansion: int, *, name: str):
    in_channels = x.shape[-1]
    hidden, j, out = round(in_channels * expansion), 0, x
    if expansion != 1:
        out = conv_bn_relu6(out, hidden, 1, 1, name=f"{name}.conv.0")
        j = 1
    out = conv_bn_relu6(out, hidden, 3, stride, name=f"{name}.conv.{j}", depthwise=True)
    out = torch_conv2d(out, out_channels, 1, stride=1, padding=0, name=f"{name}.conv.{j + 1}")
    out = BatchNorm(name=f"{name}.conv.{j + 2}")(out)
    if stride == 1 and in_channels == out_channels:
        out = keras.layers.Add(name=f"{name}.add")([x, out])
    return out


def mobilenet(*, variant: str = "cifar", num_classes: int = 10, image_size: int | None = None) -> keras.Model:
    if variant not in MOBILENET_V2_STAGES:
        raise ValueError(f"mobilenet has no {variant!r} variant; known: {', '.join(MOBILENET_V2_STAGES)}")
    size = input_size("mobilenet", variant, image_size)
    inputs = keras.Input((size, size, 3), name="images")
    x = conv_bn_relu6(inputs, MOBILENET_V2_STEM, 3, MOBILENET_V2_STEM_STRIDE[variant], name="features.0")
    index = 1
    for expansion, channels, repeats, stride in MOBILENET_V2_STAGES[variant]:
        for i in range(repeats):
            x = inverted_residual(x, channels, stride if i == 0 else 1, expansion, name=f"features.{index}")
            index += 1
    x = conv_bn_relu6(x, MOBILENET_V2_LAST, 1, 1, name=f"features.{index}")
    x = keras.layers.GlobalAveragePooling2D(name="avgpool")(x)
    x = keras.layers.Dropout(0.2, name="classifier.0")(x)
    outputs = keras.layers.Dense(num_classes, name="classifier.1")(x)
    return keras.Model(inputs, outputs, name=f"mobilenet_v2_{variant}")
