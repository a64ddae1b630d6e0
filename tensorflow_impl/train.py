"""Keras training: `fit` over the shared batch plan, with a callback that sets the learning rate
before every step, times the epoch and writes the shared records.

    python -m tensorflow_impl RUN_DIR       (compare.py does this; RUN_DIR holds config.json)
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import keras
import tensorflow as tf

from shared.batch_plan import steps_per_epoch
from shared.config import RunConfig
from shared.metrics import steady_images_per_sec
from shared.run import INITIAL_WEIGHTS, RecordWriter, initial_weights_source, load_split, print_epoch
from shared.schedule import learning_rate
from shared.weights_io import load_arrays

from .data import eval_dataset, training_dataset
from .models import build_model, count_params, freeze_backbone
from .optim import make_loss, make_optimizer
from .weights import load_torch_state


class EpochRecorder(keras.callbacks.Callback):
    """Per step: the shared schedule's learning rate. Per epoch: timings and one EpochRecord.

    Steady-state img/s runs from the end of batch `warmup_batches` (tracing and the first
    executions are over) to the end of the last training batch; validation is timed apart
    through on_test_begin/on_test_end, which fit calls for validation_data."""

    def __init__(self, cfg: RunConfig, writer: RecordWriter, steps: int, val_images: int):
        super().__init__()
        self.cfg, self.writer, self.steps, self.val_images = cfg, writer, steps, val_images
        self.diverged = False

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_index = epoch
        self.epoch_start = time.perf_counter()
        self.steady_start = self.train_end = None

    def on_train_batch_begin(self, batch, logs=None):
        step = self.epoch_index * self.steps + batch
        self.model.optimizer.learning_rate.assign(learning_rate(
            step, self.steps * self.cfg.epochs, peak_lr=self.cfg.lr, schedule=self.cfg.schedule,
            warmup_fraction=self.cfg.warmup_fraction))

    def on_train_batch_end(self, batch, logs=None):
        if batch + 1 == self.cfg.warmup_batches:
            self.steady_start = time.perf_counter()

    def on_test_begin(self, logs=None):
        self.train_end = self.test_start = time.perf_counter()

    def on_test_end(self, logs=None):
        self.test_seconds = time.perf_counter() - self.test_start

    def on_epoch_end(self, epoch, logs=None):
        train_ips = steady_images_per_sec(
            self.steps, self.cfg.warmup_batches, self.cfg.batch_size,
            None if self.steady_start is None else self.train_end - self.steady_start)
        record = self.writer.write(
            epoch=epoch + 1, train_loss=float(logs["loss"]), train_acc=float(logs["accuracy"]),
            val_loss=float(logs["val_loss"]), val_acc=float(logs["val_accuracy"]),
            epoch_seconds=time.perf_counter() - self.epoch_start,
            train_images_per_sec=train_ips, eval_images_per_sec=self.val_images / self.test_seconds,
            peak_device_mb=None)
        print_epoch(record)
        if not math.isfinite(record.train_loss):
            self.diverged = True
            self.model.stop_training = True


def train(cfg: RunConfig, run_dir: Path) -> int:
    if cfg.device != "cpu":
        raise ValueError(f"device {cfg.device!r} is not supported by the Keras backend yet; use cpu")
    keras.utils.set_random_seed(cfg.seed)
    split = load_split(cfg)
    model = build_model(cfg.model, variant=cfg.variant, num_classes=cfg.num_classes)
    init_path = Path(run_dir) / INITIAL_WEIGHTS
    if init_path.exists():
        load_torch_state(model, load_arrays(init_path))
        init = initial_weights_source(run_dir, cfg)
    elif cfg.pretrained:
        raise FileNotFoundError(f"{init_path} is missing: {cfg.mode} needs the pretrained initial weights")
    else:
        init = f"keras-seed{cfg.seed}"  # PyTorch is not installed: Keras' own initialisers
    if cfg.mode == "linear-probe":
        freeze_backbone(model, cfg.model)
    model.compile(optimizer=make_optimizer(cfg), loss=make_loss(cfg),
                  metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")])
    writer = RecordWriter(cfg, run_dir, backend="tensorflow", framework_version=tf.__version__,
                          device=cfg.device, params=count_params(model), init=init, split=split)
    steps = steps_per_epoch(len(split.x_train), cfg.batch_size)
    recorder = EpochRecorder(cfg, writer, steps, len(split.x_val))
    model.fit(training_dataset(split, cfg), epochs=cfg.epochs, steps_per_epoch=steps,
              validation_data=eval_dataset(split.x_val, split.y_val, cfg),
              callbacks=[recorder], shuffle=False, verbose=1 if sys.stdout.isatty() else 0)
    if recorder.diverged:
        print("[tensorflow] diverged: non-finite training loss", file=sys.stderr)
        return 1
    return 0
