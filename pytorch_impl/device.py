"""Where and in which precision PyTorch runs (tensorflow_impl/device.py mirrors it): the device a
config asks for, checked, the autocast context and gradient scaler its precision needs, and the
device's memory high-water mark."""

from __future__ import annotations

import contextlib

import torch


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
    """The precision runs on this device (PyTorch has no global policy to set: autocast and
    grad_scaler apply it step by step)."""
    if precision == "fp16" and device.type != "cuda":
        raise DeviceError("--precision fp16 needs a CUDA GPU (CPUs have no fast fp16); use bf16 or fp32")


def autocast(device: torch.device, precision: str):
    """Mixed precision for the forward pass and the loss: weights and optimizer stay float32."""
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16 if precision == "bf16" else torch.float16)


def grad_scaler(device: torch.device, precision: str) -> torch.amp.GradScaler:
    """Loss scaling for fp16 (its gradients underflow otherwise); a no-op for fp32 and bf16."""
    return torch.amp.GradScaler(device.type, enabled=precision == "fp16")


def peak_device_mb(device: torch.device) -> float | None:
    """PyTorch's high-water mark of GPU memory, in MiB (None on the CPU)."""
    if device.type != "cuda":
        return None
    return torch.cuda.max_memory_allocated(device) / 2**20
