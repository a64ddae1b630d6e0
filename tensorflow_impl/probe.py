"""Linear probe on cached features (shared/features.py), mirroring pytorch_impl/probe.py: the
frozen backbone runs once over the training and validation images (inference mode), then the
head alone is fitted on its outputs, in the plan's order, with the same optimizer, schedule and
loss as the full path."""

from __future__ import annotations

import time

import keras
import numpy as np
import tensorflow as tf

from shared.architectures import HEAD
from shared.batch_plan import steps_per_epoch
from shared.config import RunConfig
from shared.features import cached_or_extracted, probe_plan
from shared.run import Split, normalization

from .data import one_copy_tensor, to_batch, without_graph_rewrites


def split_head(model: keras.Model, name: str) -> tuple[keras.Model, keras.Model]:
    """(the feature extractor: the model up to the head's input, the head as its own model,
    sharing the head layer and so its weights)."""
    head = model.get_layer(HEAD[name])
    backbone = keras.Model(model.inputs, head.input, name=f"{model.name}_backbone")
    features = keras.Input(tuple(head.input.shape[1:]), name="features")
    return backbone, keras.Model(features, head(features), name=f"{model.name}_head")


def extract(backbone: keras.Model, x: np.ndarray, cfg: RunConfig) -> tuple[np.ndarray, float]:
    """(features of every image in inference mode, images/s)."""
    images = (tf.data.Dataset.from_tensor_slices(one_copy_tensor(x)).batch(cfg.eval_batch_size)
              .map(lambda batch: to_batch(batch, cfg.image_size, *normalization(cfg))).prefetch(2)
              .apply(without_graph_rewrites))
    start = time.perf_counter()
    features = backbone.predict(images, verbose=0)
    return np.asarray(features, dtype=np.float32), len(x) / (time.perf_counter() - start)


def cached_features(backbone, x, cfg: RunConfig, *, init: str, part: str) -> tuple[np.ndarray, float | None]:
    return cached_or_extracted(cfg, lambda: extract(backbone, x, cfg), n=len(x), backend="tensorflow",
                               framework_version=tf.__version__, init=init, part=part)


def probe_datasets(model: keras.Model, cfg: RunConfig, split: Split, init: str):
    """(the head model to fit, training stream of planned feature batches, validation features,
    feature-extraction images/s or None when cached)."""
    backbone, head = split_head(model, cfg.model)
    train_x, train_rate = cached_features(backbone, split.x_train, cfg, init=init, part="train")
    val_x, val_rate = cached_features(backbone, split.x_val, cfg, init=init, part="val")
    rates = [r for r in (train_rate, val_rate) if r is not None]

    n, steps = len(train_x), steps_per_epoch(len(train_x), cfg.batch_size)
    order = np.concatenate([probe_plan(cfg, e, n).order[:steps * cfg.batch_size] for e in range(1, cfg.epochs + 1)])
    features, labels = one_copy_tensor(train_x), tf.constant(np.asarray(split.y_train, dtype=np.int64))
    train_data = (tf.data.Dataset.from_tensor_slices(order).batch(cfg.batch_size)
                  .map(lambda i: (tf.gather(features, i), tf.one_hot(tf.gather(labels, i), cfg.num_classes)))
                  .prefetch(2).apply(without_graph_rewrites))
    val_data = (tf.data.Dataset.from_tensor_slices((one_copy_tensor(val_x), np.asarray(split.y_val, dtype=np.int64)))
                .batch(cfg.eval_batch_size).map(lambda f, y: (f, tf.one_hot(y, cfg.num_classes)))
                .apply(without_graph_rewrites))
    return head, train_data, val_data, (sum(rates) / len(rates) if rates else None)
