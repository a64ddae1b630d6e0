"""The whitening filters of the custom CNN's first layer (airbench's stem, in both designs),
computed once in numpy from the training images, so both backends start from the very same tensor.

The covariance of the images' k×k patches (after the usual per-channel normalisation) has
eigenvectors v_i and eigenvalues λ_i; the filters v_i / √(λ_i + ε) map a patch to coordinates
in which the patches are uncorrelated with unit variance, and their negatives are kept too (so
the ReLU or GELU after the layer passes both signs): 2·3·k² filters. The layer is frozen; its bias trains.
"""

from __future__ import annotations

import numpy as np

WHITEN_IMAGES = 5000  # the first training images of the run's split (airbench's choice)
WHITEN_EPS = 5e-4


def patches(images: np.ndarray, kernel: int) -> np.ndarray:
    """Every k×k patch (stride 1, no padding) of NHWC images, as rows ordered (channel, row,
    column), PyTorch's (out, in, kh, kw) kernel layout once reshaped."""
    windows = np.lib.stride_tricks.sliding_window_view(images, (kernel, kernel), axis=(1, 2))  # N,H',W',C,k,k
    return windows.reshape(-1, images.shape[-1] * kernel * kernel)


def whitening_filters(images: np.ndarray, mean, std, kernel: int = 2, eps: float = WHITEN_EPS) -> np.ndarray:
    """(2·C·k², C, k, k) float32 filters from uint8 NHWC images normalised with (mean, std), in
    float64 so that they do not depend on the order of a float32 sum."""
    x = (images[:WHITEN_IMAGES].astype(np.float64) - np.asarray(mean)) / np.asarray(std)
    rows = patches(x, kernel)
    covariance = rows.T @ rows / len(rows)
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)     # ascending
    order = np.argsort(eigenvalues)[::-1]                      # the largest variance first
    filters = (eigenvectors[:, order] / np.sqrt(eigenvalues[order] + eps)).T
    filters = filters.reshape(-1, images.shape[-1], kernel, kernel)
    return np.concatenate([filters, -filters]).astype(np.float32)
