"""Where and in which precision Keras runs (pytorch_impl/device.py mirrors it): the device a config
asks for, checked, GPU memory that grows instead of being grabbed whole; the float32 math and the
dtype policy of the config's precision (shared/precision.py). Call resolve_device before anything
touches a GPU."""

from __future__ import annotations

import os

import keras
import tensorflow as tf

from shared.precision import KERAS_POLICIES, describe_gpu_math, gpu_only_error, tf32_capability_error, uses_tf32


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
    """The precision runs on this device: fp16 and tf32 need a CUDA GPU, tf32 an Ampere one."""
    if device != "cuda" and gpu_only_error(precision):
        raise DeviceError(gpu_only_error(precision))
    if precision == "tf32":
        details = tf.config.experimental.get_device_details(tf.config.list_physical_devices("GPU")[0])
        problem = tf32_capability_error(details.get("device_name", "this GPU"), details.get("compute_capability", (0, 0)))
        if problem:
            raise DeviceError(problem)


def set_precision(device: str, precision: str) -> None:
    """check_precision; the float32 math of matmuls and convolutions (IEEE, or TF32 under
    --precision tf32: shared/precision.py), whatever TensorFlow's default (TF32 on); then the
    global dtype policy: variables stay float32, layers compute in bf16/fp16 under the mixed
    policies; Keras wraps the optimizer in a LossScaleOptimizer for mixed_float16 by itself, and
    its losses compute in float32. Autotuning is set before TensorFlow starts (tensorflow_impl/__init__.py)."""
    check_precision(device, precision)
    tf.config.experimental.enable_tensor_float_32_execution(uses_tf32(precision))
    keras.mixed_precision.set_global_policy(KERAS_POLICIES[precision])


def gpu_math(device: str) -> str | None:
    """The records' gpu_math, read back from TensorFlow's switches (None on the CPU, where they act on nothing)."""
    if device != "cuda":
        return None
    tf32 = tf.config.experimental.tensor_float_32_execution_enabled()  # one switch for matmuls and convolutions
    return describe_gpu_math(tf32, tf32, os.environ.get("TF_CUDNN_USE_AUTOTUNE", "1") != "0")


def compiled_inference(model: keras.Model, jit_compile: bool = False):
    """model(x, training=False) as one compiled graph (a served model's path): a tf.function,
    through XLA with jit_compile. Not an eager call, which kept every layer's output alive (GBs at
    224: tests/test_memory.py); not predict_on_batch, which under a MirroredStrategy returned every
    replica's copy of the batch."""
    return tf.function(lambda x: model(x, training=False), jit_compile=jit_compile, reduce_retracing=True)


def peak_device_mb(device: str) -> float | None:
    """TensorFlow's high-water mark of GPU memory, in MiB (None on the CPU)."""
    if device != "cuda":
        return None
    return tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20
