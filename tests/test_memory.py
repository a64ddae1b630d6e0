"""Memory is bounded by design (issue 19): feature extraction for the linear probe at 224×224, and
the step-0 loss on the first planned batch, hold one evaluation batch's activations at a time,
whatever the number of images, in both backends.

Each measurement is its own process (peak RSS is per process and never goes down): import the
backend, build MobileNetV2's imagenet variant with random weights (no weights file), note the
peak RSS (the baseline), extract the features of N random 32×32 images (resized to 224 by the
pipeline, as in a probe run), note the peak again.

Measured on a 2-core AMD EPYC Zen 4 (TF 2.21), peak over the baseline, MB, three runs each:

    images       100            400
    tensorflow   381-390        393-398      (baseline ~660: import ~630, model ~30)
    torch        359-412        331-375      (baseline ~910, with torchvision)

From 100 to 400 images the peak moved by -51..+13 MB: allocator noise (PyTorch's peak even
fell); the extra 300 features are 1.5 MB. Anything that held the images at 224 (600 KB each as
float32 input, MBs each with activations) adds 176 MB to GBs for the extra 300 (a tf.data
.cache() of the resized batches added 287 MB): the allowance below is sized to catch that.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BACKENDS = ("torch", "tensorflow")
COUNTS = (100, 400)
# Peak growth allowed from COUNTS[0] to COUNTS[1] images on top of the extra features' bytes:
# the noise seen was -51..+13 MB; holding the extra images at 224×224 takes at least 176 MB
# (300 × 224·224·3 float32).
GROWTH_ALLOWANCE_MB = 96
# Keras' extraction peak over its baseline vs PyTorch's: within RATIO of it, or under
# ABSOLUTE_MB, whichever is larger (the acceptance's rule for whole runs, applied to the part
# above each framework's own start-up), each backend's larger figure of the two counts:
# measured 393-398 MB for Keras, 359-412 for PyTorch. A Keras model called eagerly on each
# batch of 25 at 224 instead of predict peaked 2,140 MB over the baseline (a functional model's
# eager call holds every layer's output until it returns): both rules catch that.
RATIO = 1.5
ABSOLUTE_MB = 512

SCRIPT = r"""
import json, sys
backend, what, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
import numpy as np
from shared.config import resolve
from shared.metrics import peak_host_mb
from shared.run import Split
cfg = resolve("mobilenet", mode="linear-probe", device="cpu")
x = np.random.default_rng(0).integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
split = Split(x, np.arange(n) % 10, x[:10], np.arange(10), "test")  # initial_loss: the first batch of 256
if backend == "tensorflow":
    import tensorflow_impl  # its environment before TensorFlow is imported
    import keras
    from tensorflow_impl.device import make_deterministic, resolve_device
    from tensorflow_impl.models import build_model, freeze_backbone
    from tensorflow_impl.probe import extract, split_head
    make_deterministic(resolve_device("cpu"))
    keras.utils.set_random_seed(0)
    model = build_model("mobilenet", variant="imagenet", image_size=cfg.image_size)
    freeze_backbone(model, "mobilenet")
    backbone, _ = split_head(model, "mobilenet")
    baseline = peak_host_mb()
    if what == "initial_loss":
        from tensorflow_impl.optim import make_loss
        from tensorflow_impl.train import initial_loss
        loss = initial_loss(model, make_loss(cfg), split, cfg)
    else:
        features, _ = extract(backbone, x, split.y_train, cfg)
else:
    import torch
    from pytorch_impl.device import make_deterministic
    from pytorch_impl.models import build_model, freeze_backbone
    from pytorch_impl.probe import extract, split_head
    device = torch.device("cpu")
    make_deterministic(device)
    torch.manual_seed(0)
    model = build_model("mobilenet", variant="imagenet", image_size=cfg.image_size)
    freeze_backbone(model, "mobilenet")
    backbone, _ = split_head(model, "mobilenet")
    baseline = peak_host_mb()
    if what == "initial_loss":
        from pytorch_impl.optim import make_loss
        from pytorch_impl.train import initial_loss
        loss = initial_loss(model, make_loss(cfg), split, cfg, device)
    else:
        features, _ = extract(backbone, x, cfg, device)
if what == "initial_loss":
    assert np.isfinite(loss), loss
    print(json.dumps(dict(baseline_mb=baseline, peak_mb=peak_host_mb())))
else:
    assert features.shape == (n, 1280), features.shape
    print(json.dumps(dict(baseline_mb=baseline, peak_mb=peak_host_mb(), feature_mb=features.nbytes / 2**20)))
"""

PACKAGE = {"torch": "torch", "tensorflow": "tensorflow"}


def _measure(backend: str, n: int, what: str = "extract") -> dict:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    proc = subprocess.run([sys.executable, "-c", SCRIPT, backend, what, str(n)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


# One worker for the whole module under pytest-xdist (make test), so the peaks below are measured once.
pytestmark = pytest.mark.xdist_group("memory")


@pytest.fixture(scope="module")
def peaks() -> dict:
    """{backend: {n: measurement}}, for the backends whose framework is installed."""
    return {backend: {n: _measure(backend, n) for n in COUNTS}
            for backend in BACKENDS if importlib.util.find_spec(PACKAGE[backend]) is not None}


@pytest.mark.parametrize("backend", BACKENDS)
def test_extraction_peak_does_not_grow_with_images(peaks, backend):
    if backend not in peaks:
        pytest.skip(f"{PACKAGE[backend]} is not installed")
    few, many = (peaks[backend][n] for n in COUNTS)
    allowed = many["feature_mb"] - few["feature_mb"] + GROWTH_ALLOWANCE_MB
    growth = many["peak_mb"] - few["peak_mb"]
    assert growth <= allowed, (
        f"{backend}: extraction peak {few['peak_mb']:.0f} MB for {COUNTS[0]} images, {many['peak_mb']:.0f} MB "
        f"for {COUNTS[1]} (+{growth:.0f} MB, allowed {allowed:.0f}): memory grows with the number of images")


def test_keras_extraction_peak_is_comparable_to_pytorch(peaks):
    if len(peaks) < 2:
        pytest.skip("needs both frameworks")
    over = {b: max(m["peak_mb"] - m["baseline_mb"] for m in peaks[b].values()) for b in BACKENDS}
    bound = max(RATIO * over["torch"], ABSOLUTE_MB)
    assert over["tensorflow"] <= bound, (
        f"Keras' extraction peaks {over['tensorflow']:.0f} MB over its baseline, PyTorch's "
        f"{over['torch']:.0f} MB: more than {RATIO}× and more than {ABSOLUTE_MB} MB")


def test_the_step0_loss_at_224_is_bounded_like_the_extraction(peaks):
    """initial_loss runs the first planned batch (256 images at 224×224 for the probe) in
    evaluation-sized chunks, compiled in Keras: measured here (AMD EPYC Zen 4) 2,250 MB over the
    baseline for ONE eager Keras call on 25 images, and 23 GB for the whole batch of 256 at once
    (the issue's report), so the extraction's rule applies to it too."""
    if len(peaks) < 2:
        pytest.skip("needs both frameworks")
    over = {b: _measure(b, 256, "initial_loss") for b in BACKENDS}
    over = {b: m["peak_mb"] - m["baseline_mb"] for b, m in over.items()}
    bound = max(RATIO * over["torch"], ABSOLUTE_MB)
    assert over["tensorflow"] <= bound, (
        f"Keras' step-0 loss peaks {over['tensorflow']:.0f} MB over its baseline, PyTorch's "
        f"{over['torch']:.0f} MB: more than {RATIO}× and more than {ABSOLUTE_MB} MB")
