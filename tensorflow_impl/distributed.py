"""Data-parallel Keras on TensorFlow's own engine, tf.distribute (pytorch_impl/distributed.py is
the PyTorch side; shared/distributed.py has the contract):

- one machine: MirroredStrategy over N GPUs, or over N logical CPU devices on the CPU
  (tf.config.set_logical_device_configuration), each given cores ÷ N intra-op threads;
- several machines: MultiWorkerMirroredStrategy, configured by the TF_CONFIG environment
  variable (docs/distributed.md).

Each replica is fed its slice of every global batch of the shared plan (distribute_datasets_from_function:
no re-sharding by tf.data), and BatchNorm is synchronised across the replicas (Keras'
`synchronized=True`), as in PyTorch.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import keras
import tensorflow as tf

from shared.config import RunConfig
from shared.distributed import threads_per_device
from shared.run import Split

from .data import training_batches
from .device import DeviceError


def replicate(cfg: RunConfig, device: str) -> tf.distribute.Strategy:
    """The strategy for cfg.devices replicas on `device`; TensorFlow's default (one device) for
    one. Call before any TensorFlow op runs: devices and threads are fixed at start-up."""
    if os.environ.get("TF_CONFIG"):
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    elif cfg.devices == 1:
        return tf.distribute.get_strategy()
    elif device == "cuda":
        gpus = tf.config.list_logical_devices("GPU")
        if len(gpus) < cfg.devices:
            raise DeviceError(f"--devices {cfg.devices}: TensorFlow sees {len(gpus)} GPU(s)")
        strategy = tf.distribute.MirroredStrategy([gpu.name for gpu in gpus[:cfg.devices]])
    else:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * cfg.devices)
        tf.config.threading.set_intra_op_parallelism_threads(threads_per_device(cfg.devices))
        strategy = tf.distribute.MirroredStrategy([d.name for d in tf.config.list_logical_devices("CPU")])
    if strategy.num_replicas_in_sync != cfg.devices:
        raise DeviceError(f"the run wants {cfg.devices} devices; the strategy has {strategy.num_replicas_in_sync}")
    return strategy


def output_dir(run_dir: Path) -> Path:
    """Where this worker writes records and checkpoints: the run folder, except on the workers
    of several machines other than the chief (the "chief" task of TF_CONFIG, or worker 0 when there
    is none: TensorFlow's convention), which write into a folder of their own inside it."""
    config = json.loads(os.environ.get("TF_CONFIG", "{}"))
    task = config.get("task", {"type": "worker", "index": 0})
    chief = task["type"] == "chief" if "chief" in config.get("cluster", {}) else task.get("index", 0) == 0
    if chief:
        return Path(run_dir)
    path = Path(run_dir) / f"{task['type']}-{task['index']}"
    path.mkdir(exist_ok=True)
    return path


def distributed_training_batches(strategy: tf.distribute.Strategy, split: Split, cfg: RunConfig, first_epoch: int = 1):
    """training_batches for the strategy's replicas: each input pipeline (one per worker) makes its
    local replicas' slices of every global batch, in replica order."""
    if strategy.num_replicas_in_sync == 1:
        return training_batches(split, cfg, first_epoch)

    def for_pipeline(context: tf.distribute.InputContext):
        return training_batches(split, cfg, first_epoch, replicas=context.num_replicas_in_sync,
                                pipeline=context.input_pipeline_id, pipelines=context.num_input_pipelines)
    return strategy.distribute_datasets_from_function(for_pipeline)


def sync_batch_norm(model: keras.Model) -> None:
    """Every BatchNormalization layer normalises with the whole global batch's statistics
    (all-reduced across the replicas on each step)."""
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.synchronized = True
