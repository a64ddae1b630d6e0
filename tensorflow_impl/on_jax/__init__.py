"""Keras on JAX: tensorflow_impl's Keras code (models, optimizers, weight port, training, bench)
with JAX as Keras' backend, as its own backend process ("jax" in compare.py --backend):

    python -m tensorflow_impl.on_jax RUN_DIR         (training; compare.py does this)
    python -m tensorflow_impl.on_jax.bench RUN_DIR   (compare.py bench)

This folder holds only what JAX needs in place of TensorFlow-only code (tensorflow_impl/engine.py
picks it): the numpy input path (data.py), the device glue (device.py), one device (distributed.py).
Both keep TensorFlow out of their process (keep_tensorflow_out; tests/test_jax.py checks it)."""

import importlib.abc
import sys


class _WithoutTensorFlow(importlib.abc.MetaPathFinder):
    """TensorFlow out of reach of this process. Keras imports it, when it is installed, for
    things JAX does not need (keras.utils.set_random_seed seeds it "for tf.data"); kept out, they
    are skipped, the process starts faster and smaller, and it runs as it would where TensorFlow
    is not installed (a GPU machine with JAX only)."""

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] == "tensorflow":
            raise ModuleNotFoundError(f"No module named {name!r} (the Keras-on-JAX process does without it)", name=name)
        return None



def keep_tensorflow_out() -> None:
    """From now on, no import of TensorFlow in this process succeeds (a process entry point calls it)."""
    if not any(isinstance(finder, _WithoutTensorFlow) for finder in sys.meta_path):
        sys.meta_path.insert(0, _WithoutTensorFlow())
