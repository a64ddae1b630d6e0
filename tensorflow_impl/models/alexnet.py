"""AlexNet in Keras, layer for layer torchvision's (see pytorch_impl/models/alexnet.py), from the
same table (shared/architectures.py), with torchvision's module indices as layer names
(features.0/3/6/8/10, classifier.1/4/6). The Flatten before classifier.1 reads an (H, W, C) map
where PyTorch reads (C, H, W): the generic port reorders that Dense layer's input rows."""

from __future__ import annotations

import keras

from shared.architectures import ALEXNET_FEATURES, ALEXNET_HIDDEN, ALEXNET_POOLED_SIDE, INPUT_SIZE

from .layers import torch_conv2d


def he_normal(mode: str) -> keras.initializers.Initializer:
    """kaiming_normal_(nonlinearity="relu") of pytorch_impl/models/alexnet.py: an untruncated normal of
    variance 2 / fan. Used where Keras initialises alone (PyTorch not installed); otherwise both
    backends start from PyTorch's weights."""
    return keras.initializers.VarianceScaling(2.0, mode=mode, distribution="untruncated_normal")


def alexnet(*, variant: str = "cifar", num_classes: int = 10) -> keras.Model:
    if variant not in ALEXNET_FEATURES:
        raise ValueError(f"alexnet has no {variant!r} variant; known: {', '.join(ALEXNET_FEATURES)}")
    size = INPUT_SIZE[variant]
    # The cifar variant is He-initialised (init_like_vgg in pytorch_impl); imagenet keeps the defaults.
    conv_init = dict(kernel_initializer=he_normal("fan_out"), bias_initializer="zeros") if variant == "cifar" else {}
    dense_init = dict(kernel_initializer=he_normal("fan_in"), bias_initializer="zeros") if variant == "cifar" else {}
    inputs = keras.Input((size, size, 3), name="images")
    x, index = inputs, 0
    for out_channels, kernel, stride, padding, pool in ALEXNET_FEATURES[variant]:
        x = torch_conv2d(x, out_channels, kernel, stride=stride, padding=padding, use_bias=True,
                         name=f"features.{index}", **conv_init)
        x = keras.layers.ReLU(name=f"features.{index + 1}")(x)
        index += 2
        if pool:
            x = keras.layers.MaxPooling2D(pool[0], strides=pool[1], name=f"features.{index}")(x)
            index += 1
    side = ALEXNET_POOLED_SIDE[variant]
    # torchvision's AdaptiveAvgPool2d((side, side)) is the identity at this fixed input size.
    if tuple(x.shape[1:3]) != (side, side):
        raise ValueError(f"alexnet {variant}: feature map {tuple(x.shape[1:3])}, expected {side}×{side}")
    x = keras.layers.Flatten(name="flatten")(x)
    hidden = ALEXNET_HIDDEN[variant]
    x = keras.layers.Dropout(0.5, name="classifier.0")(x)
    x = keras.layers.Dense(hidden, name="classifier.1", **dense_init)(x)
    x = keras.layers.ReLU(name="classifier.2")(x)
    x = keras.layers.Dropout(0.5, name="classifier.3")(x)
    x = keras.layers.Dense(hidden, name="classifier.4", **dense_init)(x)
    x = keras.layers.ReLU(name="classifier.5")(x)
    outputs = keras.layers.Dense(num_classes, name="classifier.6", **dense_init)(x)
    return keras.Model(inputs, outputs, name=f"alexnet_{variant}")
