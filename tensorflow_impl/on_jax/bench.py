"""`python -m tensorflow_impl.on_jax.bench RUN_DIR`: compare.py bench's Keras-on-JAX process, which
runs tensorflow_impl/bench.py with JAX as Keras' backend."""

from shared.run import run_backend
from tensorflow_impl.on_jax import keep_tensorflow_out

if __name__ == "__main__":
    keep_tensorflow_out()
    raise SystemExit(run_backend("jax", "tensorflow_impl.bench:bench"))
