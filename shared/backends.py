"""The backends, written once: their names (the keys everywhere: records, file names, --backend),
the labels tables and figures give them, their packages, and the framework modules each needs.
compare.py calls a backend "not installed" when one of those modules cannot be found; a backend
process imports them first (shared.run.run_backend), so that one that is installed but fails to
import (a broken wheel, a missing shared library) is reported in one line.

"tensorflow" and "jax" are the same Keras code (tensorflow_impl/: models, optimizers, weight port,
callbacks, checkpoints) on two of Keras' backends; what only TensorFlow has (tf.data, tf.distribute)
stays in tensorflow_impl's TensorFlow-only modules, and tensorflow_impl/on_jax/ holds what only JAX
needs (docs/design.md, "Keras on JAX")."""

import importlib.util

BACKEND_NAMES = {"torch": "PyTorch", "tensorflow": "TensorFlow/Keras", "jax": "JAX/Keras"}
BACKENDS = tuple(BACKEND_NAMES)  # ("torch", "tensorflow", "jax"): the order of every table's rows
# The backend every other one is compared with, pairwise, and the name a verdict gives each.
REFERENCE = "torch"
VERDICT_NAMES = {"torch": "PyTorch", "tensorflow": "Keras", "jax": "Keras on JAX"}
# A backend process is `python -m <package> RUN_DIR`, a bench process `python -m <package>.bench RUN_DIR`.
PACKAGES = {"torch": "pytorch_impl", "tensorflow": "tensorflow_impl", "jax": "tensorflow_impl.on_jax"}
FRAMEWORK_MODULES = {"torch": ("torch",), "tensorflow": ("tensorflow", "keras"), "jax": ("jax", "keras")}
# The frameworks Keras runs on (its KERAS_BACKEND), and so the backends that run tensorflow_impl's Keras code.
KERAS_BACKENDS = ("tensorflow", "jax")
# --backend's groups: "both" is the two frameworks the suite began with; "all" is every installed one.
BOTH = ("torch", "tensorflow")


def installed(backend: str) -> bool:
    """Whether the backend's framework modules can be found (found, not imported: no framework loads)."""
    return all(importlib.util.find_spec(m) is not None for m in FRAMEWORK_MODULES[backend])


def parse_backends(text: str) -> list[str]:
    """--backend: one backend, a comma list of them, "both" or "all" (the installed ones, or every
    one when none is), in BACKENDS' order; ValueError, in one line, for anything else."""
    if text == "both":
        return list(BOTH)
    if text == "all":
        return [b for b in BACKENDS if installed(b)] or list(BACKENDS)
    names = [name.strip() for name in text.split(",")]
    unknown = [name for name in names if name not in BACKENDS]
    if unknown or not text.strip():
        raise ValueError(f"unknown backend {', '.join(map(repr, unknown)) or repr(text)}; "
                         f"choose from {', '.join(BACKENDS)}, a comma list of them, both or all")
    if len(set(names)) != len(names):
        raise ValueError(f"{text!r} names a backend twice")
    return [b for b in BACKENDS if b in names]
