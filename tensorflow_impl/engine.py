"""What the Keras code of this package runs on: TensorFlow or JAX, as Keras' backend says
(KERAS_BACKEND, which the backend process sets before Keras is imported: shared.run.run_backend).

train.py, bench.py, callbacks.py, probe.py, the models, optimizers, weight port, checkpoints and
TTA are Keras code and run on both. What differs is picked here, once, as three modules with the
same functions on both sides:
- data: the input path. TensorFlow: tf.data pipelines over one in-graph copy of the images
  (data.py). JAX: numpy batches from the shared plan, as PyTorch's CPU path makes them (on_jax/data.py).
- device: device, precision, determinism, compiled inference, memory (device.py, on_jax/device.py).
- distributed: replicas. TensorFlow: tf.distribute (distributed.py). JAX: one device (on_jax/distributed.py).
"""

from __future__ import annotations

import importlib

import keras

from shared.config import RunConfig

BACKEND = keras.backend.backend()  # "tensorflow" or "jax": also the backend's name in records and files
if BACKEND == "jax":
    from .on_jax import data, device, distributed  # noqa: F401
else:
    from . import data, device, distributed  # noqa: F401

FRAMEWORK_VERSION = importlib.import_module(BACKEND).__version__


def jit_compile(cfg: RunConfig) -> bool:
    """Keras' jit_compile for this run: --compile on TensorFlow (XLA, else a tf.function graph);
    always on JAX, where Keras without it would run op by op, not a graph at all."""
    return True if BACKEND == "jax" else bool(cfg.compile)
