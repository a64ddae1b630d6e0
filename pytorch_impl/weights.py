"""PyTorch ⇄ framework-neutral numpy weights (keyed by state_dict names)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


def to_numpy(model: nn.Module) -> dict[str, np.ndarray]:
    return {k: v.detach().cpu().numpy().copy() for k, v in model.state_dict().items()}


def load_numpy(model: nn.Module, arrays: dict[str, np.ndarray]) -> None:
    """Strict: every key must match, so a wrong file fails loudly instead of half-loading."""
    state = {k: torch.from_numpy(np.asarray(v)) for k, v in arrays.items()}
    model.load_state_dict(state, strict=True)
