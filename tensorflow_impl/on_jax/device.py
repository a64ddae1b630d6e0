"""Where and in which precision Keras runs on JAX (tensorflow_impl/device.py is TensorFlow's): the
device a config asks for, checked; the float32 math of matmuls and convolutions and the Keras
dtype policy of the config's precision (shared/precision.py); compiled inference; memory."""

from __future__ import annotations

import jax
import keras

from shared.precision import KERAS_POLICIES, describe_gpu_math, gpu_only_error, tf32_capability_error, uses_tf32


class DeviceError(RuntimeError):
    pass


def _gpus() -> list:
    try:
        return jax.devices("gpu")
    except RuntimeError:  # a CPU-only jaxlib has no GPU backend at all
        return []


def resolve_device(name: str) -> str:
    """"auto": "cuda" when JAX sees a GPU, else "cpu"; "cuda" without a GPU is an error."""
    if name == "cpu":
        jax.config.update("jax_platforms", "cpu")  # --device cpu holds even where a GPU exists
        return "cpu"
    gpus = _gpus()
    if name == "cuda" and not gpus:
        raise DeviceError("--device cuda, but JAX sees no GPU (jax.devices('gpu') fails; a CPU-only jaxlib?); "
                          "use --device cpu or auto")
    return "cuda" if gpus else "cpu"


def make_deterministic(device: str, devices: int = 1) -> None:
    """Same seed, same records on the CPU: XLA's CPU programs are deterministic as they are
    (tests/test_jax.py checks it), so nothing is set. A GPU keeps its fast kernels, as in the
    other backends."""


def check_precision(device: str, precision: str) -> None:
    """The precision runs on this device: fp16 and tf32 need a CUDA GPU, tf32 an Ampere one."""
    if device != "cuda" and gpu_only_error(precision):
        raise DeviceError(gpu_only_error(precision))
    if precision == "tf32":
        gpu = _gpus()[0]
        capability = tuple(int(part) for part in str(getattr(gpu, "compute_capability", "0.0")).split("."))
        problem = tf32_capability_error(gpu.device_kind, capability)
        if problem:
            raise DeviceError(problem)


def set_precision(device: str, precision: str) -> None:
    """check_precision; IEEE float32 matmuls and convolutions ("highest"), or TF32 under
    --precision tf32 (JAX's default on a GPU is bf16 passes: neither); then the global Keras
    dtype policy, as on TensorFlow."""
    check_precision(device, precision)
    jax.config.update("jax_default_matmul_precision", "tensorfloat32" if uses_tf32(precision) else "highest")
    keras.mixed_precision.set_global_policy(KERAS_POLICIES[precision])


def gpu_math(device: str) -> str | None:
    """The records' gpu_math, read back from JAX's setting (None on the CPU). XLA autotunes its
    GPU kernels by default."""
    if device != "cuda":
        return None
    tf32 = jax.config.jax_default_matmul_precision == "tensorfloat32"
    return describe_gpu_math(tf32, tf32, True)


def compiled_inference(model: keras.Model, jit_compile: bool = True):
    """model(x, training=False) as one XLA program: Keras' predict function for one batch."""
    return model.predict_on_batch


def peak_device_mb(device: str) -> float | None:
    """XLA's high-water mark of GPU memory, in MiB (None on the CPU)."""
    if device != "cuda":
        return None
    return jax.devices()[0].memory_stats()["peak_bytes_in_use"] / 2**20
