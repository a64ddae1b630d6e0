"""Feeding PyTorch: the shared plan's uint8 batches → normalised float32 NCHW tensors.

On the CPU, shared.batch_plan gathers and augments each batch in numpy, straight from the
memory-mapped uint8 set (no second copy of the data); here the batch changes type, layout
(channels-last memory, which oneDNN's CPU convolutions and cuDNN's tensor cores prefer), size
(bilinear, for the 224×224 imagenet variants; tensorflow_impl.data resizes identically) and scale.

On a GPU the uint8 set is uploaded once (ResidentImages, 184 MB) and the same plan is carried out
there by `augment`, the torch twin of shared.batch_plan.augment, as the fastest CIFAR-10 trainers
do: no host-to-device copy per step, only the plan's indices once per epoch.
"""

from __future__ import annotations

from typing import Callable, Iterator

import numpy as np
import torch
import torch.nn.functional as F

from shared.batch_plan import PAD, EpochPlan, train_batch
from shared.run import CIFAR10_MEAN, CIFAR10_STD


def normalize(images: torch.Tensor, size: int = 32, mean=CIFAR10_MEAN, std=CIFAR10_STD) -> torch.Tensor:
    """(B, 32, 32, 3) uint8 on any device → (B, 3, size, size) float32 there, normalised with the
    per-channel (mean, std) in pixel units, channels-last in memory."""
    x = images.permute(0, 3, 1, 2).float()
    if x.shape[-1] != size:
        # Half-pixel centres and no antialiasing: tf.image.resize(method="bilinear") exactly.
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=False)
    mean = torch.tensor(mean, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(std, device=x.device).view(1, 3, 1, 1)
    return ((x - mean) / std).contiguous(memory_format=torch.channels_last)


def to_batch(images: np.ndarray, device: torch.device | str = "cpu", size: int = 32,
             mean=CIFAR10_MEAN, std=CIFAR10_STD) -> torch.Tensor:
    """A numpy uint8 NHWC batch → normalize() on the device."""
    # np.require copies read-only (memory-mapped) slices: torch.from_numpy needs writable memory.
    return normalize(torch.from_numpy(np.require(images, requirements=("C", "W"))).to(device), size, mean, std)


def to_labels(labels: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    return torch.from_numpy(np.asarray(labels, dtype=np.int64)).to(device)


def augment(images: torch.Tensor, dy: torch.Tensor, dx: torch.Tensor, flip: torch.Tensor, pad: int = PAD,
            padding_mode: str = "zeros") -> torch.Tensor:
    """shared.batch_plan.augment in torch ops, on the images' device: pad (zeros or reflection),
    crop at (dy, dx), mirror. uint8 NHWC in, uint8 NHWC out, equal to the numpy version (tested)."""
    b, h, w, _ = images.shape
    if padding_mode == "reflect":  # F.pad reflects only the last dims of float tensors: index instead
        rows, cols = (_reflected_range(n, pad, images.device) for n in (h, w))
        padded = images[:, rows][:, :, cols]
    else:
        padded = F.pad(images, (0, 0, pad, pad, pad, pad))  # pads the last dims first: C, then W, then H
    rows = dy[:, None] + torch.arange(h, device=images.device)
    cols = dx[:, None] + torch.arange(w, device=images.device)
    cols = torch.where(flip[:, None], cols.flip(1), cols)
    return padded[torch.arange(b, device=images.device)[:, None, None], rows[:, :, None], cols[:, None, :]]


def _reflected_range(n: int, pad: int, device) -> torch.Tensor:
    """The indices -pad .. n-1+pad of an axis of n, reflected at its ends (numpy's "reflect")."""
    index = torch.arange(-pad, n + pad, device=device).abs()
    return torch.where(index > n - 1, 2 * (n - 1) - index, index)


class ResidentImages:
    """A uint8 NHWC image set and its labels, uploaded to the device once (the GPU path)."""

    def __init__(self, x: np.ndarray, y: np.ndarray, device: torch.device):
        self.images = torch.from_numpy(np.array(x, dtype=np.uint8)).to(device)
        self.labels = to_labels(y, device)
        self.device = device

    def planned(self, plan: EpochPlan) -> Callable[[slice], tuple[torch.Tensor, torch.Tensor]]:
        """A function from a batch slice to its augmented (uint8 images, labels), with the plan's
        draws uploaded once for the epoch."""
        order, dy, dx, flip = (torch.from_numpy(np.asarray(a)).to(self.device)
                               for a in (plan.order, plan.crop_dy, plan.crop_dx, plan.flip))

        def batch(where: slice):
            idx = order[where]
            return (augment(self.images[idx], dy[where], dx[where], flip[where], plan.pad, plan.padding_mode),
                    self.labels[idx])
        return batch


def training_batches(x: np.ndarray, y: np.ndarray, plan: EpochPlan, slices: list[slice], device: torch.device,
                     size: int, mean, std, resident: ResidentImages | None = None) -> Iterator:
    """An epoch's training batches, (normalised images, labels) on the device, in plan order:
    from the resident set when there is one, else gathered in numpy and copied over
    (tensorflow_impl.data.training_batches streams every epoch's as one tf.data pipeline)."""
    batch = resident.planned(plan) if resident is not None else None
    for where in slices:
        if batch is not None:
            images, labels = batch(where)
            yield normalize(images, size, mean, std), labels
        else:
            images, labels = train_batch(x, y, plan, where)
            yield to_batch(images, device, size, mean, std), to_labels(labels, device)


def eval_batches(x: np.ndarray, y: np.ndarray, slices: list[slice], device: torch.device, size: int,
                 mean, std, resident: ResidentImages | None = None) -> Iterator:
    """Evaluation batches in order, unaugmented, like training_batches."""
    for where in slices:
        if resident is not None:
            yield normalize(resident.images[where], size, mean, std), resident.labels[where]
        else:
            yield to_batch(x[where], device, size, mean, std), to_labels(y[where], device)
