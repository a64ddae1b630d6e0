"""TensorFlow/Keras 3 backend. Run as a process by compare.py: `python -m tensorflow_impl RUN_DIR`."""

import os

from shared.precision import AUTOTUNE as _AUTOTUNE  # private: the package exports nothing

# Before TensorFlow is first imported: keep its C++ start-up chatter (no CUDA on a CPU machine,
# oneDNN notices) out of the user's table; real errors still surface as Python exceptions. Lines
# logged through absl before it is set up ignore this: shared.run.framework_logs_kept holds them back.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
# cuDNN's autotuning, read when TensorFlow starts: set here, not left to the user's environment,
# so that it is the same choice as PyTorch's cudnn.benchmark (shared/precision.py).
os.environ["TF_CUDNN_USE_AUTOTUNE"] = "1" if _AUTOTUNE else "0"
