"""Test-time augmentation: a validation image's logits averaged over mirrored and shifted copies
of it, as airbench evaluates (Jordan 2024, "94% on CIFAR-10 in 3.29 seconds on a single GPU").

    none              the image itself
    mirror            the image and its mirror image, ½ each
    mirror+translate  ½ of "mirror", and ½ of "mirror" of each of two copies shifted by one pixel
                      (up-left and down-right, the border reflected), ¼ each: six views

The views are written once here, as crops of the image padded by one reflected pixel, so both
backends evaluate the very same ones (pytorch_impl/tta.py, tensorflow_impl/tta.py; `view` below
is the numpy reference their tests compare with). Reflection commutes with the per-channel
normalisation, so the backends take the views of the normalised batch the model reads.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TTA_MODES = ("none", "mirror", "mirror+translate")
SHIFT = 1  # pixels a translated view moves; the padded image is 2·SHIFT larger on each axis


@dataclass(frozen=True)
class View:
    dy: int          # row offset of the crop in the padded image: SHIFT is the image itself
    dx: int          # column offset
    mirror: bool     # mirrored left-right after the crop
    weight: float    # its share of the averaged logits

    @property
    def shifted(self) -> bool:
        return (self.dy, self.dx) != (SHIFT, SHIFT)


def _mirrored(dy: int, dx: int, weight: float) -> tuple[View, View]:
    return View(dy, dx, False, weight / 2), View(dy, dx, True, weight / 2)


VIEWS: dict[str, tuple[View, ...]] = {
    "none": (View(SHIFT, SHIFT, False, 1.0),),
    "mirror": _mirrored(SHIFT, SHIFT, 1.0),
    "mirror+translate": (*_mirrored(SHIFT, SHIFT, 0.5), *_mirrored(0, 0, 0.25), *_mirrored(2 * SHIFT, 2 * SHIFT, 0.25)),
}


def view(images: np.ndarray, v: View) -> np.ndarray:
    """The view of a batch of NHWC images (numpy; the reference of the backends' versions)."""
    _, h, w, _ = images.shape
    if v.shifted:
        padded = np.pad(images, ((0, 0), (SHIFT, SHIFT), (SHIFT, SHIFT), (0, 0)), mode="reflect")
        images = padded[:, v.dy:v.dy + h, v.dx:v.dx + w]
    return images[:, :, ::-1] if v.mirror else images
