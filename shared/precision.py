"""What each --precision means, the same in both backends (pytorch_impl/device.py and
tensorflow_impl/device.py apply it with their framework's switches).

On NVIDIA GPUs of the Ampere generation and newer (A100, H100, RTX 30xx/40xx), "float32" is not
one thing: TF32 tensor cores multiply with a 10-bit mantissa and accumulate in float32, about 8×
faster and about 1e-3 less exact. The frameworks disagree by default: PyTorch keeps matmuls in
IEEE float32 and lets cuDNN's convolutions use TF32; TensorFlow uses TF32 for both. Left alone,
--precision fp32 would compare TF32 Keras with mostly-IEEE PyTorch, in speed and in numbers.
So the suite sets the switches itself:

- fp32: IEEE float32 for matmuls and convolutions, in both;
- tf32: TF32 for both, in both (GPUs with compute capability 8.0 or more; nowhere else does it
  exist, so elsewhere it is refused rather than silently run as fp32);
- bf16, fp16: the mixed policies (autocast / Keras' mixed_* policies); what stays float32 in them
  (the loss, normalisation statistics, the optimizer) is IEEE, as under fp32.

The parity checks (compare.py parity, the tests) always run in fp32.

Autotuning (cuDNN trying the kernels of each new shape and keeping the fastest) is on in both:
PyTorch's torch.backends.cudnn.benchmark and TensorFlow's TF_CUDNN_USE_AUTOTUNE. A benchmark
wants each framework's fastest kernels, and a GPU run promises no bit-for-bit determinism anyway
(docs/reliability.md): that promise is the CPU's.

Nothing here imports a framework.
"""

from __future__ import annotations

# fp32 everywhere; tf32: fp32 with TF32 tensor cores (Ampere and newer GPUs only); bf16:
# autocast / mixed_bfloat16 (fast on GPUs and on CPUs with AVX512-BF16 or AMX; a CPU without them
# emulates it and is much slower: docs/benchmarks.md, "Speed options"); fp16: CUDA only (autocast
# + GradScaler / mixed_float16, whose loss scaling Keras adds by itself).
PRECISIONS = ("fp32", "tf32", "bf16", "fp16")
# The precisions whose arithmetic is float32 throughout (no autocast, no mixed policy).
FLOAT32 = ("fp32", "tf32")
AUTOTUNE = True
# Keras' dtype policy of each precision, on TensorFlow and JAX alike: variables stay float32, layers
# compute in bf16/fp16 under the mixed policies (tensorflow_impl/device.py, tensorflow_impl/on_jax/device.py).
KERAS_POLICIES = {"fp32": "float32", "tf32": "float32", "bf16": "mixed_bfloat16", "fp16": "mixed_float16"}
TF32_CAPABILITY = (8, 0)  # Ampere


def uses_tf32(precision: str) -> bool:
    """Whether float32 matmuls and convolutions may run on TF32 tensor cores."""
    return precision == "tf32"


def gpu_only_error(precision: str) -> str | None:
    """The one line refusing a precision that needs a CUDA GPU on a device without one; None
    where the precision runs anywhere."""
    if precision == "fp16":
        return "--precision fp16 needs a CUDA GPU (CPUs have no fast fp16); use bf16 or fp32"
    if precision == "tf32":
        return "--precision tf32 needs a CUDA GPU with TF32 (Ampere or newer); on a CPU use fp32, which is the same math"
    return None


def tf32_capability_error(gpu_name: str, capability: tuple[int, int]) -> str | None:
    """The one line refusing --precision tf32 on a GPU older than Ampere (a T4: 7.5), where TF32
    does not exist and the run would be fp32 under another name; None where it exists."""
    if tuple(capability) >= TF32_CAPABILITY:
        return None
    return (f"--precision tf32 needs compute capability {TF32_CAPABILITY[0]}.{TF32_CAPABILITY[1]} or more (Ampere); "
            f"{gpu_name} has {capability[0]}.{capability[1]} and no TF32: use fp32")


def describe_gpu_math(matmul_tf32: bool, conv_tf32: bool, autotune: bool) -> str:
    """The records' gpu_math: how the framework's own switches say float32 matmuls and convolutions
    run on a GPU (IEEE or TF32) and whether kernels are autotuned, e.g. "fp32 ieee, autotune on"."""
    def mode(tf32: bool) -> str:
        return "tf32" if tf32 else "ieee"
    fp32 = mode(matmul_tf32) if matmul_tf32 == conv_tf32 else f"matmul {mode(matmul_tf32)}, conv {mode(conv_tf32)}"
    return f"fp32 {fp32}, autotune {'on' if autotune else 'off'}"
