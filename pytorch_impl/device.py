"""Where and in which precision PyTorch runs (tensorflow_impl/device.py mirrors it): the device a
config asks for, checked; the float32 math and autotuning its precision sets (shared/precision.py),
the autocast context and gradient scaler it needs; and the device's memory high-water mark."""

from __future__ import annotations

import contextlib

import torch

from shared.precision import (AUTOTUNE, FLOAT32, describe_gpu_math, gpu_only_error, tf32_capability_error,
                              uses_tf32)


class DeviceError(RuntimeError):
    pass


def resolve_device(name: str) -> torch.device:
    """"auto": CUDA when PyTorch sees a GPU, else the CPU; "cuda" without a GPU is an error."""
    has_cuda = torch.cuda.is_available()
    if name == "auto":
        return torch.device("cuda" if has_cuda else "cpu")
    if name == "cuda" and not has_cuda:
        raise DeviceError("--device cuda, but PyTorch sees no CUDA GPU (torch.cuda.is_available() is False); "
                          "use --device cpu or auto")
    return torch.device(name)


def make_deterministic(device: torch.device) -> None:
    """Same seed, same records on the CPU (tested at the default batch). On a GPU the
    deterministic kernels cost speed, so they stay off there (docs/reliability.md, "Determinism")."""
    if device.type == "cpu":
        torch.use_deterministic_algorithms(True, warn_only=True)


def check_precision(device: torch.device, precision: str) -> None:
    """The precision runs on this device: fp16 and tf32 need a CUDA GPU, tf32 an Ampere one."""
    if device.type != "cuda" and gpu_only_error(precision):
        raise DeviceError(gpu_only_error(precision))
    if precision == "tf32":
        problem = tf32_capability_error(torch.cuda.get_device_name(device), torch.cuda.get_device_capability(device))
        if problem:
            raise DeviceError(problem)


def set_precision(device: torch.device, precision: str) -> None:
    """check_precision, then the float32 math of matmuls and convolutions (IEEE, or TF32 under
    --precision tf32) and cuDNN's autotuning, as shared/precision.py says, whatever PyTorch's own
    defaults. Mixed precision itself is applied step by step (autocast, grad_scaler)."""
    check_precision(device, precision)
    # The allow_tf32 switches, not torch 2.9's fp32_precision ones: once those are set, reading
    # allow_tf32 (as torch.compile's code does) raises in torch 2.14 ("a mix of the legacy and new
    # APIs"), even with every new switch set alike.
    torch.backends.cuda.matmul.allow_tf32 = uses_tf32(precision)
    torch.backends.cudnn.allow_tf32 = uses_tf32(precision)
    torch.backends.cudnn.benchmark = AUTOTUNE


def gpu_math(device: torch.device) -> str | None:
    """The records' gpu_math, read back from PyTorch's switches (None on the CPU, where they act on nothing)."""
    if device.type != "cuda":
        return None
    return describe_gpu_math(torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32,
                             torch.backends.cudnn.benchmark)


def autocast(device: torch.device, precision: str):
    """Mixed precision for the forward pass and the loss: weights and optimizer stay float32."""
    if precision in FLOAT32:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16 if precision == "bf16" else torch.float16)


def grad_scaler(device: torch.device, precision: str) -> torch.amp.GradScaler:
    """Loss scaling for fp16 (its gradients underflow otherwise); a no-op for the others."""
    return torch.amp.GradScaler(device.type, enabled=precision == "fp16")


def peak_device_mb(device: torch.device) -> float | None:
    """PyTorch's high-water mark of GPU memory, in MiB (None on the CPU)."""
    if device.type != "cuda":
        return None
    return torch.cuda.max_memory_allocated(device) / 2**20
