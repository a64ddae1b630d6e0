"""`compare.py verify` can fail, and says where: classic porting bugs, injected one at a time into
the Keras side or the weight port with small monkeypatches, each give DIFFERENT RULES with the
right kind of tensor and the right name; the clean code gives SAME RULES. Small synthetic batches
in float64 (make test runs this module on Keras-on-TensorFlow and again on Keras-on-JAX); the
command itself, on real batches, at the end."""

from __future__ import annotations

import importlib
import json
import re
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pytest
import torch

import tensorflow_impl  # noqa: F401  (Keras' environment first)
import keras
from keras import ops

from conftest import compare
from crosscheck import rules
from pytorch_impl import models as torch_models
from shared.config import decays, resolve
from tensorflow_impl import models as keras_models, optim as keras_optim, weights as keras_weights
from tensorflow_impl.models import layers as keras_layers
from tensorflow_impl.optim import TorchAdamW, TorchSGD

keras_cnn = importlib.import_module("tensorflow_impl.models.cnn")  # the module (the package exports its builder)

# The learning rate changes at every step, relative to the recipe's peak: Keras' own SGD momentum
# and a shifted schedule differ from PyTorch's rules only where it changes.
LR_FACTORS = (0.5, 0.25, 0.4)
ADAMW = dict(optimizer="adamw", lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.05)
RECIPES = {"cnn": ("cnn", {}), "cnn-adamw": ("cnn", ADAMW), "resnet18": ("resnet18", {}),
           "alexnet": ("alexnet", {}), "airbench": ("cnn", dict(variant="airbench"))}


def check(recipe: str, steps: int = 3, batch: int = 6) -> rules.Verdict:
    """run_twins on the recipe's model and optimizer, on seeded random batches in float64."""
    model, overrides = RECIPES[recipe]
    cfg = resolve(model, **overrides)
    torch.manual_seed(0)
    torch_model = torch_models.build_model(model, variant=cfg.variant)
    rng = np.random.default_rng(0)
    data = [(rng.standard_normal((batch, 32, 32, 3)), rng.integers(0, 10, batch)) for _ in range(steps + 1)]
    with rules.keras_float64():
        keras_model = keras_models.build_model(model, variant=cfg.variant)
        return rules.run_twins(torch_model, keras_model, cfg, lambda step: data[step],
                               [f * cfg.lr for f in LR_FACTORS[:steps]], data[-1][0])


# --- the bugs: each a function of pytest's monkeypatch ------------------------------------------------

def on_every_built_model(monkeypatch, change: Callable[[keras.Model], None]) -> None:
    build = keras_models.build_model

    def built(*args, **kwargs):
        model = build(*args, **kwargs)
        change(model)
        return model
    monkeypatch.setattr(keras_models, "build_model", built)


def batchnorm_layers(model):
    return [layer for layer in model.layers if isinstance(layer, keras_layers.BatchNorm)]


def keras_batchnorm_momentum(monkeypatch):
    """PyTorch's momentum given to Keras as is: the weight of the new batch becomes the old value's."""
    on_every_built_model(monkeypatch, lambda m: [setattr(bn, "momentum", 1.0 - bn.momentum) for bn in batchnorm_layers(m)])


def keras_batchnorm_epsilon(monkeypatch):
    on_every_built_model(monkeypatch, lambda m: [setattr(bn, "epsilon", 1e-3) for bn in batchnorm_layers(m)])


def same_padding_at_stride_2(monkeypatch):
    """padding="same" for a strided convolution: TensorFlow pads the bottom and right only."""
    padded = keras_layers._torch_padded

    def same(conv_class, x, kernel, stride, padding, name, **kwargs):
        if stride == 2 and padding == kernel // 2:
            return conv_class(kernel_size=kernel, strides=stride, padding="same", name=name, **kwargs)(x)
        return padded(conv_class, x, kernel, stride, padding, name, **kwargs)
    monkeypatch.setattr(keras_layers, "_torch_padded", same)


def flatten_in_keras_order(monkeypatch):
    """The Dense after a Flatten ported with a plain transpose: its rows stay in PyTorch's C·H·W order."""
    monkeypatch.setattr(keras_weights, "flattened_map_shape", lambda layer: None)


class AdamWithL2(TorchAdamW):
    """Adam's weight_decay (L2 added to the gradient) where AdamW's decoupled decay was meant."""

    def update_step(self, gradient, variable, learning_rate):
        decay = self.decoupled_decay
        if self.decayed[self._get_variable_index(variable)]:
            gradient = ops.cast(gradient, variable.dtype) + decay * variable
        self.decoupled_decay = 0.0
        try:
            super().update_step(gradient, variable, learning_rate)
        finally:
            self.decoupled_decay = decay


class AdamEpsilonInsideRoot(TorchAdamW):
    """w -= lr/(1−β1ᵗ) · m / √(v̂ + ε): ε under the square root."""

    def denominator(self, v, step):
        return ops.sqrt(v / (1.0 - ops.power(self.beta2, step)) + self.eps)


def sgd_terms(optimizer, gradient, variable, learning_rate):
    """What both SGD bugs start from, as TorchSGD computes it: lr, g (with L2 where decayed), v."""
    index = optimizer._get_variable_index(variable)
    g = ops.cast(gradient, variable.dtype)
    if optimizer.l2 and optimizer.decayed[index]:
        g = g + optimizer.l2 * variable
    return ops.cast(learning_rate, variable.dtype), g, optimizer.velocities[index]


class KerasSGDMomentum(TorchSGD):
    """Keras' own rule: v = m·v − lr·g; w += v (Nesterov: w += m·v − lr·g)."""

    def update_step(self, gradient, variable, learning_rate):
        lr, g, v = sgd_terms(self, gradient, variable, learning_rate)
        self.assign(v, self.momentum * v - lr * g)
        self.assign_add(variable, self.momentum * v - lr * g if self.nesterov else v)


class NesterovOnTheOldVelocity(TorchSGD):
    """w -= lr·(g + m·v) with the velocity before this step's update."""

    def update_step(self, gradient, variable, learning_rate):
        lr, g, v = sgd_terms(self, gradient, variable, learning_rate)
        self.assign_sub(variable, lr * (g + self.momentum * v))
        self.assign(v, self.momentum * v + g)


def optimizer(cls):
    def inject(monkeypatch):
        make = keras_optim.make_optimizer

        def made(cfg):
            original = make(cfg)
            return cls.from_config(original.get_config())
        monkeypatch.setattr(keras_optim, "make_optimizer", made)
    inject.__doc__ = cls.__doc__
    return inject


def decay_on_every_tensor(monkeypatch):
    """Weight decay on BatchNorm scales and biases too, where the recipe decays kernels only."""
    monkeypatch.setattr(keras_optim, "decays", lambda variable: True)


def schedule_one_step_ahead(monkeypatch):
    """Keras reads the schedule at the step after PyTorch's (its iterations counted from 1)."""
    step = rules.KerasTwin.step
    ahead = {}

    def shifted(self, x, y, lr):
        return step(self, x, y, ahead.get(lr, lr))
    run_twins = rules.run_twins

    def with_schedule(torch_model, keras_model, cfg, batches, lrs, *args, **kwargs):
        ahead.update(zip(lrs, [*lrs[1:], lrs[-1] * 0.9]))
        return run_twins(torch_model, keras_model, cfg, batches, lrs, *args, **kwargs)
    monkeypatch.setattr(rules.KerasTwin, "step", shifted)
    monkeypatch.setattr(rules, "run_twins", with_schedule)


def no_label_smoothing_in_keras(monkeypatch):
    monkeypatch.setattr(keras_optim, "make_loss", lambda cfg: keras.losses.CategoricalCrossentropy(from_logits=True))


def tanh_gelu(monkeypatch):
    """keras.ops.gelu's default, the tanh approximation, where PyTorch's nn.GELU is exact (erf)."""
    activation = keras_cnn._activation
    monkeypatch.setattr(keras_cnn, "_activation", lambda kind, name: keras.layers.Activation(
        lambda t: keras.activations.gelu(t, approximate=True), name=name) if kind == "gelu" else activation(kind, name))


def is_batchnorm_buffer(name):
    return name.endswith(("running_mean", "running_var"))


def undecayed(name):
    """A slot of a tensor the recipe does not decay (shared.config.decays, by PyTorch's names)."""
    params = torch_models.build_model("cnn").named_parameters()
    return name.split(" (")[0] in {n for n, p in params if not decays(n, p.ndim)}


@dataclass(frozen=True)
class Bug:
    inject: Callable
    recipe: str
    kind: str                      # where verify must see it first
    place: Callable[[str], bool]   # and the first tensor it names
    steps: int = 3


BUGS = {
    "BatchNorm momentum in Keras' convention": Bug(keras_batchnorm_momentum, "cnn", "BatchNorm buffer", is_batchnorm_buffer),
    "BatchNorm epsilon 1e-3": Bug(keras_batchnorm_epsilon, "cnn", "layer output", lambda n: n == "features.0.bn1"),
    "padding='same' at stride 2": Bug(same_padding_at_stride_2, "resnet18", "layer output",
                                      lambda n: n == "layer2.0.conv1", steps=1),
    "NHWC flatten order before the first Dense": Bug(flatten_in_keras_order, "alexnet", "layer output",
                                                     lambda n: n == "classifier.1", steps=1),
    "L2 in Adam's gradient, not AdamW's decoupled decay": Bug(optimizer(AdamWithL2), "cnn-adamw", "optimizer slot",
                                                              lambda n: n.endswith("weight (first_moment)")),
    "weight decay on BatchNorm and bias tensors": Bug(decay_on_every_tensor, "cnn", "optimizer slot", undecayed),
    "Keras' SGD momentum rule": Bug(optimizer(KerasSGDMomentum), "cnn", "optimizer slot", lambda n: n.endswith("(velocity)")),
    "Nesterov on the velocity before the update": Bug(optimizer(NesterovOnTheOldVelocity), "cnn", "parameter",
                                                      lambda n: not is_batchnorm_buffer(n)),
    "learning-rate schedule one step ahead": Bug(schedule_one_step_ahead, "cnn", "parameter", lambda n: True),
    "label smoothing on one side only": Bug(no_label_smoothing_in_keras, "cnn", "loss", lambda n: n == "loss"),
    "Adam's epsilon inside the square root": Bug(optimizer(AdamEpsilonInsideRoot), "cnn-adamw", "parameter",
                                                 lambda n: not is_batchnorm_buffer(n)),
    "GELU's tanh approximation": Bug(tanh_gelu, "airbench", "layer output", lambda n: n == "activation"),
}


@pytest.mark.parametrize("recipe", sorted({bug.recipe for bug in BUGS.values()}))
def test_clean_code_follows_the_same_rules(recipe):
    verdict = check(recipe)
    assert verdict.different is None, rules.describe(verdict, "Keras")
    assert verdict.final is not None and "SAME RULES" in rules.describe(verdict, "Keras")[-1]


@pytest.mark.parametrize("name", list(BUGS))
def test_a_porting_bug_is_different_rules_at_its_place(name, monkeypatch):
    bug = BUGS[name]
    bug.inject(monkeypatch)
    verdict = check(bug.recipe, steps=bug.steps)
    found = verdict.different
    assert found is not None, f"{name}: not found\n" + "\n".join(rules.describe(verdict, "Keras"))
    gaps, kind, names = found
    assert (kind, gaps.step) == (bug.kind, 1), f"{name}: {kind} at step {gaps.step}, {names[:3]}"
    assert bug.place(names[0]), f"{name}: named {names[0]}"
    verdict_line = rules.describe(verdict, "Keras")[-1]
    assert verdict_line.startswith("Rules: DIFFERENT RULES — from step") and names[0] in verdict_line


def test_every_bug_lies_far_outside_the_round_off_band():
    """The clean twins' largest gap over the steps, against the control's, stays far below the band
    the verdict allows; a bug's sits far above it (the injections above, measured by their gap)."""
    verdict = check("cnn")
    floor = rules.FLOOR["float64"]
    ratios = [gap / max(step.control[kind].get(name, 0.0), floor)
              for step in verdict.steps for kind, gaps in step.twins.items() for name, gap in gaps.items()]
    assert max(ratios) < rules.BAND / 10


# --- the command ----------------------------------------------------------------------------------------

def test_verify_command_bad_arguments_are_one_line():
    for args, message in [(["--model", "cnn", "--variant", "imagenet"], "has no 'imagenet' variant"),
                          (["--model", "resnet99"], "invalid choice"),
                          (["--model", "cnn", "--backend", "torch"], "name each Keras backend once"),
                          (["--model", "cnn", "--steps", "0"], "must be positive")]:
        result = compare("verify", *args)
        assert result.returncode == 2, args
        assert message in result.stderr and len(result.stderr.strip().splitlines()) <= 2, result.stderr


def test_verify_command_without_the_dataset_exits_3(tmp_path):
    result = compare("verify", "--model", "cnn", "--backend", "tensorflow", "--data-dir", str(tmp_path / "none"))
    assert result.returncode == 3 and result.stderr.strip().count("\n") == 0, result.stderr[-2000:]


def test_verify_command_on_real_batches(real_data_env):
    result = compare("verify", "--model", "cnn", "--backend", "tensorflow", "--steps", "2", "--batch-size", "8")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "the first 2 planned batches of seed 0" in result.stdout
    assert re.search(r"Rules: SAME RULES — the twins stay at round-off through step 2", result.stdout)


# --- the rules line of a training run ------------------------------------------------------------------

def test_a_training_run_states_its_rules(real_data_env, tmp_path):
    """The verdict block ends with the rules check of the run's own config, saved beside the
    records; --no-verify says it was not checked."""
    args = ("--model", "cnn", "--backend", "both", "--epochs", "1", "--subset", "256", "--batch-size", "64")
    checked = compare(*args, "--out", str(tmp_path / "checked"), verify=True)
    assert checked.returncode == 0, checked.stdout[-2000:] + checked.stderr[-2000:]
    assert re.search(r"Rules \(Keras\): SAME — float64 twins, batch 16, at round-off through step 6 and in eval "
                     r"mode after it; .*; checked (at commit \w+|on a copy outside git)", checked.stdout)
    [run_dir] = [p for p in (tmp_path / "checked").iterdir() if p.is_dir()]
    result = json.loads((run_dir / "rules-tensorflow.json").read_text())
    assert (result["verdict"], result["model"], result["steps"]) == ("same", "cnn", 6)
    skipped = compare(*args, "--out", str(tmp_path / "skipped"))  # conftest's compare adds --no-verify
    assert skipped.returncode == 0 and "Rules (Keras): not checked (--no-verify" in skipped.stdout


def test_the_rules_cache_is_keyed_by_recipe_and_commit_not_seed():
    from shared.rules import cache_key

    cfg = resolve("cnn")
    key = cache_key(cfg, "tensorflow", "abc1234")
    assert key == cache_key(resolve("cnn", seed=5, out="elsewhere", precision="bf16"), "tensorflow", "abc1234")
    assert len({key, cache_key(cfg, "jax", "abc1234"), cache_key(cfg, "tensorflow", "abc1235"),
                cache_key(resolve("cnn", lr=0.1), "tensorflow", "abc1234"),
                cache_key(resolve("cnn", label_smoothing=0.0), "tensorflow", "abc1234")}) == 5
    assert cache_key(cfg, "tensorflow", "abc1234+dirty") is None and cache_key(cfg, "tensorflow", None) is None
