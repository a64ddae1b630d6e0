"""The linear probe's fast path, framework-free part: which images it uses and where the frozen
backbone's features are cached.

A linear probe trains only the head, so with un-augmented images every epoch sees the same
backbone outputs: each backend extracts them once (eval mode, the validation batch size), stores
them under $XDG_CACHE_HOME/cifar10-compare/features/, and trains the head on them for all
epochs. The key holds everything the features depend on — backend and framework version, model,
variant, the weights' file hash, resolution, normalisation, and which images — so a change of
any of them extracts anew, and a cached file is never shared between backends. (The dataset's
own hash needs no place in the key: shared.data accepts only the canonical CIFAR-10, verified by
the SHA-256 of every array.)
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import numpy as np

from shared.batch_plan import EpochPlan, epoch_plan
from shared.config import RunConfig
from shared.data import default_cache_dir
from shared.io import atomic_write_bytes


# Raised when what the same key would hold changes: 2 since PyTorch extracts under the run's
# autocast (before, its "bf16" features were fp32 ones).
EXTRACTION_VERSION = 2


def feature_key(cfg: RunConfig, *, backend: str, framework_version: str, weights: str, part: str) -> str:
    """`weights` is the initial-weights source without its head (the backbone's identity);
    `part` is "train" or "val"."""
    identity = dict(extraction=EXTRACTION_VERSION, backend=backend, framework=framework_version, model=cfg.model,
                    variant=cfg.variant, weights=weights, image_size=cfg.image_size, mode=cfg.mode, part=part,
                    subset=cfg.subset, val_split=cfg.val_split, precision=cfg.precision, device=cfg.device)
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:24]


def cache_path(key: str) -> Path:
    return default_cache_dir() / "features" / f"{key}.npy"


def load_features(key: str) -> np.ndarray | None:
    path = cache_path(key)
    if not path.exists():
        return None
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError):  # unreadable: extract again (and overwrite it atomically)
        return None


def save_features(key: str, features: np.ndarray) -> None:
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(features, dtype=np.float32))
    path = cache_path(key)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, buffer.getvalue())


def cached_or_extracted(cfg: RunConfig, extract, *, n: int, backend: str, framework_version: str,
                        init: str, part: str) -> tuple[np.ndarray, float | None]:
    """(features of the `part` images, extraction images/s — None when they came from the cache).
    `extract()` returns (features, images/s) and runs only on a cache miss."""
    key = feature_key(cfg, backend=backend, framework_version=framework_version,
                      weights=backbone_source(init), part=part)
    features = load_features(key)
    if features is not None and len(features) == n:
        print(f"[{backend}] {part} features from the cache ({features.shape[1]}-d)", flush=True)
        return features, None
    features, rate = extract()
    save_features(key, features)
    print(f"[{backend}] {part} features extracted: {n} images, {rate:.0f} img/s", flush=True)
    return features, rate


def probe_plan(cfg: RunConfig, epoch: int, n: int) -> EpochPlan:
    """The epoch's order, without crops or flips: the features stand for un-augmented images."""
    return epoch_plan(cfg.seed, epoch, n, crop=False, flip=False)


def backbone_source(init: str) -> str:
    """The initial-weights source minus its seeded head ("<weights>@sha256:...+head-seed0")."""
    return init.split("+head-seed", 1)[0]
