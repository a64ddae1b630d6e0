"""The two backends, written once: their names (the keys everywhere: records, file names,
--backend), the labels tables and figures give them, their packages, and the framework modules
each needs. compare.py calls a backend "not installed" when one of those modules cannot be found;
a backend process imports them first (shared.run.run_backend), so that one that is installed but
fails to import (a broken wheel, a missing shared library) is reported in one line."""

import importlib.util

BACKEND_NAMES = {"torch": "PyTorch", "tensorflow": "TensorFlow/Keras"}
BACKENDS = tuple(BACKEND_NAMES)  # ("torch", "tensorflow"): the order of every table's rows
PACKAGES = {"torch": "pytorch_impl", "tensorflow": "tensorflow_impl"}
FRAMEWORK_MODULES = {"torch": ("torch",), "tensorflow": ("tensorflow", "keras"), "jax": ("jax", "keras")}
# The frameworks Keras runs on (its KERAS_BACKEND): tensorflow_impl's models, optimizers and weight
# port are Keras code, and `compare.py parity --backend jax` checks them on JAX too. Training and
# bench run Keras on TensorFlow only so far, so "jax" is not in BACKENDS.
KERAS_BACKENDS = ("tensorflow", "jax")


def installed(backend: str) -> bool:
    """Whether the backend's framework modules can be found (found, not imported: no framework loads)."""
    return all(importlib.util.find_spec(m) is not None for m in FRAMEWORK_MODULES[backend])
