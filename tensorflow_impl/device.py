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


def make_deterministic(device: str, devices: int = 1) -> None:
    """Same seed, same records on the CPU (tested at the default batch). Op determinism alone was
    not enough: ops running at the same time on the inter-op pool changed a sum's order (seen at
    the default batch: docs/reliability.md, "Determinism"), so one device's ops run one at a time,
    each on all the intra-op threads (its cost per model: docs/benchmarks.md). Several
    logical CPUs keep the pool, since their replicas must run at once. A GPU keeps its fast
    kernels. Call before any op runs."""
    if device != "cpu":
        return
    tf.config.experimental.enable_op_determinism()
    if devices == 1:
        tf.config.threading.set_inter_op_parallelism_threads(1)


def check_precision(device: str, precision: str) -> None:
    """The precision runs on this device."""
    if precision == "fp16" and device != "cuda":
        raise DeviceError("--precision fp16 needs a CUDA GPU (CPUs have no fast fp16); use bf16 or fp32")


def set_precision(device: str, precision: str) -> None:
    """check_precision, then the global dtype policy: variables stay float32, layers compute in
    bf16/fp16 under the mixed policies; Keras wraps the optimizer in a LossScaleOptimizer for
    mixed_float16 by itself, and its losses compute in float32."""
    check_precision(device, precision)
    keras.mixed_precision.set_global_policy(POLICIES[precision])


def peak_device_mb(device: str) -> float | None:
    """TensorFlow's high-water mark of GPU memory, in MiB (None on the CPU)."""
    if device != "cuda":
        return None
    return tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20
