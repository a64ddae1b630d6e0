"""Test-time augmentation: each backend's views are shared/tta.py's (numpy reference), and the
averaged logits of the two backends agree within the parity tolerance at the same weights."""

import numpy as np
import pytest
import torch

import tensorflow_impl  # noqa: F401  (TensorFlow environment first)
import tensorflow as tf

from pytorch_impl import models as torch_models, weights as torch_weights
from pytorch_impl.tta import tta_logits as torch_tta_logits, view as torch_view
from shared.tta import SHIFT, TTA_MODES, VIEWS, View, view
from tensorflow_impl import models as keras_models, weights as keras_weights
from tensorflow_impl.tta import tta_logits as keras_tta_logits, view as keras_view


def images(n=3, size=5, seed=0):
    return np.random.default_rng(seed).standard_normal((n, size, size, 3)).astype(np.float32)


def test_views_are_weighted_to_one_and_the_first_is_the_image_itself():
    for mode in TTA_MODES:
        assert sum(v.weight for v in VIEWS[mode]) == pytest.approx(1.0)
        assert VIEWS[mode][0] == View(SHIFT, SHIFT, False, VIEWS[mode][0].weight)
    assert len(VIEWS["mirror+translate"]) == 6


def test_numpy_views_shift_by_one_pixel_with_the_border_reflected():
    x = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)
    up_left = view(x, View(0, 0, False, 1.0))[0, :, :, 0]
    # The crop starts one reflected row and column before the image: row -1 is row 1.
    np.testing.assert_array_equal(up_left[0], [5, 4, 5, 6])
    np.testing.assert_array_equal(up_left[1], [1, 0, 1, 2])
    down_right = view(x, View(2, 2, False, 1.0))[0, :, :, 0]
    # One row and column further: the last row is row 4, which reflects to row 2.
    np.testing.assert_array_equal(down_right[-1], [9, 10, 11, 10])
    np.testing.assert_array_equal(view(x, View(2, 2, True, 1.0))[0, -1, :, 0], [10, 11, 10, 9])
    np.testing.assert_array_equal(view(x, View(SHIFT, SHIFT, True, 1.0))[0, 0, :, 0], [3, 2, 1, 0])


@pytest.mark.parametrize("v", VIEWS["mirror+translate"])
def test_each_backend_takes_the_numpy_views(v):
    x = images()
    want = view(x, v)
    got_torch = torch_view(torch.from_numpy(x).permute(0, 3, 1, 2), v).permute(0, 2, 3, 1).numpy()
    np.testing.assert_array_equal(got_torch, want)
    np.testing.assert_array_equal(keras_view(tf.constant(x), v).numpy(), want)


@pytest.mark.parametrize("name", ["cnn", "resnet18"])
@pytest.mark.parametrize("mode", ["mirror", "mirror+translate"])
def test_averaged_logits_agree_across_backends(name, mode):
    torch.manual_seed(0)
    torch_model = torch_models.build_model(name).eval()
    keras_model = keras_models.build_model(name)
    keras_weights.load_torch_state(keras_model, torch_weights.to_torch_state(torch_model))
    x = images(4, 32)
    with torch.no_grad():
        want = torch_tta_logits(torch_model, torch.from_numpy(x).permute(0, 3, 1, 2), mode).numpy()
        plain = torch_model(torch.from_numpy(x).permute(0, 3, 1, 2)).numpy()
    got = keras_tta_logits(keras_model, tf.constant(x), mode).numpy()
    assert np.abs(got - want).max() < 1e-4
    assert np.abs(want - plain).max() > 1e-5  # the views really changed the logits (float noise: ~1e-7)
