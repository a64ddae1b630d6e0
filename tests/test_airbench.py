"""The CNN's airbench variant (shared/architectures.py AIRBENCH) under the parity contract: same
network and frozen tensors in both backends, same eval logits, same training steps with its
recipe's optimizer rules (decay on every tensor, BatchNorm biases at 64× the rate); and the
whitening filters really whiten."""

import numpy as np
import pytest
import torch

import tensorflow_impl  # noqa: F401  (TensorFlow environment first)
import keras

from pytorch_impl import models as torch_models, weights as torch_weights
from conftest import twin_training_steps
from pytorch_impl.optim import make_optimizer as torch_optimizer, set_learning_rate
from shared.config import resolve
from shared.run import CIFAR10_MEAN, CIFAR10_STD
from shared.whitening import patches, whitening_filters
from tensorflow_impl import models as keras_models, weights as keras_weights

RECIPE = resolve("cnn", variant="airbench")


def images(n, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)


def twin_models(seed=0):
    """PyTorch's model, whitened from random images and with random BatchNorm statistics and
    biases, ported to Keras."""
    torch.manual_seed(seed)
    torch_model = torch_models.build_model("cnn", variant="airbench")
    with torch.no_grad():
        torch_model.whiten.weight.copy_(torch.from_numpy(whitening_filters(images(64), CIFAR10_MEAN, CIFAR10_STD)))
        for module in torch_model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
                module.bias.uniform_(-0.2, 0.2)
    keras_model = keras_models.build_model("cnn", variant="airbench")
    keras_weights.load_torch_state(keras_model, torch_weights.to_torch_state(torch_model))
    return torch_model, keras_model


def normalised(n, seed=0, dtype="float32"):
    x = (images(n, seed).astype(dtype) - np.asarray(CIFAR10_MEAN, dtype)) / np.asarray(CIFAR10_STD, dtype)
    return x, np.random.default_rng(seed).integers(0, 10, n)


def test_the_recipe_is_airbench94s_in_our_conventions():
    assert (RECIPE.batch_size, RECIPE.epochs, RECIPE.momentum, RECIPE.label_smoothing) == (1024, 10, 0.85, 0.2)
    assert RECIPE.lr == pytest.approx(1.5, rel=1e-3) and RECIPE.weight_decay == pytest.approx(0.0153 / 11.5)
    assert (RECIPE.decay_all, RECIPE.norm_bias_lr_scale, RECIPE.tta) == (True, 64.0, "mirror+translate")
    assert (RECIPE.crop_padding, RECIPE.padding_mode, RECIPE.alternating_flip) == (2, "reflect", True)
    cifar = resolve("cnn")  # the other design keeps its own recipe
    assert (cifar.batch_size, cifar.decay_all, cifar.norm_bias_lr_scale, cifar.tta) == (256, False, 1.0, "none")


def test_both_backends_build_the_same_network_with_the_same_frozen_tensors():
    torch_model, keras_model = twin_models()
    assert torch_models.count_params(torch_model) == keras_models.count_params(keras_model) == (1_972_792, 1_971_352)
    frozen_torch = {n for n, p in torch_model.named_parameters() if not p.requires_grad}
    assert frozen_torch == {"whiten.weight"} | {f"features.{i}.bn{j}.weight" for i in range(3) for j in (1, 2)}
    trainable = {id(v) for v in keras_model.trainable_weights}
    frozen_keras = {v.path for v in keras_model.weights if id(v) not in trainable and "moving" not in v.path}
    assert frozen_keras == {"whiten/kernel"} | {f"features.{i}.bn{j}/gamma" for i in range(3) for j in (1, 2)}


def test_convolutions_start_as_partial_identities():
    torch_model = torch_models.build_model("cnn", variant="airbench")
    conv = torch_model.features[1].conv1  # 64 → 256 channels: the first 64 filters pass their channel on
    w = conv.weight.detach()
    assert torch.equal(w[:64, :, 1, 1], torch.eye(64)) and w[:64].abs().sum() == 64
    assert not torch.equal(w[64:], torch.zeros_like(w[64:]))  # the rest keeps its random start


def test_eval_logits_agree():
    torch_model, keras_model = twin_models()
    x, _ = normalised(4)
    with torch.no_grad():
        want = torch_model.eval()(torch.from_numpy(x).permute(0, 3, 1, 2)).numpy()
    assert np.abs(keras.ops.convert_to_numpy(keras_model(x, training=False)) - want).max() < 1e-4


def training_steps(dtype, lrs):
    """The recipe's optimizer and loss on twin models, same batches and learning rates: the
    losses of both and their final states."""
    torch_model, keras_model = twin_models(seed=1)
    return twin_training_steps(torch_model, keras_model, RECIPE, dtype, lrs,
                               lambda step: normalised(8, seed=step, dtype=dtype))


def test_first_training_step_loss_matches_in_float32():
    [(torch_value, keras_value)], _, _ = training_steps("float32", [0.5])
    assert abs(keras_value - torch_value) <= 1e-5 * abs(torch_value)


def test_sgd_steps_with_the_recipes_rules_match(float64):
    """Two steps at two learning rates with decay on every tensor and the BatchNorm biases at 64×
    the rate (1/64 of the L2): same losses and weights, and the frozen tensors did not move."""
    losses, want, got = training_steps("float64", [1.5, 0.7])
    for torch_value, keras_value in losses:
        assert abs(keras_value - torch_value) <= 1e-5 * abs(torch_value)
    for key, value in got.items():
        np.testing.assert_allclose(value, want[key], atol=1e-5, rtol=0, err_msg=key)
    start = torch_weights.to_torch_state(twin_models(seed=1)[0])
    np.testing.assert_array_equal(want["whiten.weight"], start["whiten.weight"])
    np.testing.assert_array_equal(want["features.2.bn2.weight"], np.ones(256))
    assert np.abs(want["features.2.bn2.bias"] - start["features.2.bn2.bias"]).max() > 1e-3


def test_the_norm_biases_train_at_64_times_the_rate_with_a_64th_of_the_decay():
    torch_model = torch_models.build_model("cnn", variant="airbench")
    optimizer = torch_optimizer(torch_model, RECIPE)
    set_learning_rate(optimizer, 1.0)
    groups = {(g["lr"], g["weight_decay"]): len(g["params"]) for g in optimizer.param_groups}
    assert groups == {(1.0, RECIPE.weight_decay): 8, (64.0, RECIPE.weight_decay / 64): 6}


def test_whitening_filters_decorrelate_the_patches():
    x = images(200, seed=3)
    filters = whitening_filters(x, CIFAR10_MEAN, CIFAR10_STD)
    assert filters.shape == (24, 3, 2, 2)
    np.testing.assert_array_equal(filters[12:], -filters[:12])
    rows = patches((x.astype(np.float64) - CIFAR10_MEAN) / CIFAR10_STD, 2)
    projected = rows @ filters[:12].reshape(12, -1).T
    # The second moments (uncentred, as the filters are computed): unit and uncorrelated, up to
    # the ε added to each eigenvalue (tiny against these).
    np.testing.assert_allclose(projected.T @ projected / len(projected), np.eye(12), atol=2e-2)
