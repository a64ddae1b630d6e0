"""Test-time augmentation in PyTorch: shared/tta.py's views of an NCHW batch, and the model's
logits averaged over them (tensorflow_impl/tta.py is the Keras twin)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from shared.tta import SHIFT, VIEWS, View


def view(x: torch.Tensor, v: View) -> torch.Tensor:
    """shared.tta.view of an (N, C, H, W) batch."""
    h, w = x.shape[-2:]
    if v.shifted:
        x = F.pad(x, (SHIFT, SHIFT, SHIFT, SHIFT), mode="reflect")[..., v.dy:v.dy + h, v.dx:v.dx + w]
    return x.flip(-1) if v.mirror else x


def tta_logits(net, x: torch.Tensor, mode: str) -> torch.Tensor:
    """The weighted mean of the net's float32 logits over the mode's views."""
    return sum(v.weight * net(view(x, v)).float() for v in VIEWS[mode])
