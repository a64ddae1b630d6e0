"""Vision Transformer in Keras, layer for layer torchvision's VisionTransformer (see
pytorch_impl/models/vit.py), with torchvision's names: conv_proj, class_token,
encoder.pos_embedding, encoder.layers.encoder_layer_<i>.{ln_1,self_attention,ln_2,mlp.0,mlp.3},
encoder.ln, heads.head."""

from __future__ import annotations

import keras
from keras import ops

from shared.architectures import VIT, VIT_LAYER_NORM_EPS

from .layers import exact_gelu


class ClassToken(keras.layers.Layer):
    """Prepends torchvision's learnable class token (state_dict key "class_token")."""
    torch_names = {"class_token": "class_token"}

    def build(self, input_shape):
        self.class_token = self.add_weight(name="class_token", shape=(1, 1, input_shape[-1]), initializer="zeros")

    def call(self, x):
        token = ops.broadcast_to(ops.cast(self.class_token, x.dtype), (ops.shape(x)[0], 1, x.shape[-1]))
        return ops.concatenate([token, x], axis=1)


class PositionEmbedding(keras.layers.Layer):
    """Adds torchvision's learnable position embedding (state_dict key "encoder.pos_embedding")."""
    torch_names = {"pos_embedding": "encoder.pos_embedding"}

    def build(self, input_shape):
        self.pos_embedding = self.add_weight(name="pos_embedding", shape=(1, *input_shape[1:]),
                                             initializer=keras.initializers.RandomNormal(stddev=0.02))

    def call(self, x):
        return x + ops.cast(self.pos_embedding, x.dtype)


def encoder_block(x, *, heads: int, mlp_dim: int, name: str):
    hidden = x.shape[-1]
    y = keras.layers.LayerNormalization(epsilon=VIT_LAYER_NORM_EPS, name=f"{name}.ln_1")(x)
    y = keras.layers.MultiHeadAttention(heads, hidden // heads, name=f"{name}.self_attention")(y, y)
    x = keras.layers.Add(name=f"{name}.add_1")([x, y])
    y = keras.layers.LayerNormalization(epsilon=VIT_LAYER_NORM_EPS, name=f"{name}.ln_2")(x)
    y = keras.layers.Dense(mlp_dim, name=f"{name}.mlp.0")(y)
    y = keras.layers.Activation(exact_gelu, name=f"{name}.mlp.1")(y)
    y = keras.layers.Dense(hidden, name=f"{name}.mlp.3")(y)
    return keras.layers.Add(name=f"{name}.add_2")([x, y])


def vit(*, variant: str = "cifar", num_classes: int = 10) -> keras.Model:
    if variant not in VIT:
        raise ValueError(f"vit has no {variant!r} variant; known: {', '.join(VIT)}")
    spec = VIT[variant]
    size, patch, hidden = spec["image_size"], spec["patch_size"], spec["hidden_dim"]
    inputs = keras.Input((size, size, 3), name="images")
    # Kernel = stride = patch: no padding, so no PyTorch/Keras padding difference.
    x = keras.layers.Conv2D(hidden, patch, strides=patch, name="conv_proj")(inputs)
    # (n, h, w, hidden) → (n, h·w, hidden): row-major patches, PyTorch's order too.
    x = keras.layers.Reshape(((size // patch) ** 2, hidden), name="patches")(x)
    x = ClassToken(name="class_token")(x)
    x = PositionEmbedding(name="pos_embedding")(x)
    for i in range(spec["num_layers"]):
        x = encoder_block(x, heads=spec["num_heads"], mlp_dim=spec["mlp_dim"],
                          name=f"encoder.layers.encoder_layer_{i}")
    x = keras.layers.LayerNormalization(epsilon=VIT_LAYER_NORM_EPS, name="encoder.ln")(x)
    x = keras.layers.Lambda(lambda t: t[:, 0], name="cls")(x)
    outputs = keras.layers.Dense(num_classes, name="heads.head")(x)
    return keras.Model(inputs, outputs, name=f"vit_{variant}")
