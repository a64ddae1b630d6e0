"""PyTorch ⇄ framework-neutral numpy weights (keyed by state_dict names: shared/weights_io.py);
tensorflow_impl/weights.py is the Keras side, with the same two functions."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


def to_torch_state(model: nn.Module) -> dict[str, np.ndarray]:
    """The model's state_dict as numpy arrays."""
    return {k: v.detach().cpu().numpy().copy() for k, v in model.state_dict().items()}


def load_torch_state(model: nn.Module, arrays: dict[str, np.ndarray]) -> None:
    """Strict: every key must match, so a wrong file fails loudly instead of half-loading."""
    state = {k: torch.from_numpy(np.asarray(v)) for k, v in arrays.items()}
    model.load_state_dict(state, strict=True)
