"""Test-time augmentation in Keras: shared/tta.py's views of an NHWC batch, the model's logits
averaged over them, and an evaluation pass with them (pytorch_impl/tta.py is the PyTorch twin)."""

from __future__ import annotations

import keras
import tensorflow as tf

from shared.tta import SHIFT, VIEWS, View


def view(x: tf.Tensor, v: View) -> tf.Tensor:
    """shared.tta.view of an (N, H, W, C) batch."""
    h, w = x.shape[1], x.shape[2]
    if v.shifted:
        x = tf.pad(x, [[0, 0], [SHIFT, SHIFT], [SHIFT, SHIFT], [0, 0]], mode="REFLECT")[:, v.dy:v.dy + h, v.dx:v.dx + w]
    return tf.reverse(x, axis=[2]) if v.mirror else x


def tta_logits(model: keras.Model, x: tf.Tensor, mode: str) -> tf.Tensor:
    """The weighted mean of the model's float32 logits (inference mode) over the mode's views."""
    return tf.add_n([v.weight * tf.cast(model(view(x, v), training=False), tf.float32) for v in VIEWS[mode]])


def make_tta_evaluator(model: keras.Model, mode: str, loss: keras.losses.Loss):
    """evaluate(data) → (loss, accuracy) of the averaged logits over a dataset of (images, one-hot
    labels), weighted by image, as the plain validation pass weighs them. Made once per run, so
    its tf.function traces once, not every epoch."""
    @tf.function(reduce_retracing=True)
    def batch_sums(x, y):
        logits = tta_logits(model, x, mode)
        n = tf.cast(tf.shape(y)[0], tf.float32)
        correct = tf.reduce_sum(tf.cast(tf.argmax(logits, 1) == tf.argmax(y, 1), tf.float32))
        return loss(y, logits) * n, correct, n

    def evaluate(data: tf.data.Dataset) -> tuple[float, float]:
        total_loss = total_correct = count = 0.0
        for x, y in data:
            batch_loss, correct, n = batch_sums(x, y)
            total_loss, total_correct, count = total_loss + float(batch_loss), total_correct + float(correct), count + float(n)
        return total_loss / count, total_correct / count

    return evaluate
