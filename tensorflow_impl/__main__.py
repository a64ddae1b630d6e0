import tensorflow_impl  # noqa: F401 — sets TensorFlow's environment before it is imported
from shared.run import run_backend

# TensorFlow is imported inside run_backend: an install that fails to import fails in one line.
raise SystemExit(run_backend("tensorflow", "tensorflow_impl.train:train"))
