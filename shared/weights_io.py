"""Framework-neutral weights: a dict of numpy arrays keyed by PyTorch state_dict names, stored as
.npz. This is how the two backends start from the same initial weights."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from shared.io import atomic_write_bytes


def save_arrays(path: Path, arrays: dict[str, np.ndarray]) -> None:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    atomic_write_bytes(path, buffer.getvalue())


def load_arrays(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}
