"""Parity contract (docs/design.md) for the CNN: same architecture, same function, same training step,
and the generic port's layout rules."""

import os

import numpy as np
import pytest
import torch

import tensorflow_impl  # noqa: F401  (TensorFlow environment first)
import keras

from conftest import tensorflow_only, twin_training_steps
from crosscheck.rules import without_dropout
from pytorch_impl import models as torch_models, weights as torch_weights
from shared.architectures import CIFAR_BATCHNORM_MOMENTUM, CIFAR_LOGIT_SCALE, HEAD, INPUT_SIZE
from shared.config import RunConfig
from tensorflow_impl import models as keras_models, weights as keras_weights
from tensorflow_impl.weights import PortError



CIFAR_MODELS = ["cnn", "alexnet", "mobilenet", "resnet18", "vit"]
IMAGENET_MODELS = ["alexnet", "mobilenet", "resnet18", "vit"]
# torchvision's parameter counts with 1000 classes (docs/design.md), and ours for 10 CIFAR classes.
TORCHVISION_PARAMS = {"alexnet": 61_100_840, "mobilenet": 3_504_872, "resnet18": 11_689_512,
                      "vit": 86_567_656}
# (total, trained): the CNN's whitening filters are frozen (24 × 3 × 2 × 2 = 288 values).
CIFAR_PARAMS = {"cnn": (1_161_282, 1_160_994), "resnet18": (11_173_962, 11_173_962)}


def twin_models(name="cnn", seed=0, *, variant="cifar", num_classes=10, image_size=None):
    torch.manual_seed(seed)
    torch_model = torch_models.build_model(name, variant=variant, num_classes=num_classes, image_size=image_size)
    keras_model = keras_models.build_model(name, variant=variant, num_classes=num_classes, image_size=image_size)
    keras_weights.load_torch_state(keras_model, torch_weights.to_torch_state(torch_model))
    return torch_model, keras_model


def batch(n=8, seed=0, size=32):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, size, size, 3)).astype(np.float32), rng.integers(0, 10, n)


def randomise_batchnorm_statistics(torch_model):
    """Non-trivial running statistics, so that eval mode really exercises them."""
    with torch.no_grad():
        for module in torch_model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)


@pytest.mark.parametrize("name", CIFAR_MODELS)
def test_parameter_counts_are_equal_cifar(name):
    torch_model, keras_model = twin_models(name)
    counts = torch_models.count_params(torch_model)
    assert counts == keras_models.count_params(keras_model)
    if name in CIFAR_PARAMS:
        assert counts == CIFAR_PARAMS[name]


@pytest.mark.parametrize("name", IMAGENET_MODELS)
def test_parameter_counts_are_torchvisions_imagenet(name):
    torch_model = torch_models.build_model(name, variant="imagenet", num_classes=1000)
    keras_model = keras_models.build_model(name, variant="imagenet", num_classes=1000)
    want = (TORCHVISION_PARAMS[name], TORCHVISION_PARAMS[name])
    assert torch_models.count_params(torch_model) == keras_models.count_params(keras_model) == want


def test_unknown_model_lists_known_ones():
    for registry in (torch_models, keras_models):
        with pytest.raises(KeyError, match="known: alexnet, cnn, mobilenet, resnet18, vit"):
            registry.build_model("resnet99")


@pytest.mark.parametrize("name, variant", [(m, "cifar") for m in CIFAR_MODELS] + [(m, "imagenet") for m in IMAGENET_MODELS])
def test_ported_weights_give_the_same_eval_logits(name, variant):
    torch_model, keras_model = twin_models(name, variant=variant)
    randomise_batchnorm_statistics(torch_model)
    keras_weights.load_torch_state(keras_model, torch_weights.to_torch_state(torch_model))
    x, _ = batch(4 if variant == "cifar" else 2, size=INPUT_SIZE[variant])
    torch_model.eval()
    with torch.no_grad():
        want = torch_model(torch.from_numpy(x).permute(0, 3, 1, 2)).numpy()
    got = keras.ops.convert_to_numpy(keras_model(x, training=False))
    assert np.abs(got - want).max() < 1e-4


@pytest.mark.parametrize("name, size", [("mobilenet", 96), ("resnet18", 112)])
def test_resizable_imagenet_models_agree_at_another_input_size(name, size):
    """--image-size: the Keras model is built for the side, PyTorch's adapts; same logits."""
    torch_model, keras_model = twin_models(name, variant="imagenet", image_size=size)
    assert keras_model.input_shape == (None, size, size, 3)
    x, _ = batch(2, size=size)
    with torch.no_grad():
        want = torch_model.eval()(torch.from_numpy(x).permute(0, 3, 1, 2)).numpy()
    assert np.abs(keras.ops.convert_to_numpy(keras_model(x, training=False)) - want).max() < 1e-4


@pytest.mark.parametrize("name", ["alexnet", "vit"])
def test_fixed_size_models_refuse_another_input_size(name):
    for registry in (torch_models, keras_models):
        with pytest.raises(ValueError, match=f"{name} reads 224×224 images only"):
            registry.build_model(name, variant="imagenet", image_size=128)


@pytest.mark.parametrize("name", CIFAR_MODELS)
def test_port_round_trip_is_exact(name):
    torch_model, keras_model = twin_models(name, seed=3)
    state = torch_weights.to_torch_state(torch_model)
    back = keras_weights.to_torch_state(keras_model)
    assert set(back) == {k for k in state if not k.endswith("num_batches_tracked")}
    for key, value in back.items():
        np.testing.assert_array_equal(value, state[key])
    fresh = torch_models.build_model(name)
    counters = {k: v for k, v in state.items() if k.endswith("num_batches_tracked")}
    torch_weights.load_torch_state(fresh, {**back, **counters})


def test_port_is_strict_about_missing_and_extra_keys():
    torch_model, keras_model = twin_models()
    state = torch_weights.to_torch_state(torch_model)
    with pytest.raises(PortError, match="head.bias"):
        keras_weights.load_torch_state(keras_model, {k: v for k, v in state.items() if k != "head.bias"})
    with pytest.raises(PortError, match="extra.weight"):
        keras_weights.load_torch_state(keras_model, {**state, "extra.weight": np.zeros(3)})


@pytest.mark.parametrize("torch_layer, keras_layer, shape", [
    (lambda: torch.nn.Conv2d(3, 5, 3, padding=1), lambda: keras.layers.Conv2D(5, 3, padding="same"), (2, 6, 6, 3)),
    (lambda: torch.nn.Conv2d(4, 4, 3, padding=1, groups=4, bias=False),
     lambda: keras.layers.DepthwiseConv2D(3, padding="same", use_bias=False), (2, 6, 6, 4)),
    (lambda: torch.nn.Linear(7, 3), lambda: keras.layers.Dense(3), (2, 7)),
])
def test_port_layout_rules(torch_layer, keras_layer, shape):
    """Each kernel layout rule (conv OIHW→HWIO, depthwise, dense transpose) gives the same output."""
    torch.manual_seed(0)
    t_layer = torch_layer()
    inputs = keras.Input(shape[1:])
    k_layer = keras_layer()
    k_layer.name  # noqa: B018
    keras_model = keras.Model(inputs, k_layer(inputs))
    state = {f"{k_layer.name}.{k}": v.detach().numpy() for k, v in t_layer.state_dict().items()}
    keras_weights.load_torch_state(keras_model, state)
    x = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    to_torch = (lambda a: a.transpose(0, 3, 1, 2)) if len(shape) == 4 else (lambda a: a)
    from_torch = (lambda a: a.transpose(0, 2, 3, 1)) if len(shape) == 4 else (lambda a: a)
    want = from_torch(t_layer(torch.from_numpy(to_torch(x))).detach().numpy())
    np.testing.assert_allclose(keras.ops.convert_to_numpy(keras_model(x)), want, atol=1e-5)


@tensorflow_only
@pytest.mark.parametrize("precision", ["float32", "mixed_bfloat16"])
def test_fused_batchnorm_is_torch_batchnorm(precision, monkeypatch):
    """Images in float32 or bfloat16 take TensorFlow's fused kernel (the float64 training tests
    take the op-by-op path): two training calls, then one in eval mode, against nn.BatchNorm2d on
    the same float32 inputs. The outputs, the input gradient and the running mean and unbiased
    variance agree; bfloat16 only rounds the input and output."""
    from tensorflow_impl.models.layers import BatchNorm
    import tensorflow as tf
    fused = tf.compat.v1.nn.fused_batch_norm
    calls = []
    monkeypatch.setattr(tf.compat.v1.nn, "fused_batch_norm", lambda *a, **k: calls.append(k) or fused(*a, **k))
    torch_bn = torch.nn.BatchNorm2d(6)
    keras_bn = BatchNorm(dtype=precision)
    rng = np.random.default_rng(0)
    keras_bn.build((4, 5, 5, 6))
    keras_bn.gamma.assign(rng.uniform(0.5, 1.5, 6).astype(np.float32))
    keras_bn.beta.assign(rng.uniform(-0.5, 0.5, 6).astype(np.float32))
    with torch.no_grad():
        torch_bn.weight.copy_(torch.from_numpy(keras_bn.gamma.numpy()))
        torch_bn.bias.copy_(torch.from_numpy(keras_bn.beta.numpy()))
    tol = 1e-5 if precision == "float32" else 2e-2  # bfloat16 keeps 8 bits of mantissa
    for step in range(3):
        x = (rng.standard_normal((4, 5, 5, 6)) * 2 + 1).astype(np.float32)  # few values: n − 1 ≠ n shows
        if precision != "float32":
            x = tf.cast(tf.cast(x, tf.bfloat16), tf.float32).numpy()  # the input both see
        training = step < 2
        torch_x = torch.from_numpy(x.transpose(0, 3, 1, 2)).requires_grad_()
        want = torch_bn.train(training)(torch_x)
        (want * torch.arange(want.numel()).reshape(want.shape).sin()).sum().backward()
        keras_x = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(keras_x)
            got = tf.cast(keras_bn(keras_x, training=training), tf.float32)
            weights = tf.constant(np.sin(np.arange(got.shape.num_elements())).reshape(4, 6, 5, 5).transpose(0, 2, 3, 1),
                                  tf.float32)
            loss = tf.reduce_sum(got * weights)
        np.testing.assert_allclose(got.numpy(), want.detach().numpy().transpose(0, 2, 3, 1), atol=tol, rtol=tol)
        if training:
            np.testing.assert_allclose(tape.gradient(loss, keras_x).numpy(),
                                       torch_x.grad.numpy().transpose(0, 2, 3, 1), atol=tol, rtol=tol)
        np.testing.assert_allclose(keras_bn.moving_mean.numpy(), torch_bn.running_mean.numpy(), atol=1e-6, rtol=1e-6)
        np.testing.assert_allclose(keras_bn.moving_variance.numpy(), torch_bn.running_var.numpy(), atol=1e-6,
                                   rtol=1e-6)
    assert [call["is_training"] for call in calls] == [True, True, False]


SGD = RunConfig(optimizer="sgd", lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4, label_smoothing=0.2)
# A decay large enough that applying it to one tensor too many (or too few) shows in two steps.
ADAMW = RunConfig(optimizer="adamw", lr=1e-3, beta1=0.9, beta2=0.99, eps=1e-8, weight_decay=0.5,
                  label_smoothing=0.1)


def training_steps(dtype, lrs, name="cnn", cfg=SGD):
    """Train twin models (dropout off) on the same batches with the same learning rates; return
    the losses of both and the final states (PyTorch names) of both."""
    torch_model, keras_model = twin_models(name, seed=1)
    without_dropout(torch_model, keras_model)

    def step_batch(step):
        x, y = batch(8, seed=step)
        return x.astype(dtype), y
    return twin_training_steps(torch_model, keras_model, cfg, dtype, lrs, step_batch)


@pytest.mark.parametrize("name", CIFAR_MODELS)
def test_first_training_step_loss_matches_in_float32(name):
    """Identical weights and batch, BatchNorm in training mode, label smoothing: same loss."""
    [(torch_value, keras_value)], _, _ = training_steps("float32", [0.02], name)
    assert abs(keras_value - torch_value) <= 1e-5 * abs(torch_value)


@pytest.mark.parametrize("name", CIFAR_MODELS)
def test_sgd_steps_match_under_a_changing_learning_rate(float64, name):
    """Two SGD steps (momentum, Nesterov, L2 on kernels only, label smoothing, BatchNorm in
    training mode, unbiased running variance) at two learning rates: same losses, same weights
    and statistics afterwards.

    Run in float64 because in float32 the two frameworks' convolutions round differently
    (~1e-6), which flips the ReLU mask of the few activations within ~1e-6 of zero and changes
    their gradients wholesale: a test of rounding luck, not of the update rule. In float64 the
    same code paths must agree far inside the contract's 1e-5."""
    assert_same_training(*training_steps("float64", [0.1, 0.03], name))


# Keras on JAX computes attention's softmax in float32 whatever the dtype (keras/src/backend/jax/
# nn.py, _dot_product_attention_core), so the ViT is not float64 through. AdamW divides each
# gradient by its own running size, and turns the key bias's gradient, zero but for rounding
# (softmax ignores a constant added to every key), into updates of 1e-5. SGD stays inside 1e-5.
SOFTMAX_IN_FLOAT32 = pytest.mark.xfail(os.environ.get("KERAS_BACKEND") == "jax", strict=True,
                                       reason="Keras on JAX: attention's softmax in float32")


@pytest.mark.parametrize("name", ["cnn", pytest.param("vit", marks=SOFTMAX_IN_FLOAT32)])
def test_adamw_steps_match_under_a_changing_learning_rate(float64, name):
    """torch.optim.AdamW and the Keras TorchAdamW: three steps (bias correction changes each
    step), decoupled decay on kernels only. Float64 for the reason above."""
    assert_same_training(*training_steps("float64", [1e-3, 3e-3, 2e-3], name, cfg=ADAMW))


def assert_same_training(losses, want, got):
    for torch_value, keras_value in losses:
        assert abs(keras_value - torch_value) <= 1e-5 * abs(torch_value)
    for key, value in got.items():
        assert value.dtype == np.float64
        np.testing.assert_allclose(value, want[key], atol=1e-5, rtol=0, err_msg=key)


@pytest.mark.parametrize("name", CIFAR_MODELS)
def test_weight_decay_applies_to_the_same_tensors(name):
    """shared.config.decays (PyTorch names) and the Keras optimizers' kernel rule pick the same
    tensors, matched through the port: e.g. ViT's attention biases and class token are not
    decayed in either."""
    from shared.config import decays
    from tensorflow_impl.optim import decays as keras_decays
    from tensorflow_impl.weights import mappings

    torch_model, keras_model = twin_models(name)
    want = {n for n, p in torch_model.named_parameters() if decays(n, p.ndim)}
    got = set()
    for m in mappings(keras_model):
        flags = {keras_decays(v) for v in m.variables}
        assert len(flags) == 1, m.torch_key
        if flags == {True}:
            got.add(m.torch_key)
    assert got == want
    assert want  # every model has kernels


@tensorflow_only
def test_keras_fit_reads_the_training_stream_continuously():
    """fit(steps_per_epoch=...) must not restart the stream each epoch: epoch 2 trains on the
    plan's epoch-2 batches, not on epoch 1's again."""
    import tensorflow as tf

    seen = []

    class Probe(keras.Model):
        def call(self, x):
            return x

        def train_step(self, data):
            return {"first": data[0][0, 0, 0, 0]}

    class Record(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append(float(logs["first"]))

    stream = tf.data.Dataset.range(6).map(lambda i: (tf.fill((2, 1, 1, 1), tf.cast(i, tf.float32)), tf.zeros(2)))
    probe = Probe()
    probe.compile(optimizer="sgd")
    probe.fit(stream, epochs=3, steps_per_epoch=2, verbose=0, shuffle=False, callbacks=[Record()])
    assert seen == [0, 1, 2, 3, 4, 5]


def test_port_rule_flatten_of_a_feature_map_before_dense():
    """PyTorch flattens (C, H, W), Keras (H, W, C): the port reorders the Dense input rows."""
    torch.manual_seed(0)
    t_conv, t_fc = torch.nn.Conv2d(3, 4, 3), torch.nn.Linear(4 * 3 * 2, 5)
    inputs = keras.Input((5, 4, 3))
    features = keras.layers.Conv2D(4, 3, name="conv")(inputs)
    keras_model = keras.Model(inputs, keras.layers.Dense(5, name="fc")(keras.layers.Flatten()(features)))
    state = {f"conv.{k}": v.detach().numpy() for k, v in t_conv.state_dict().items()}
    state |= {f"fc.{k}": v.detach().numpy() for k, v in t_fc.state_dict().items()}
    keras_weights.load_torch_state(keras_model, state)
    x = np.random.default_rng(2).standard_normal((2, 5, 4, 3)).astype(np.float32)
    want = t_fc(t_conv(torch.from_numpy(x).permute(0, 3, 1, 2)).flatten(1)).detach().numpy()
    np.testing.assert_allclose(keras.ops.convert_to_numpy(keras_model(x)), want, atol=1e-5)
    back = keras_weights.to_torch_state(keras_model)
    for key, value in state.items():
        np.testing.assert_array_equal(back[key], value)


def test_port_rule_packed_attention_in_proj():
    """nn.MultiheadAttention's packed in_proj (q, k, v) ⇄ Keras' separate query/key/value."""
    torch.manual_seed(0)
    embed, heads = 8, 2
    t_attn = torch.nn.MultiheadAttention(embed, heads, batch_first=True)
    inputs = keras.Input((5, embed))
    attention = keras.layers.MultiHeadAttention(heads, embed // heads, name="attn")
    keras_model = keras.Model(inputs, attention(inputs, inputs))
    state = {f"attn.{k}": v.detach().numpy() for k, v in t_attn.state_dict().items()}
    keras_weights.load_torch_state(keras_model, state)
    x = np.random.default_rng(3).standard_normal((2, 5, embed)).astype(np.float32)
    xt = torch.from_numpy(x)
    want = t_attn(xt, xt, xt, need_weights=False)[0].detach().numpy()
    np.testing.assert_allclose(keras.ops.convert_to_numpy(keras_model(x)), want, atol=1e-5)
    back = keras_weights.to_torch_state(keras_model)
    assert set(back) == set(state)
    for key, value in state.items():
        np.testing.assert_array_equal(back[key], value)


def test_layer_table_points_at_a_broken_layer():
    """A Keras BatchNorm given the wrong epsilon on purpose: the table names that very layer."""
    from crosscheck.layers import layer_table

    torch_model, keras_model = twin_models("cnn")
    randomise_batchnorm_statistics(torch_model)
    keras_weights.load_torch_state(keras_model, torch_weights.to_torch_state(torch_model))
    torch_model.eval()
    x, _ = batch(2)
    rows = layer_table(torch_model, keras_model, x, tol=1e-4)
    assert all(r["ok"] for r in rows) and rows[-1]["layer"] == "(logits)"
    keras_model.get_layer("features.1.bn1").epsilon = 0.1
    rows = layer_table(torch_model, keras_model, x, tol=1e-4)
    first_bad = next(r["layer"] for r in rows if not r["ok"])
    assert first_bad == "features.1.bn1"
    assert [r["ok"] for r in rows if r["layer"] in ("features.0.conv1", "features.1.conv1")] == [True, True]


def test_parity_command_json():
    import json
    import subprocess
    import sys

    from conftest import ROOT

    result = subprocess.run([sys.executable, str(ROOT / "compare.py"), "parity", "--model", "resnet18",
                             "--variant", "cifar", "--json"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["passed"] is True and report["first_failing_layer"] is None
    assert report["params_torch"] == report["params_tensorflow"] == 11_173_962
    assert report["max_abs_diff"] <= report["tolerance"] == 1e-4
    assert report["tf32"] == {"torch": False, "tensorflow": False}  # IEEE float32 whatever the device


def test_parity_command_runs_keras_on_jax():
    """--backend jax: the same Keras model on JAX, against PyTorch, in a process of its own
    (Keras reads KERAS_BACKEND once); make test also runs this module's tests on JAX."""
    import json
    import subprocess
    import sys

    from conftest import ROOT

    result = subprocess.run([sys.executable, str(ROOT / "compare.py"), "parity", "--model", "mobilenet",
                             "--backend", "jax", "--json"], cwd=ROOT, capture_output=True, text=True,
                            env={**os.environ, "KERAS_BACKEND": "tensorflow"})  # the flag wins
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["backend"] == "jax" and report["passed"] is True
    assert report["params_torch"] == report["params_jax"] == 2_236_682
    assert report["max_abs_diff"] <= report["tolerance"] == 1e-4
    assert report["tf32"] == {"torch": False, "jax": False}


@pytest.mark.parametrize("name, variant", [(m, "cifar") for m in CIFAR_MODELS] + [("alexnet", "imagenet")])
def test_layer_table_passes_for_every_model(name, variant):
    """Every layer that exists in both agrees — including AlexNet's classifier after the Flatten
    (PyTorch's C·H·W order against Keras' H·W·C) and ResNet's layers after residual additions."""
    from crosscheck.layers import layer_table

    torch_model, keras_model = twin_models(name, variant=variant)
    x, _ = batch(2, size=INPUT_SIZE[variant])
    rows = layer_table(torch_model.eval(), keras_model, x, tol=1e-4)
    assert len(rows) > 3 and [r["layer"] for r in rows if not r["ok"]] == []


@pytest.mark.parametrize("name", sorted(CIFAR_LOGIT_SCALE))
def test_cifar_variants_scale_logits_and_use_fast_batchnorm_statistics(name):
    """shared.architectures' two short-run settings, in both registries: the logits are the head's
    output times the scale (parity alone would not notice both backends losing it), and every
    BatchNorm has the momentum (PyTorch's convention; Keras' is 1 − it)."""
    torch_model, keras_model = twin_models(name)
    torch_model.eval()
    head_out = {}
    torch_model.get_submodule(HEAD[name]).register_forward_hook(lambda m, i, out: head_out.setdefault("head", out))
    x, _ = batch(2)
    with torch.no_grad():
        logits = torch_model(torch.from_numpy(x).permute(0, 3, 1, 2))
    torch.testing.assert_close(logits, head_out["head"] * CIFAR_LOGIT_SCALE[name])
    assert {m.momentum for m in torch_model.modules() if isinstance(m, torch.nn.BatchNorm2d)} == \
        {CIFAR_BATCHNORM_MOMENTUM}
    assert {round(layer.momentum, 6) for layer in keras_model.layers if isinstance(layer, keras.layers.BatchNormalization)} \
        == {round(1.0 - CIFAR_BATCHNORM_MOMENTUM, 6)}
    assert keras_model.layers[-1].name == "logit_scale"


@pytest.mark.parametrize("name", CIFAR_MODELS)
def test_idiomatic_reference_computes_our_function(name):
    """compare.py bench's idiomatic reference (pytorch_impl/ and tensorflow_impl/idiomatic.py) is
    our function with the framework's own pieces: at the same weights, eval logits within 1e-4 of
    ours in each backend. Keras' has the built-in BatchNormalization wherever ours has its subclass;
    how it trains differs (the idiom's optimizer and decay), and that is documented, not tested."""
    from pytorch_impl.idiomatic import idiomatic_model as torch_idiomatic
    from tensorflow_impl.idiomatic import idiomatic_model as keras_idiomatic
    from tensorflow_impl.models.layers import BatchNorm

    torch_model, keras_model = twin_models(name)
    randomise_batchnorm_statistics(torch_model)
    keras_weights.load_torch_state(keras_model, torch_weights.to_torch_state(torch_model))
    x, _ = batch()
    reference = torch_idiomatic(torch_model).eval()
    torch_model.eval()
    with torch.no_grad():
        images = torch.from_numpy(x).permute(0, 3, 1, 2)
        assert np.abs(reference(images).numpy() - torch_model(images).numpy()).max() < 1e-4

    keras_reference = keras_idiomatic(keras_model)
    ours = [layer.name for layer in keras_model.layers if isinstance(layer, BatchNorm)]
    builtin = [layer.name for layer in keras_reference.layers if type(layer) is keras.layers.BatchNormalization]
    assert builtin == ours and (ours or name in ("alexnet", "vit"))  # the two without BatchNorm
    got, want = (keras.ops.convert_to_numpy(m(x, training=False)) for m in (keras_reference, keras_model))
    assert np.abs(got - want).max() < 1e-4
