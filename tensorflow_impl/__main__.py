import tensorflow_impl  # noqa: F401 — sets TensorFlow's environment before it is imported
from shared.run import run_backend

from .train import train

raise SystemExit(run_backend("tensorflow", train))
