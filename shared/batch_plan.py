"""The batch plan: which images, in which order, with which augmentation draws.

Both backends train on exactly the batches this module builds, so "same data, same order, same
augmentation" holds by construction: the plan is drawn here once per (seed, epoch) with numpy, and
the uint8 pixels of each augmented batch are produced here too. The backends only convert the
batch to their tensor type and normalise it (see pytorch_impl/data.py, tensorflow_impl/data.py).

Augmentation (airbench/ResNet style): a random crop of the image padded by 4 pixels of zeros (or
by `pad` pixels, zeros or the border reflected: airbench's "translate 2" is pad 2, reflect), and
a horizontal flip, random per image and epoch or alternating (airbench: epoch 1 mirrors a random
half of the images, every later epoch the other half of the one before, so each image is seen
both ways in every pair of epochs).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PAD = 4
PADDING_MODES = ("zeros", "reflect")


@dataclass(frozen=True)
class EpochPlan:
    order: np.ndarray    # (n,) int64 permutation of the training indices
    crop_dy: np.ndarray  # (n,) int in [0, 2*PAD]: row offset into the padded image
    crop_dx: np.ndarray  # (n,) int in [0, 2*PAD]
    flip: np.ndarray     # (n,) bool: mirror left-right
    pad: int = PAD       # the crop's padding on each side, and its mode
    padding_mode: str = "zeros"

    def batch_slices(self, batch_size: int, drop_last: bool = True) -> list[slice]:
        """Training drops the last partial batch so every step has the same shape and weight."""
        n = len(self.order)
        stop = n - n % batch_size if drop_last else n
        return [slice(i, min(i + batch_size, n)) for i in range(0, stop, batch_size)]


def epoch_plan(seed: int, epoch: int, n: int, *, crop: bool = True, flip: bool = True, pad: int = PAD,
               padding_mode: str = "zeros", alternating_flip: bool = False) -> EpochPlan:
    """Draw epoch `epoch`'s plan (epochs count from 1). Independent of earlier epochs, so a resumed
    run gets the same one: the alternating flip's first half is drawn from the seed alone."""
    if padding_mode not in PADDING_MODES:
        raise ValueError(f"unknown padding mode {padding_mode!r}; known: {', '.join(PADDING_MODES)}")
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(n)
    if crop:
        dy, dx = rng.integers(0, 2 * pad + 1, size=(2, n))
    else:
        dy = dx = np.full(n, pad)
    flips = rng.random(n) < 0.5
    if alternating_flip:  # per image, then in the epoch's order; epoch 0 is never trained, so its stream is free
        flips = ((np.random.default_rng([seed, 0]).random(n) < 0.5) ^ (epoch % 2 == 0))[order]
    return EpochPlan(order, dy, dx, flips if flip else np.zeros(n, dtype=bool), pad, padding_mode)


def steps_per_epoch(n: int, batch_size: int) -> int:
    return n // batch_size


def augment(images: np.ndarray, dy: np.ndarray, dx: np.ndarray, flip: np.ndarray, pad: int = PAD,
            padding_mode: str = "zeros") -> np.ndarray:
    """Crop (from the images padded by `pad` pixels of zeros or reflection) and flip a batch of
    uint8 NHWC images.

    One slice copy per image: numpy's fancy indexing over (image, row, column) gathers 3-byte
    pixels one at a time and took about 3× as long (2.9 against 1.0 ms for 128 images), time that
    PyTorch's CPU input pipeline spends between steps."""
    b, h, w, _ = images.shape
    padded = np.pad(images, ((0, 0), (pad, pad), (pad, pad), (0, 0)),
                    mode="reflect" if padding_mode == "reflect" else "constant")
    out = np.empty_like(images)
    for i, (top, left, mirror) in enumerate(zip(dy.tolist(), dx.tolist(), flip.tolist())):
        crop = padded[i, top:top + h, left:left + w]
        out[i] = crop[:, ::-1] if mirror else crop  # a flip reads the columns backwards
    return out


def train_batch(x: np.ndarray, y: np.ndarray, plan: EpochPlan, where: slice) -> tuple[np.ndarray, np.ndarray]:
    """The augmented uint8 images and labels of one planned training batch."""
    idx = plan.order[where]
    images = augment(x[idx], plan.crop_dy[where], plan.crop_dx[where], plan.flip[where], plan.pad, plan.padding_mode)
    return images, np.asarray(y[idx], dtype=np.int64)


def eval_slices(n: int, batch_size: int) -> list[slice]:
    """The slices of n images in order, in batches of batch_size (the last one may be smaller)."""
    return [slice(i, min(i + batch_size, n)) for i in range(0, n, batch_size)]
