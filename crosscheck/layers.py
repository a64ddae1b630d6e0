"""The layer-by-layer comparison of `compare.py parity` (crosscheck.command reads its arguments).

Both frameworks are imported here, PyTorch first, then Keras on the framework KERAS_BACKEND names
(TensorFlow unless crosscheck.command was given --backend jax).
"""

from __future__ import annotations

import argparse
import json
import os

from shared.run import import_framework

# PyTorch, with the parts it imports lazily, before TensorFlow: the other order crashes here.
# import_framework first, so that a broken install raises FrameworkImportError, which
# crosscheck.command turns into one line.
import_framework("torch")
import torch  # noqa: E402
import torch._dynamo  # noqa: F401, E402

import tensorflow_impl  # noqa: F401, E402  (Keras' environment: KERAS_BACKEND defaults to tensorflow)
KERAS_BACKEND = os.environ["KERAS_BACKEND"]
import_framework(KERAS_BACKEND)
import keras  # noqa: E402
import numpy as np  # noqa: E402

from pytorch_impl import models as torch_models, weights as torch_weights  # noqa: E402
from pytorch_impl.device import set_precision as set_torch_precision  # noqa: E402
from shared.backends import BACKEND_NAMES  # noqa: E402
from tensorflow_impl import models as keras_models, weights as keras_weights  # noqa: E402
from tensorflow_impl.weights import flattened_map_shape  # noqa: E402

KERAS_LABEL = {"tensorflow": BACKEND_NAMES["tensorflow"], "jax": "Keras on JAX"}[KERAS_BACKEND]


def torch_outputs(model: torch.nn.Module, x: np.ndarray, names: set[str]) -> dict[str, np.ndarray]:
    """Output of each named module (its last call, for modules called more than once)."""
    outputs, hooks = {}, []
    for name, module in model.named_modules():
        if name in names:
            def hook(_module, _inputs, output, name=name):
                output = output[0] if isinstance(output, tuple) else output
                outputs[name] = output.detach().numpy().copy()
            hooks.append(module.register_forward_hook(hook))
    with torch.no_grad():
        outputs["(logits)"] = model(torch.from_numpy(x).permute(0, 3, 1, 2)).numpy()
    for h in hooks:
        h.remove()
    return outputs


def as_channels_last(a: np.ndarray) -> np.ndarray:
    return a.transpose(0, 2, 3, 1) if a.ndim == 4 else a


def in_keras_layout(layer, output: np.ndarray, keras_shape: tuple) -> np.ndarray:
    """A PyTorch module's output in the layout of the Keras layer of the same name (None: the
    logits): channels last, and a flattened map's vector in H·W·C order."""
    expected = as_channels_last(output)
    if layer is not None and not layer.weights and (map_shape := flattened_map_shape(layer)) is not None:
        # A weightless layer passing on a Flatten's vector (e.g. AlexNet's classifier.0
        # dropout): PyTorch's vector is in C·H·W order, Keras' in H·W·C order.
        c_h_w = (map_shape[2], map_shape[0], map_shape[1])
        expected = expected.reshape(-1, *c_h_w).transpose(0, 2, 3, 1).reshape(expected.shape)
    if expected.shape != tuple(keras_shape) and np.squeeze(expected).shape == tuple(d for d in keras_shape if d != 1):
        expected = expected.reshape(keras_shape)  # e.g. PyTorch's (N, C, 1, 1) pool vs Keras' (N, C)
    return expected


def layer_table(torch_model, keras_model, x: np.ndarray, tol: float) -> list[dict]:
    torch_names = {name for name, _ in torch_model.named_modules() if name}
    shared = [layer for layer in keras_model.layers if layer.name in torch_names]
    probe = keras.Model(keras_model.input, [layer.output for layer in shared] + [keras_model.output])
    keras_values = [keras.ops.convert_to_numpy(v) for v in probe(x, training=False)]
    want = torch_outputs(torch_model, x, {layer.name for layer in shared})
    rows = []
    for layer, got in zip(shared + [None], keras_values):
        name = layer.name if layer is not None else "(logits)"
        if name not in want:
            continue  # the module never ran (e.g. an identity branch)
        expected = in_keras_layout(layer, want[name], got.shape)
        if expected.shape != got.shape:
            rows.append(dict(layer=name, shape=str(got.shape), max_abs_diff=float("inf"),
                             rel_diff=float("inf"), note=f"shape differs: PyTorch {expected.shape}"))
            continue
        diff = float(np.abs(got - expected).max())
        scale = float(np.abs(expected).max()) or 1.0
        rows.append(dict(layer=name, shape=str(tuple(got.shape[1:])), max_abs_diff=diff,
                         rel_diff=diff / scale, note=""))
    for row in rows:
        row["ok"] = row["max_abs_diff"] <= tol
    return rows


def ieee_float32() -> dict[str, bool]:
    """The check runs in IEEE float32 in both frameworks, whatever the device: TF32 off (on by
    default in TensorFlow, in PyTorch's cuDNN convolutions and in XLA's GPU matmuls under JAX:
    shared/precision.py). Returns whether each framework's switches still allow TF32, read back
    ({"torch": False, KERAS_BACKEND: False})."""
    set_torch_precision(torch.device("cpu"), "fp32")
    return {"torch": torch.backends.cuda.matmul.allow_tf32 or torch.backends.cudnn.allow_tf32,
            KERAS_BACKEND: keras_tf32_off()}


def keras_tf32_off() -> bool:
    """TF32 off on the Keras side, as --precision fp32 sets it; whether it is still allowed, read back."""
    if KERAS_BACKEND == "tensorflow":
        import tensorflow as tf
        from tensorflow_impl.device import set_precision
        set_precision("cpu", "fp32")
        return tf.config.experimental.tensor_float_32_execution_enabled()
    import jax
    jax.config.update("jax_default_matmul_precision", "highest")  # float32 passes, not TF32 or bf16 ones
    return jax.config.jax_default_matmul_precision != "highest"


def check(args: argparse.Namespace) -> int:
    """Compare the two models as crosscheck.command.parse_args read them; print the table (or
    one JSON object); 0 if every layer and the parameter counts agree, else 1."""
    size = args.size
    tf32 = ieee_float32()
    torch.manual_seed(args.seed)
    torch_model = torch_models.build_model(args.model, variant=args.variant).eval()
    keras_model = keras_models.build_model(args.model, variant=args.variant, image_size=size)
    keras_weights.load_torch_state(keras_model, torch_weights.to_torch_state(torch_model))
    x = np.random.default_rng(args.seed).standard_normal((args.batch, size, size, 3)).astype(np.float32)
    rows = layer_table(torch_model, keras_model, x, args.tol)
    params = torch_models.count_params(torch_model), keras_models.count_params(keras_model)
    first_bad = next((r["layer"] for r in rows if not r["ok"]), None)
    passed = first_bad is None and params[0] == params[1]
    if args.json:
        print(json.dumps(dict(model=args.model, variant=args.variant, backend=KERAS_BACKEND,
                              params_torch=params[0][0], **{f"params_{KERAS_BACKEND}": params[1][0]},
                              max_abs_diff=max(r["max_abs_diff"] for r in rows), tolerance=args.tol,
                              passed=passed, first_failing_layer=first_bad, tf32=tf32)))
        return 0 if passed else 1
    width = max(len(r["layer"]) for r in rows)
    print(f"{args.model} ({args.variant}, {size}×{size}): parameters PyTorch {params[0][0]:,} / {KERAS_LABEL} {params[1][0]:,}"
          f"{'' if params[0] == params[1] else '  <-- DIFFER'}; batch {args.batch}, tolerance {args.tol:g}, "
          f"IEEE float32 (TF32 off)")
    print(f"{'layer'.ljust(width)}  {'output shape':<18} {'max abs diff':>12} {'rel diff':>10}")
    for r in rows:
        mark = "  <-- first layer over tolerance" if r["layer"] == first_bad else ("  over" if not r["ok"] else "")
        print(f"{r['layer'].ljust(width)}  {r['shape']:<18} {r['max_abs_diff']:12.3e} {r['rel_diff']:10.3e}"
              f"{mark}{'  ' + r['note'] if r['note'] else ''}")
    print("PASS" if passed else f"FAIL{' at ' + first_bad if first_bad else ': parameter counts differ'}")
    return 0 if passed else 1

