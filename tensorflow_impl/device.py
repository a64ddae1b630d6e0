"""Where and in which precision Keras runs (pytorch_impl/device.py mirrors it): the device a config
asks for, checked, GPU memory that grows instead of being grabbed whole, and the dtype policy of
the config's precision. Call resolve_device before anything touches a GPU."""

from __future__ import annotations

import keras
import tensorflow as tf

POLICIES = {"fp32": "float32", "bf16": "mixed_bfloat16", "fp16": "mixed_float16"}


class DeviceError(RuntimeError):
    pass


def resolve_device(name: str) -> str:
    """"auto": "cuda" when TensorFlow sees a GPU, else "cpu"; "cuda" without a GPU is an error."""
    gpus = tf.config.list_physical_devices("GPU")
    if name == "cuda" and not gpus:
        raise DeviceError("--device cuda, but TensorFlow sees no GPU (tf.config.list_physical_devices('GPU') "
                          "is empty; a CPU-only TensorFlow build?); use --device cpu or auto")
    if name == "cpu" or not gpus:
        tf.config.set_visible_devices([], "GPU")  # --device cpu holds even where a GPU exists
        return "cpu"
    for gpu in gpus:  # by default TensorFlow reserves nearly all GPU memory at start
        tf.config.experimental.set_memory_growth(gpu, True)
    return "cuda"


def set_precision(device: str, precision: str) -> None:
    """The global dtype policy: variables stay float32, layers compute in bf16/fp16 under the mixed
    policies; Keras wraps the optimizer in a LossScaleOptimizer for mixed_float16 by itself, and
    its losses compute in float32."""
    if precision == "fp16" and device != "cuda":
        raise DeviceError("--precision fp16 needs a CUDA GPU (CPUs have no fast fp16); use bf16 or fp32")
    keras.mixed_precision.set_global_policy(POLICIES[precision])


def peak_device_mb(device: str) -> float | None:
    """TensorFlow's high-water mark of GPU memory, in MiB (None on the CPU)."""
    if device != "cuda":
        return None
    return tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20
