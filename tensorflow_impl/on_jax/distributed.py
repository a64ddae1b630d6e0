"""Replicas for Keras on JAX: one device. tf.distribute is TensorFlow's (tensorflow_impl/distributed.py);
Keras' own keras.distribution data parallelism on JAX is not wired into the suite, so compare.py
refuses --devices above 1 with --backend jax, and this module only gives train.py the one-device
answers to the questions it asks of TensorFlow's."""

from __future__ import annotations

import contextlib
from pathlib import Path

import keras

from shared.config import RunConfig
from shared.run import Split

from .data import training_batches
from .device import DeviceError


class OneDevice:
    """The strategy of one device: its scope changes nothing."""
    num_replicas_in_sync = 1

    def scope(self):
        return contextlib.nullcontext()


def replicate(cfg: RunConfig, device: str) -> OneDevice:
    if cfg.devices > 1:
        raise DeviceError(f"--devices {cfg.devices}: Keras on JAX trains on one device here")
    return OneDevice()


def output_dir(run_dir: Path) -> Path:
    return Path(run_dir)


def distributed_training_batches(strategy: OneDevice, split: Split, cfg: RunConfig, first_epoch: int = 1):
    return training_batches(split, cfg, first_epoch)


def sync_batch_norm(model: keras.Model) -> None:
    raise DeviceError("Keras on JAX trains on one device here: there are no replicas to synchronise")
