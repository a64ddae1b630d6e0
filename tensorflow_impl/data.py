"""Feeding Keras: the shared plan's draws (order, crops, flips) → augmented, normalised float32
NHWC batches, built by TensorFlow ops in tf.data so the next batch is ready while one trains."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from shared.batch_plan import PAD, steps_per_epoch
from shared.config import RunConfig
from shared.run import CIFAR10_MEAN, CIFAR10_STD, Split, normalization


def to_batch(images, size: int = 32, mean=CIFAR10_MEAN, std=CIFAR10_STD) -> tf.Tensor:
    """(B, 32, 32, 3) uint8 → (B, size, size, 3) float32, normalised with the per-channel (mean,
    std) in pixel units (pytorch_impl.data.to_batch)."""
    x = tf.cast(images, tf.float32)
    if x.shape[1] != size:
        # Half-pixel centres, no antialiasing: F.interpolate(mode="bilinear", align_corners=False).
        x = tf.image.resize(x, (size, size), method="bilinear", antialias=False)
    return (x - tf.constant(mean, tf.float32)) / tf.constant(std, tf.float32)


def augment(images: tf.Tensor, dy: tf.Tensor, dx: tf.Tensor, flip: tf.Tensor, pad: int = PAD,
            padding_mode: str = "zeros") -> tf.Tensor:
    """shared.batch_plan.augment in TensorFlow ops: pad (zeros or reflection), crop at (dy, dx), mirror."""
    height, width = images.shape[1], images.shape[2]
    padded = tf.pad(images, [[0, 0], [pad, pad], [pad, pad], [0, 0]],
                    mode="REFLECT" if padding_mode == "reflect" else "CONSTANT")
    rows = dy[:, None] + tf.range(height, dtype=dy.dtype)
    cols = dx[:, None] + tf.range(width, dtype=dx.dtype)
    cols = tf.where(flip[:, None], tf.reverse(cols, axis=[1]), cols)
    cropped = tf.gather(padded, rows, axis=1, batch_dims=1)
    return tf.gather(cropped, cols, axis=2, batch_dims=1)


def one_copy_tensor(x: np.ndarray) -> tf.Tensor:
    """x as one TensorFlow tensor, the only copy besides x itself (for the images, a memory map).

    Decoded from the array's bytes, because tf.constant of a numpy array can leave two copies
    held, whole or in slices, depending on the machine (docs/benchmarks.md, "Memory and
    start-up"). The bytes, the string tensor and the decoded tensor are each one large
    allocation, and the first two are freed as soon as they are used: one copy stays (the
    data-path test checks it), after up to three copies for a moment while it is built."""
    x = np.ascontiguousarray(x)
    return tf.reshape(tf.io.decode_raw(x.tobytes(), tf.as_dtype(x.dtype)), x.shape)


def training_batches(split: Split, cfg: RunConfig, first_epoch: int = 1, replicas: int = 1,
                     pipeline: int = 0, pipelines: int = 1) -> tf.data.Dataset:
    """Every epoch's planned batches, epoch after epoch, as (images, one-hot labels).

    The plans (order, crops, flips) come from shared.batch_plan; gathering, cropping and flipping
    run as TensorFlow ops in the tf.data graph. (A Python generator would be simpler, but once
    tf.data.Dataset.from_generator has run in a process, Keras trains at half speed on this CPU.)
    One continuous stream: Keras' fit with steps_per_epoch keeps reading the same iterator, so
    epoch e gets exactly the batches of cfg.plan(e, n).

    With replicas > 1 (tf.distribute, tensorflow_impl/distributed.py), the batches are per replica:
    global batch k's slices in order (slice r, shared.distributed.shard, is element k·replicas + r),
    those of input pipeline `pipeline`'s replicas only when there are several pipelines (workers)."""
    n, steps = len(split.x_train), steps_per_epoch(len(split.x_train), cfg.batch_size)
    kept = steps * cfg.batch_size  # the partial last batch of each epoch is dropped, as in PyTorch
    plans = [cfg.plan(e, n) for e in range(first_epoch, cfg.epochs + 1)]
    draws = {name: np.concatenate([getattr(p, name)[:kept] for p in plans])
             for name in ("order", "crop_dy", "crop_dx", "flip")}
    images = one_copy_tensor(split.x_train)
    labels = tf.constant(np.asarray(split.y_train, dtype=np.int64))

    def planned_batch(draw):
        x = augment(tf.gather(images, draw["order"]), draw["crop_dy"], draw["crop_dx"], draw["flip"],
                    cfg.crop_padding, cfg.padding_mode)
        return to_batch(x, cfg.image_size, *normalization(cfg)), tf.one_hot(tf.gather(labels, draw["order"]), cfg.num_classes)

    batches = tf.data.Dataset.from_tensor_slices(draws).batch(cfg.batch_size // replicas, drop_remainder=True)
    if pipelines > 1:
        local = replicas // pipelines  # replicas per worker, numbered worker by worker
        batches = batches.enumerate().filter(lambda i, _: (i % replicas) // local == pipeline).map(lambda _, b: b)
    return batches.map(planned_batch).prefetch(2).apply(without_graph_rewrites)


def without_graph_rewrites(dataset: tf.data.Dataset) -> tf.data.Dataset:
    """The dataset without tf.data's default static optimisations. To rewrite a pipeline, tf.data
    serialises it, and the captured images with it, into a GraphDef when an iterator is made: a
    second copy of the set (docs/benchmarks.md, "Memory and start-up"). The pipelines here are
    one map of a few ms per batch behind a prefetch, so the rewrites (map parallelisation,
    fusions) have nothing to gain."""
    options = tf.data.Options()
    options.experimental_optimization.apply_default_optimizations = False
    return dataset.with_options(options)


def repeated(batch) -> tf.data.Dataset:
    """One batch, made once, again and again (the bench's compute steps: no input work per step)."""
    return tf.data.Dataset.from_tensors(batch).repeat()


def interleaved(sources: list, order: list[int]) -> tf.data.Dataset:
    """One stream of batches taken from the sources in the given order of their indices."""
    return tf.data.Dataset.choose_from_datasets(sources, tf.data.Dataset.from_tensor_slices(np.array(order, np.int64)))


def eval_batches(x: np.ndarray, y: np.ndarray, cfg: RunConfig) -> tf.data.Dataset:
    """The validation set in order, in batches (the last one may be smaller)."""
    return (tf.data.Dataset.from_tensor_slices((one_copy_tensor(x), np.asarray(y, dtype=np.int64)))
            .batch(cfg.eval_batch_size)
            .map(lambda images, labels: (to_batch(images, cfg.image_size, *normalization(cfg)),
                                         tf.one_hot(labels, cfg.num_classes)))
            .prefetch(2)
            .apply(without_graph_rewrites))


def feature_batches(features: np.ndarray, labels: np.ndarray, order: np.ndarray, batch_size: int,
                    num_classes: int) -> tf.data.Dataset:
    """The rows `order` of cached features (the linear probe's, probe.py) with one-hot labels, in
    batches of `batch_size` (the last one may be smaller)."""
    features, labels = one_copy_tensor(features), tf.constant(np.asarray(labels, dtype=np.int64))
    return (tf.data.Dataset.from_tensor_slices(np.asarray(order, dtype=np.int64)).batch(batch_size)
            .map(lambda rows: (tf.gather(features, rows), tf.one_hot(tf.gather(labels, rows), num_classes)))
            .prefetch(2)
            .apply(without_graph_rewrites))
