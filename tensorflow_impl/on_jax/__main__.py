from shared.run import run_backend
from tensorflow_impl.on_jax import keep_tensorflow_out

keep_tensorflow_out()
# Keras (on JAX: run_backend sets KERAS_BACKEND before the import) is imported inside run_backend:
# an install that fails to import fails in one line.
raise SystemExit(run_backend("jax", "tensorflow_impl.train:train"))
