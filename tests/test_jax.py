"""Keras on JAX as a backend of its own: --backend's choices, the numpy input path (the very batches
TensorFlow's tf.data path and PyTorch's CPU path make), and a process that keeps TensorFlow out.
Training, records, resume and determinism on JAX: tests/test_resume.py; the models, optimizers
and TTA under the parity contract: `make test`'s second pass (KERAS_BACKEND=jax)."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

import tensorflow_impl  # noqa: F401  (TensorFlow environment first)
from pytorch_impl.data import to_batch as torch_to_batch
from shared.backends import BACKENDS, parse_backends
from shared.config import resolve
from shared.run import Split
from tensorflow_impl import data as tf_data
from tensorflow_impl.on_jax import data as jax_data

from conftest import ROOT, compare


@pytest.mark.parametrize("text, backends", [
    ("jax", ["jax"]),
    ("both", ["torch", "tensorflow"]),
    ("all", list(BACKENDS)),          # every one is installed here
    ("jax,torch", ["torch", "jax"]),  # always in the tables' order
    ("tensorflow, jax", ["tensorflow", "jax"]),
])
def test_backend_choices(text, backends):
    assert parse_backends(text) == backends


@pytest.mark.parametrize("args, message", [
    (["--backend", "mxnet"], "unknown backend 'mxnet'; choose from torch, tensorflow, jax, a comma list of them, both or all"),
    (["--backend", "jax,jax"], "'jax,jax' names a backend twice"),
    (["--backend", "jax", "--devices", "2"], "--devices 2: Keras on JAX trains on one device here"),
])
def test_bad_backend_choices_exit_2_in_one_line(tmp_path, args, message):
    result = compare("--model", "resnet18", "--epochs", "1", "--subset", "256", "--out", str(tmp_path), *args)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr


def tiny_split(n=96, seed=0) -> Split:
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
    y = rng.integers(0, 10, n)
    return Split(x, y, x[:40], y[:40], "test")


@pytest.mark.parametrize("variant", ["cifar", "airbench"])
def test_jax_batches_are_tensorflows(variant):
    """Every planned batch of two epochs, epoch after epoch, and the evaluation batches: the numpy
    path for JAX gives TensorFlow's tf.data batches (same images, crops, flips, normalisation, labels)."""
    cfg = resolve("cnn", variant=variant, epochs=2, batch_size=32)
    split = tiny_split()
    tf_batches = list(tf_data.training_batches(split, cfg).take(6))
    jax_batches = jax_data.training_batches(split, cfg)
    assert len(jax_batches) == len(tf_batches) == 6  # 96 // 32 steps × 2 epochs
    for (tf_x, tf_y), (jax_x, jax_y) in zip(tf_batches, jax_batches):
        np.testing.assert_array_equal(jax_x, tf_x.numpy())
        np.testing.assert_array_equal(jax_y, tf_y.numpy())
    resumed = jax_data.training_batches(split, cfg, first_epoch=2)  # a resumed run starts at epoch 2's plan
    np.testing.assert_array_equal(resumed[0][0], tf_batches[3][0].numpy())
    small = dataclasses.replace(cfg, eval_batch_size=16)
    tf_eval = list(tf_data.eval_batches(split.x_val, split.y_val, small))
    jax_eval = list(jax_data.eval_batches(split.x_val, split.y_val, small))
    assert [len(x) for x, _ in jax_eval] == [16, 16, 8]  # in order, the last one smaller
    for (tf_x, tf_y), (jax_x, jax_y) in zip(tf_eval, jax_eval, strict=True):
        np.testing.assert_array_equal(jax_x, tf_x.numpy())
        np.testing.assert_array_equal(jax_y, tf_y.numpy())


def test_jax_feature_batches_are_tensorflows():
    """The linear probe's cached-feature batches, planned (training) and in order (validation):
    the same rows and one-hot labels from both input paths."""
    rng = np.random.default_rng(0)
    features, labels = rng.standard_normal((20, 6)).astype(np.float32), rng.integers(0, 10, 20)
    for order, sizes in ((rng.permutation(20)[:16], [8, 8]), (np.arange(20), [8, 8, 4])):
        tf_batches = list(tf_data.feature_batches(features, labels, order, 8, 10))
        jax_batches = list(jax_data.feature_batches(features, labels, order, 8, 10))
        assert [len(x) for x, _ in jax_batches] == sizes
        for (tf_x, tf_y), (jax_x, jax_y) in zip(tf_batches, jax_batches, strict=True):
            np.testing.assert_array_equal(jax_x, tf_x.numpy())
            np.testing.assert_array_equal(jax_y, tf_y.numpy())
        np.testing.assert_array_equal(np.concatenate([x for x, _ in jax_batches]), features[order])


def test_jax_resize_to_224_is_pytorchs():
    """The imagenet variants' bilinear upsampling (half-pixel centres, no antialiasing) as
    F.interpolate does it, which the parity tests hold TensorFlow's to."""
    images = tiny_split(4).x_train[:4]
    want = torch_to_batch(images, "cpu", 224).permute(0, 2, 3, 1).numpy()
    np.testing.assert_allclose(jax_data.to_batch(images, 224), want, atol=1e-5)


def test_the_jax_process_keeps_tensorflow_out():
    """What the JAX backend process imports, and what Keras does in it (seeding, building,
    predicting, fitting, evaluating), never loads TensorFlow, although it is installed here."""
    script = """
import os, sys
from tensorflow_impl.on_jax import keep_tensorflow_out
keep_tensorflow_out()
os.environ["KERAS_BACKEND"] = "jax"
import keras, numpy as np
import tensorflow_impl.train, tensorflow_impl.bench
from tensorflow_impl.models import build_model
keras.utils.set_random_seed(0)
model = build_model("cnn")
model.compile(optimizer="sgd", loss="categorical_crossentropy")
x, y = np.zeros((8, 32, 32, 3), np.float32), np.eye(10, dtype=np.float32)[np.arange(8)]
model.fit(x, y, batch_size=4, epochs=1, verbose=0)
model.evaluate(x, y, verbose=0)
print(keras.backend.backend(), "tensorflow" in sys.modules)
"""
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["jax", "False"]
