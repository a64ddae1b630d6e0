"""Feeding PyTorch: the shared plan's uint8 batches → normalised float32 NCHW tensors.

Augmentation happened in shared.batch_plan at 32×32; here the batch changes type, layout
(channels-last memory, which oneDNN's CPU convolutions prefer), size (bilinear, for the 224×224
imagenet variants; tensorflow_impl.data resizes identically) and scale."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from shared.run import CIFAR10_MEAN, CIFAR10_STD


def to_batch(images: np.ndarray, device: torch.device | str = "cpu", size: int = 32,
             mean=CIFAR10_MEAN, std=CIFAR10_STD) -> torch.Tensor:
    """(B, 32, 32, 3) uint8 → (B, 3, size, size) float32, normalised with the per-channel (mean,
    std) in pixel units, channels-last in memory."""
    # np.require copies read-only (memory-mapped) slices: torch.from_numpy needs writable memory.
    x = torch.from_numpy(np.require(images, requirements=("C", "W"))).to(device).permute(0, 3, 1, 2).float()
    if x.shape[-1] != size:
        # Half-pixel centres and no antialiasing: tf.image.resize(method="bilinear") exactly.
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=False)
    x = (x - torch.tensor(mean, device=device).view(1, 3, 1, 1)) / torch.tensor(std, device=device).view(1, 3, 1, 1)
    return x.contiguous(memory_format=torch.channels_last)


def to_labels(labels: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    return torch.from_numpy(np.asarray(labels, dtype=np.int64)).to(device)
