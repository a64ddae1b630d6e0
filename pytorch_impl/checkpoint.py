"""The PyTorch backend's state after an epoch, for --resume (tensorflow_impl/checkpoint.py mirrors
it): model, optimizer and fp16 loss-scaler state_dicts, the epoch, and the RNG state (dropout draws), written
atomically, loaded with weights_only=True (tensors and plain containers only)."""

from __future__ import annotations

import io
from pathlib import Path

import torch

from shared.io import atomic_write_bytes
from shared.run import CHECKPOINT


def checkpoint_path(run_dir: Path) -> Path:
    return Path(run_dir) / CHECKPOINT.format(backend="torch")


def save(run_dir: Path, model, optimizer, scaler, epoch: int) -> None:
    state = {"epoch": epoch, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
             "scaler": scaler.state_dict(), "rng": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda_rng"] = torch.cuda.get_rng_state_all()
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write_bytes(checkpoint_path(run_dir), buffer.getvalue())


def restore(run_dir: Path, model, optimizer, scaler) -> int:
    """Load the checkpoint into model, optimizer and scaler; the epoch it was taken after (0: none)."""
    path = checkpoint_path(run_dir)
    if not path.exists():
        return 0
    state = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    if state.get("scaler"):  # an empty dict when loss scaling is off
        scaler.load_state_dict(state["scaler"])
    torch.set_rng_state(state["rng"])
    if "cuda_rng" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda_rng"])
    return state["epoch"]
