"""Feeding Keras: the shared plan's uint8 batches → normalised float32 NHWC tensors, through
tf.data so the next batch is prepared while the current one trains."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from shared.batch_plan import epoch_plan, eval_batches, steps_per_epoch, train_batch
from shared.config import RunConfig
from shared.run import CIFAR10_MEAN, CIFAR10_STD, Split

_MEAN = tf.constant(CIFAR10_MEAN, tf.float32)
_STD = tf.constant(CIFAR10_STD, tf.float32)


def to_batch(images) -> tf.Tensor:
    """(B, 32, 32, 3) uint8 → (B, 32, 32, 3) float32, normalised."""
    return (tf.cast(images, tf.float32) - _MEAN) / _STD


def training_dataset(split: Split, cfg: RunConfig, first_epoch: int = 1) -> tf.data.Dataset:
    """Every epoch's planned batches, epoch after epoch, as (images, one-hot labels).

    One continuous stream: Keras' fit with steps_per_epoch keeps reading the same iterator, so
    epoch e gets exactly the batches of shared.batch_plan.epoch_plan(seed, e)."""
    def batches():
        for epoch in range(first_epoch, cfg.epochs + 1):
            plan = epoch_plan(cfg.seed, epoch, len(split.x_train), crop=cfg.crop, flip=cfg.flip)
            for where in plan.batch_slices(cfg.batch_size):
                yield train_batch(split.x_train, split.y_train, plan, where)

    spec = (tf.TensorSpec((cfg.batch_size, 32, 32, 3), tf.uint8),
            tf.TensorSpec((cfg.batch_size,), tf.int64))
    n_batches = (cfg.epochs - first_epoch + 1) * steps_per_epoch(len(split.x_train), cfg.batch_size)
    return _finish(tf.data.Dataset.from_generator(batches, output_signature=spec), n_batches, cfg.num_classes)


def eval_dataset(x: np.ndarray, y: np.ndarray, batch_size: int, num_classes: int) -> tf.data.Dataset:
    def batches():
        for where in eval_batches(len(x), batch_size):
            yield x[where], np.asarray(y[where], dtype=np.int64)

    spec = (tf.TensorSpec((None, 32, 32, 3), tf.uint8), tf.TensorSpec((None,), tf.int64))
    return _finish(tf.data.Dataset.from_generator(batches, output_signature=spec),
                   len(eval_batches(len(x), batch_size)), num_classes)


def _finish(batches: tf.data.Dataset, n_batches: int, num_classes: int) -> tf.data.Dataset:
    """Normalise, one-hot, prefetch. The stated length lets Keras tell the stream's planned end
    from an input that ran dry (it warns about the latter)."""
    return (batches.apply(tf.data.experimental.assert_cardinality(n_batches))
            .map(lambda x, y: (to_batch(x), tf.one_hot(y, num_classes)))
            .prefetch(2))
