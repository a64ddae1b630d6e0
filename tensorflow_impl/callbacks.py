"""The Keras callbacks that make fit() follow the shared schedule and write the shared records
(on TensorFlow and JAX alike)."""

from __future__ import annotations

import math
import time
from pathlib import Path

import keras

from shared.bench import BenchSettings, WindowTimer
from shared.config import RunConfig
from shared.metrics import steady_images_per_sec
from shared.run import RecordWriter, divergence_check_every, print_epoch

from . import checkpoint
from .engine import BACKEND, device as engine_device, jit_compile
from .optim import make_loss
from .tta import make_tta_evaluator


class FollowSchedule(keras.callbacks.Callback):
    """Per step: the shared schedule's learning rate before it, and a look at the loss after it; a
    non-finite loss stops fit after this batch. What every training step in Keras carries, in
    training (EpochRecorder) and in compare.py bench alike."""

    def __init__(self, cfg: RunConfig, steps: int, device: str = "cpu"):
        super().__init__()
        self.cfg, self.steps, self.device = cfg, steps, device
        self.check_every = divergence_check_every(device)  # and the epoch's last step
        self.epoch_index = 0
        self.diverged_at = None  # the step of the current epoch whose loss was non-finite

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_index = epoch
        self.diverged_at = None

    def on_train_batch_begin(self, batch, logs=None):
        step = self.epoch_index * self.steps + batch
        if BACKEND == "jax":
            # fit on JAX carries the variables (the learning rate among them) as arrays from step to
            # step; syncing them back into the Keras variables makes it read them again, with this one.
            self.model.jax_state_sync()
        self.model.optimizer.learning_rate.assign(self.cfg.learning_rate(step, self.steps * self.cfg.epochs))

    def on_train_batch_end(self, batch, logs=None):
        # logs["loss"] is the epoch's running mean: non-finite from the first bad step on. fit
        # stops after this batch (it still validates before on_epoch_end, as PyTorch does).
        if (batch + 1) % self.check_every and batch + 1 != self.steps:
            return
        if not math.isfinite(float(logs["loss"])):
            self.diverged_at = batch + 1
            self.model.stop_training = True


class TimeSteps(FollowSchedule):
    """FollowSchedule (as in training), and every finished step reported to a WindowTimer."""

    def __init__(self, cfg: RunConfig, steps: int, device: str, timer: WindowTimer):
        super().__init__(cfg, steps, device)
        self.timer = timer

    def on_train_batch_end(self, batch, logs=None):
        super().on_train_batch_end(batch, logs)
        self.logs = logs
        self.timer.step_done()


def timed_fit(model, data, cfg: RunConfig, settings: BenchSettings, device: str,
              total_steps: int, sources: int = 1) -> WindowTimer:
    """The timer's steps of fit on `data`, timed in windows (of `sources` alternating sources:
    shared.bench.WindowTimer)."""
    timer = WindowTimer(settings, cfg.batch_size, sources=sources)
    callback = TimeSteps(cfg, total_steps, device, timer)
    timer.sync = lambda: float(callback.logs["loss"])  # waits for the step that produced it
    model.fit(data, epochs=1, steps_per_epoch=timer.total_steps, callbacks=[callback], shuffle=False, verbose=0)
    return timer


class EpochRecorder(FollowSchedule):
    """FollowSchedule, and per epoch: timings and one EpochRecord.

    Steady-state img/s runs from the end of batch `warmup_batches` (tracing and the first
    executions are over) to the end of the last training batch; validation is timed apart
    through on_test_begin/on_test_end, which fit calls for validation_data."""

    def __init__(self, cfg: RunConfig, writer: RecordWriter, steps: int, val_images: int,
                 feature_images_per_sec: float | None = None, checkpoint_dir: Path | None = None,
                 device: str = "cpu", tta_data=None):
        super().__init__(cfg, steps, device)
        self.tta_data = tta_data  # with --tta: the validation batches its pass averages views of
        self.evaluate_tta = None  # made at the first epoch's end, when fit has set self.model
        self.writer, self.val_images = writer, val_images
        self.feature_images_per_sec = feature_images_per_sec
        self.checkpoint_dir = checkpoint_dir  # where the state after each epoch goes (None: nowhere)
        self.status = "ok"       # the last record's status ("diverged: ..." stops the run)

    def on_epoch_begin(self, epoch, logs=None):
        super().on_epoch_begin(epoch, logs)
        self.epoch_start = time.perf_counter()
        self.steady_start = self.train_end = None

    def on_train_batch_end(self, batch, logs=None):
        if batch + 1 == self.cfg.warmup_batches:
            self.steady_start = time.perf_counter()
        super().on_train_batch_end(batch, logs)

    def on_test_begin(self, logs=None):
        self.train_end = self.test_start = time.perf_counter()

    def on_test_end(self, logs=None):
        self.test_seconds = time.perf_counter() - self.test_start

    def on_epoch_end(self, epoch, logs=None):
        tta_loss = tta_acc = None
        if self.cfg.tta != "none":
            if self.evaluate_tta is None:
                self.evaluate_tta = make_tta_evaluator(self.model, self.cfg.tta, make_loss(self.cfg), jit_compile(self.cfg))
            tta_loss, tta_acc = self.evaluate_tta(self.tta_data)
        train_ips = steady_images_per_sec(
            self.diverged_at or self.steps, self.cfg.warmup_batches, self.cfg.batch_size,
            None if self.steady_start is None else self.train_end - self.steady_start)
        record = self.writer.write(
            epoch=epoch + 1, train_loss=float(logs["loss"]), train_acc=float(logs["accuracy"]),
            val_loss=float(logs["val_loss"]), val_acc=float(logs["val_accuracy"]),
            epoch_seconds=time.perf_counter() - self.epoch_start,
            train_images_per_sec=train_ips, eval_images_per_sec=self.val_images / self.test_seconds,
            peak_device_mb=engine_device.peak_device_mb(self.device), feature_images_per_sec=self.feature_images_per_sec,
            diverged_at=self.diverged_at, tta_val_loss=tta_loss, tta_val_acc=tta_acc)
        print_epoch(record)
        self.status = record.status
        if record.status != "ok":
            self.model.stop_training = True
        elif self.checkpoint_dir is not None:
            checkpoint.save(self.checkpoint_dir, self.model, epoch + 1)
