import os

import tensorflow_impl  # noqa: F401 — sets TensorFlow's environment before it is imported
from shared.run import run_backend

# This process is the TensorFlow backend: Keras on TensorFlow whatever KERAS_BACKEND the user's
# shell sets (Keras reads it once, at its first import, below).
os.environ["KERAS_BACKEND"] = "tensorflow"

# TensorFlow is imported inside run_backend: an install that fails to import fails in one line.
raise SystemExit(run_backend("tensorflow", "tensorflow_impl.train:train"))
