"""The Keras backend's state after an epoch, for --resume (mirrors pytorch_impl/checkpoint.py):
every model variable — weights, BatchNorm statistics and the dropout layers' seed-generator
states — and every optimizer variable (moments, iteration count), in their fixed order, plus the
epoch, as one .npz written atomically."""

from __future__ import annotations

import io
from pathlib import Path

import keras
import numpy as np

from shared.io import atomic_write_bytes
from shared.run import CHECKPOINT


def checkpoint_path(run_dir: Path) -> Path:
    """<backend>.ckpt, the backend being Keras' own ("tensorflow" or "jax": the same names as ours)."""
    return Path(run_dir) / CHECKPOINT.format(backend=keras.backend.backend())


def _state(model: keras.Model) -> list:
    return list(model.variables) + list(model.optimizer.variables)


def save(run_dir: Path, model: keras.Model, epoch: int) -> None:
    variables = _state(model)
    arrays = {f"v{i}": keras.ops.convert_to_numpy(v) for i, v in enumerate(variables)}
    buffer = io.BytesIO()
    np.savez(buffer, epoch=epoch, paths=np.array([v.path for v in variables]), **arrays)
    atomic_write_bytes(checkpoint_path(run_dir), buffer.getvalue())


def restore(run_dir: Path, model: keras.Model) -> int:
    """Load the checkpoint into the compiled model and its optimizer; the epoch it was taken
    after (0: none). A checkpoint of another model fails loudly instead of half-loading."""
    path = checkpoint_path(run_dir)
    if not path.exists():
        return 0
    model.optimizer.build(model.trainable_variables)
    variables = _state(model)
    with np.load(path, allow_pickle=False) as data:
        if list(data["paths"]) != [v.path for v in variables]:
            raise ValueError(f"{path} holds the state of another model or optimizer")
        values = [data[f"v{i}"] for i in range(len(variables))]
        epoch = int(data["epoch"])
    for variable, value in zip(variables, values):
        variable.assign(value)
    return epoch
