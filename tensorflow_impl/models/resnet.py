"""ResNet-18 in Keras, layer for layer torchvision's (see pytorch_impl/models/resnet.py), with
torchvision's layer names (conv1, bn1, layer1.0.conv1, layer2.0.downsample.0, fc, ...) so the
generic port maps a torchvision state_dict by name."""

from __future__ import annotations

import keras

from shared.architectures import INPUT_SIZE, input_size

from .layers import BatchNorm, torch_conv2d

STAGES = ((64, 1), (128, 2), (256, 2), (512, 2))   # (width, stride of the first block)


def basic_block(x, planes: int, stride: int, *, name: str):
    identity = x
    out = torch_conv2d(x, planes, 3, stride=stride, padding=1, name=f"{name}.conv1")
    out = keras.layers.ReLU(name=f"{name}.relu1")(BatchNorm(name=f"{name}.bn1")(out))
    out = torch_conv2d(out, planes, 3, stride=1, padding=1, name=f"{name}.conv2")
    out = BatchNorm(name=f"{name}.bn2")(out)
    if stride != 1 or x.shape[-1] != planes:
        identity = torch_conv2d(x, planes, 1, stride=stride, padding=0, name=f"{name}.downsample.0")
        identity = BatchNorm(name=f"{name}.downsample.1")(identity)
    out = keras.layers.Add(name=f"{name}.add")([out, identity])
    return keras.layers.ReLU(name=f"{name}.relu2")(out)


def resnet18(*, variant: str = "cifar", num_classes: int = 10, image_size: int | None = None) -> keras.Model:
    if variant not in INPUT_SIZE:
        raise ValueError(f"resnet18 has no {variant!r} variant; known: cifar, imagenet")
    size = input_size("resnet18", variant, image_size)
    inputs = keras.Input((size, size, 3), name="images")
    if variant == "cifar":
        x = torch_conv2d(inputs, 64, 3, stride=1, padding=1, name="conv1")
    else:
        x = torch_conv2d(inputs, 64, 7, stride=2, padding=3, name="conv1")
    x = keras.layers.ReLU(name="relu")(BatchNorm(name="bn1")(x))
    if variant == "imagenet":
        # torchvision pads the max-pool with -inf; after a ReLU every value is >= 0, so zero
        # padding gives the same maxima.
        x = keras.layers.ZeroPadding2D(1, name="maxpool.pad")(x)
        x = keras.layers.MaxPooling2D(3, strides=2, name="maxpool")(x)
    for stage, (planes, stride) in enumerate(STAGES, start=1):
        x = basic_block(x, planes, stride, name=f"layer{stage}.0")
        x = basic_block(x, planes, 1, name=f"layer{stage}.1")
    x = keras.layers.GlobalAveragePooling2D(name="avgpool")(x)
    outputs = keras.layers.Dense(num_classes, name="fc")(x)
    return keras.Model(inputs, outputs, name=f"resnet18_{variant}")
