"""Test-time augmentation in Keras, on TensorFlow and JAX alike: shared/tta.py's views of an NHWC
batch in keras.ops, the model's logits averaged over them, and an evaluation pass with them
(pytorch_impl/tta.py is the PyTorch twin)."""

from __future__ import annotations

import keras
from keras import ops

from shared.tta import SHIFT, VIEWS, View


def view(x, v: View):
    """shared.tta.view of an (N, H, W, C) batch."""
    h, w = x.shape[1], x.shape[2]
    if v.shifted:
        x = ops.pad(x, [[0, 0], [SHIFT, SHIFT], [SHIFT, SHIFT], [0, 0]], mode="reflect")[:, v.dy:v.dy + h, v.dx:v.dx + w]
    return ops.flip(x, axis=2) if v.mirror else x


def tta_logits(model: keras.Model, x, mode: str):
    """The weighted mean of the model's float32 logits (inference mode) over the mode's views."""
    return sum(v.weight * ops.cast(model(view(x, v), training=False), "float32") for v in VIEWS[mode])


class _Averaged(keras.Model):
    """The model seen through tta_logits: evaluate() compiles it as it compiles the model, with
    XLA on JAX, as a tf.function on TensorFlow. float32 itself: under a mixed policy the views are
    of the float32 batch, and the wrapped model casts them as it casts any input."""

    def __init__(self, model: keras.Model, mode: str):
        super().__init__(dtype="float32", name=f"{model.name}_tta")
        self.model, self.mode = model, mode

    def call(self, x, training=False):
        return tta_logits(self.model, x, self.mode)


def make_tta_evaluator(model: keras.Model, mode: str, loss: keras.losses.Loss, jit_compile="auto"):
    """evaluate(data) → (loss, accuracy) of the averaged logits over batches of (images, one-hot
    labels), weighted by image, as the plain validation pass weighs them. Made once per run, so
    its function is compiled once, not every epoch."""
    averaged = _Averaged(model, mode)
    averaged.compile(loss=loss, metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")], jit_compile=jit_compile)

    def evaluate(data) -> tuple[float, float]:
        results = averaged.evaluate(data, verbose=0, return_dict=True)
        return float(results["loss"]), float(results["accuracy"])

    return evaluate
