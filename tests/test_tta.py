"""Test-time augmentation: each backend's views are shared/tta.py's (numpy reference), the averaged
logits of the backends agree within the parity tolerance at the same weights, and Keras' evaluation
pass weighs them as the plain one does. Keras code only (keras.ops): `make test` runs it on
TensorFlow and again on JAX."""

import numpy as np
import pytest
import torch

import tensorflow_impl  # noqa: F401  (TensorFlow environment first)
import keras

from pytorch_impl import models as torch_models, weights as torch_weights
from pytorch_impl.tta import tta_logits as torch_tta_logits, view as torch_view
from shared.tta import SHIFT, TTA_MODES, VIEWS, View, view
from tensorflow_impl import models as keras_models, weights as keras_weights
from tensorflow_impl.optim import make_loss
from tensorflow_impl.tta import make_tta_evaluator, tta_logits as keras_tta_logits, view as keras_view
from shared.config import resolve


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
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(keras_view(keras.ops.convert_to_tensor(x), v)), want)


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
    got = keras.ops.convert_to_numpy(keras_tta_logits(keras_model, keras.ops.convert_to_tensor(x), mode))
    assert np.abs(got - want).max() < 1e-4
    assert np.abs(want - plain).max() > 1e-5  # the views really changed the logits (float noise: ~1e-7)


def test_evaluation_pass_weighs_every_image_alike():
    """make_tta_evaluator over batches of 4 and 2 images: the loss and accuracy of all 6 at once."""
    torch.manual_seed(0)
    model = keras_models.build_model("cnn")
    keras_weights.load_torch_state(model, torch_weights.to_torch_state(torch_models.build_model("cnn")))
    x, labels = images(6, 32, seed=1), np.array([0, 1, 2, 3, 4, 5])
    y = np.eye(10, dtype=np.float32)[labels]
    loss = make_loss(resolve("cnn"))
    logits = keras.ops.convert_to_numpy(keras_tta_logits(model, keras.ops.convert_to_tensor(x), "mirror+translate"))
    want_loss = float(keras.ops.convert_to_numpy(loss(y, logits)))
    want_accuracy = float(np.mean(logits.argmax(1) == labels))
    evaluate = make_tta_evaluator(model, "mirror+translate", loss)
    got_loss, got_accuracy = evaluate(BatchesOf(x, y, [slice(0, 4), slice(4, 6)]))
    assert got_loss == pytest.approx(want_loss, rel=1e-5) and got_accuracy == pytest.approx(want_accuracy)


class BatchesOf(keras.utils.PyDataset):
    """Given slices of (x, y), as a data source both Keras backends read."""

    def __init__(self, x, y, slices):
        super().__init__()
        self.x, self.y, self.slices = x, y, slices

    def __len__(self):
        return len(self.slices)

    def __getitem__(self, i):
        return self.x[self.slices[i]], self.y[self.slices[i]]
