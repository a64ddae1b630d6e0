import tensorflow_impl  # noqa: F401 — sets TensorFlow's environment before it is imported
from shared.run import run_backend

# Keras on TensorFlow (run_backend sets KERAS_BACKEND, whatever the user's shell says), imported
# inside run_backend: an install that fails to import fails in one line.
raise SystemExit(run_backend("tensorflow", "tensorflow_impl.train:train"))
