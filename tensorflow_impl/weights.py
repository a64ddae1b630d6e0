"""The generic, name-based port between PyTorch state_dicts (as numpy arrays) and Keras models.

Keras layers carry their PyTorch module's dotted path as their name, so a Keras variable
"<layer>/<var>" corresponds to the state_dict key "<layer>.<param>", where <param> follows from
<var> and layout conversions follow from the layer's type. There are no per-model tables: each
rule below is a fact about a layer type, covered by a test.
"""

from __future__ import annotations

import keras
import numpy as np

# Keras variable name → PyTorch parameter or buffer name.
_PARAM_NAMES = {"kernel": "weight", "bias": "bias", "gamma": "weight", "beta": "bias",
                "moving_mean": "running_mean", "moving_variance": "running_var"}

# Layout rules (PyTorch → Keras) for kernels, by layer type; the reverse uses the inverse.
_KERNEL_LAYOUTS = {
    keras.layers.Conv2D: (2, 3, 1, 0),           # OIHW → HWIO
    keras.layers.DepthwiseConv2D: (2, 3, 0, 1),  # (C, 1, H, W) → (H, W, C, 1)
    keras.layers.Dense: (1, 0),                  # (out, in) → (in, out)
}
# PyTorch bookkeeping with no Keras counterpart.
_IGNORED_SUFFIXES = (".num_batches_tracked",)


class PortError(ValueError):
    pass


def _layout(layer) -> tuple[int, ...] | None:
    # Most specific class first: DepthwiseConv2D is not a Conv2D subclass in Keras 3, but be safe.
    for cls in (keras.layers.DepthwiseConv2D, keras.layers.Conv2D, keras.layers.Dense):
        if isinstance(layer, cls):
            return _KERNEL_LAYOUTS[cls]
    return None


def _pairs(model: keras.Model):
    """(torch key, keras variable, permutation or None) for every variable of the model."""
    for layer in model._flatten_layers(include_self=False, recursive=True):
        for variable in layer.weights if not layer._layers else []:
            var_name = variable.path.rsplit("/", 1)[-1]
            if var_name not in _PARAM_NAMES:
                raise PortError(f"{variable.path}: no PyTorch name for Keras variable {var_name!r}")
            perm = _layout(layer) if var_name == "kernel" else None
            yield f"{layer.name}.{_PARAM_NAMES[var_name]}", variable, perm


def load_torch_state(model: keras.Model, state: dict[str, np.ndarray]) -> None:
    """Set every Keras variable from the PyTorch state; strict in both directions."""
    pending = {k for k in state if not k.endswith(_IGNORED_SUFFIXES)}
    updates = []
    for key, variable, perm in _pairs(model):
        if key not in state:
            raise PortError(f"PyTorch state has no {key!r} for Keras variable {variable.path}")
        value = np.asarray(state[key])
        if perm is not None:
            value = value.transpose(perm)
        if tuple(value.shape) != tuple(variable.shape):
            raise PortError(f"{key}: shape {value.shape} after layout, Keras {variable.path} has {tuple(variable.shape)}")
        updates.append((variable, value))
        pending.discard(key)
    if pending:
        raise PortError(f"PyTorch state has keys no Keras layer takes: {', '.join(sorted(pending))}")
    for variable, value in updates:
        variable.assign(value.astype(variable.dtype))


def to_torch_state(model: keras.Model) -> dict[str, np.ndarray]:
    """The inverse port: Keras variables as a PyTorch-named dict of numpy arrays."""
    state = {}
    for key, variable, perm in _pairs(model):
        value = keras.ops.convert_to_numpy(variable)
        state[key] = value.transpose(np.argsort(perm)) if perm is not None else value
    return state
