"""Linear probe on cached features (shared/features.py), mirroring pytorch_impl/probe.py: the
frozen backbone runs once over the training and validation images (inference mode), then the
head alone is fitted on its outputs, in the plan's order, with the same optimizer, schedule and
loss as the full path. Keras code, so it runs on TensorFlow and on JAX; the batches come from
the backend's data module (engine.py)."""

from __future__ import annotations

import time

import keras
import numpy as np

from shared.architectures import HEAD
from shared.batch_plan import steps_per_epoch
from shared.config import RunConfig
from shared.features import cached_or_extracted, probe_plan
from shared.run import Split

from .engine import BACKEND, FRAMEWORK_VERSION, data


def split_head(model: keras.Model, name: str) -> tuple[keras.Model, keras.Model]:
    """(the feature extractor: the model up to the head's input, the head as its own model,
    sharing the head layer and so its weights)."""
    head = model.get_layer(HEAD[name])
    backbone = keras.Model(model.inputs, head.input, name=f"{model.name}_backbone")
    features = keras.Input(tuple(head.input.shape[1:]), name="features")
    return backbone, keras.Model(features, head(features), name=f"{model.name}_head")


def extract(backbone: keras.Model, x: np.ndarray, y: np.ndarray, cfg: RunConfig) -> tuple[np.ndarray, float]:
    """(features of every image in inference mode, images/s): the evaluation batches, whose labels
    predict ignores."""
    images = data.eval_batches(x, y, cfg)
    start = time.perf_counter()
    features = backbone.predict(images, verbose=0)
    return np.asarray(features, dtype=np.float32), len(x) / (time.perf_counter() - start)


def cached_features(backbone, x, y, cfg: RunConfig, *, init: str, part: str) -> tuple[np.ndarray, float | None]:
    return cached_or_extracted(cfg, lambda: extract(backbone, x, y, cfg), n=len(x), backend=BACKEND,
                               framework_version=FRAMEWORK_VERSION, init=init, part=part)


def probe_datasets(model: keras.Model, cfg: RunConfig, split: Split, init: str):
    """(the head model to fit, training stream of planned feature batches, validation features,
    feature-extraction images/s or None when cached)."""
    backbone, head = split_head(model, cfg.model)
    train_x, train_rate = cached_features(backbone, split.x_train, split.y_train, cfg, init=init, part="train")
    val_x, val_rate = cached_features(backbone, split.x_val, split.y_val, cfg, init=init, part="val")
    rates = [r for r in (train_rate, val_rate) if r is not None]

    n, steps = len(train_x), steps_per_epoch(len(train_x), cfg.batch_size)
    order = np.concatenate([probe_plan(cfg, e, n).order[:steps * cfg.batch_size] for e in range(1, cfg.epochs + 1)])
    train_data = data.feature_batches(train_x, split.y_train, order, cfg.batch_size, cfg.num_classes)
    val_data = data.feature_batches(val_x, split.y_val, np.arange(len(val_x)), cfg.eval_batch_size, cfg.num_classes)
    return head, train_data, val_data, (sum(rates) / len(rates) if rates else None)
