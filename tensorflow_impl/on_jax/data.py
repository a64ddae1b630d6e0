"""Feeding Keras on JAX: the shared plan's batches, made in numpy one at a time exactly as PyTorch's
CPU path makes them (shared.batch_plan.train_batch), then normalised float32 NHWC with one-hot
labels (tensorflow_impl/data.py is TensorFlow's tf.data path; the batches are equal, tested).

The batch sources are keras.utils.PyDataset: fit and evaluate read them by index, and can read
them again (a generator could be read once)."""

from __future__ import annotations

from typing import Iterator

import jax
import keras
import numpy as np

from shared.batch_plan import EpochPlan, eval_slices, steps_per_epoch, train_batch
from shared.config import RunConfig
from shared.run import CIFAR10_MEAN, CIFAR10_STD, Split, normalization


def to_batch(images: np.ndarray, size: int = 32, mean=CIFAR10_MEAN, std=CIFAR10_STD) -> np.ndarray:
    """(B, 32, 32, 3) uint8 → (B, size, size, 3) float32, normalised with the per-channel (mean,
    std) in pixel units (tensorflow_impl.data.to_batch, pytorch_impl.data.to_batch)."""
    x = np.asarray(images, dtype=np.float32)
    if x.shape[1] != size:
        # Half-pixel centres; upsampling, so no antialiasing either way: tf.image.resize("bilinear") exactly.
        x = np.asarray(jax.image.resize(x, (len(x), size, size, x.shape[3]), method="bilinear", antialias=False))
    return (x - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)


def one_hot(labels: np.ndarray, num_classes: int) -> np.ndarray:
    return np.eye(num_classes, dtype=np.float32)[np.asarray(labels, dtype=np.int64)]


class PlannedBatches(keras.utils.PyDataset):
    """Every epoch's planned batches from `first_epoch` on, epoch after epoch, as (images, one-hot
    labels): one index per training step. fit with steps_per_epoch reads them as one continuous
    stream, so epoch e gets exactly the batches of cfg.plan(e, n) (the partial last batch of
    each epoch is dropped, as in PyTorch)."""

    def __init__(self, split: Split, cfg: RunConfig, first_epoch: int = 1):
        super().__init__()
        self.split, self.cfg, self.first_epoch = split, cfg, first_epoch
        self.steps = steps_per_epoch(len(split.x_train), cfg.batch_size)
        self._plan: tuple[int, EpochPlan, list[slice]] | None = None  # the last epoch's plan and batches, drawn once

    def __len__(self) -> int:
        return self.steps * (self.cfg.epochs - self.first_epoch + 1)

    def plan(self, epoch: int) -> tuple[EpochPlan, list[slice]]:
        if self._plan is None or self._plan[0] != epoch:
            plan = self.cfg.plan(epoch, len(self.split.x_train))
            self._plan = (epoch, plan, plan.batch_slices(self.cfg.batch_size))
        return self._plan[1:]

    def __getitem__(self, index: int):
        epoch, step = self.first_epoch + index // self.steps, index % self.steps
        plan, slices = self.plan(epoch)
        images, labels = train_batch(self.split.x_train, self.split.y_train, plan, slices[step])
        return to_batch(images, self.cfg.image_size, *normalization(self.cfg)), one_hot(labels, self.cfg.num_classes)


class EvalBatches(keras.utils.PyDataset):
    """A set in order, in batches of the evaluation size (the last one may be smaller), unaugmented."""

    def __init__(self, x: np.ndarray, y: np.ndarray, cfg: RunConfig):
        super().__init__()
        self.x, self.y, self.cfg = x, y, cfg
        self.slices = eval_slices(len(x), cfg.eval_batch_size)

    def __len__(self) -> int:
        return len(self.slices)

    def __getitem__(self, index: int):
        where = self.slices[index]
        return (to_batch(self.x[where], self.cfg.image_size, *normalization(self.cfg)),
                one_hot(self.y[where], self.cfg.num_classes))


class FeatureBatches(keras.utils.PyDataset):
    """The rows `order` of cached features (the linear probe's, probe.py) with one-hot labels, in
    batches of `batch_size` (the last one may be smaller)."""

    def __init__(self, features: np.ndarray, labels: np.ndarray, order: np.ndarray, batch_size: int,
                 num_classes: int):
        super().__init__()
        self.features, self.labels, self.num_classes = features, np.asarray(labels, dtype=np.int64), num_classes
        self.rows = [order[where] for where in eval_slices(len(order), batch_size)]

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int):
        rows = self.rows[index]
        return self.features[rows], one_hot(self.labels[rows], self.num_classes)


def training_batches(split: Split, cfg: RunConfig, first_epoch: int = 1) -> PlannedBatches:
    return PlannedBatches(split, cfg, first_epoch)


def eval_batches(x: np.ndarray, y: np.ndarray, cfg: RunConfig) -> EvalBatches:
    return EvalBatches(x, y, cfg)


def feature_batches(features: np.ndarray, labels: np.ndarray, order: np.ndarray, batch_size: int,
                    num_classes: int) -> FeatureBatches:
    return FeatureBatches(features, labels, order, batch_size, num_classes)


# Generators, not other iterators: those are what Keras' fit takes as an iterable of batches.

def repeated(batch) -> Iterator:
    """One batch, made once, again and again (the bench's compute steps: no input work per step)."""
    while True:
        yield batch


def interleaved(sources: list, order: list[int]) -> Iterator:
    """One stream of batches taken from the sources in the given order of their indices."""
    iterators = [iter(source) for source in sources]
    for i in order:
        yield next(iterators[i])
