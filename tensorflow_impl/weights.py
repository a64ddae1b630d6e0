"""The generic, name-based port between PyTorch state_dicts (as numpy arrays) and Keras models.

Keras layers carry their PyTorch module's dotted path as their name, so a Keras variable
"<layer>/<var>" corresponds to the state_dict key "<layer>.<param>", where <param> follows from
<var> and the layout conversion follows from the layer's type. There are no per-model tables:
each rule below is a fact about a layer type, and each has a test.

Rules (PyTorch → Keras; the reverse port applies the inverse):
- Conv2D kernel: OIHW → HWIO.   DepthwiseConv2D kernel: (C, 1, H, W) → (H, W, C, 1).
- Dense kernel: (out, in) → (in, out); when the Dense reads a Flatten of an (H, W, C) map, its
  input rows are also reordered from PyTorch's C·H·W flattening order to Keras' H·W·C.
- MultiHeadAttention: PyTorch packs q, k, v into in_proj_weight (3E, E) / in_proj_bias (3E);
  Keras keeps query/key/value kernels (E, heads, head_dim) and an output kernel (heads, head_dim, E).
- Layers with their own parameters (e.g. ViT's class token) name their PyTorch keys in a
  `torch_names` attribute: {keras variable name: full state_dict key}.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import keras
import numpy as np

# Keras variable name → PyTorch parameter or buffer name.
_PARAM_NAMES = {"kernel": "weight", "bias": "bias", "gamma": "weight", "beta": "bias",
                "moving_mean": "running_mean", "moving_variance": "running_var"}
# PyTorch bookkeeping with no Keras counterpart.
_IGNORED_SUFFIXES = (".num_batches_tracked",)


class PortError(ValueError):
    pass


@dataclass
class Mapping:
    """One PyTorch tensor ⇄ one or more Keras variables."""
    torch_key: str
    variables: list
    to_keras: Callable[[np.ndarray], list[np.ndarray]]
    to_torch: Callable[[list[np.ndarray]], np.ndarray]


def _permutation(perm: tuple[int, ...]) -> tuple[Callable, Callable]:
    inverse = tuple(np.argsort(perm))
    return (lambda a: [a.transpose(perm)]), (lambda vs: vs[0].transpose(inverse))


_IDENTITY = (lambda a: [a]), (lambda vs: vs[0])


def flattened_map_shape(layer) -> tuple[int, int, int] | None:
    """(H, W, C) when this Dense layer reads a Flatten of a feature map — directly or through
    layers that change no shape and hold no weights (Dropout, activations) — else None."""
    source = layer
    while True:
        try:
            source = source._inbound_nodes[0].input_tensors[0]._keras_history.operation
        except (AttributeError, IndexError):
            return None
        if isinstance(source, keras.layers.InputLayer):
            return None
        if isinstance(source, keras.layers.Flatten):
            return tuple(source.input.shape[1:]) if len(source.input.shape) == 4 else None
        if (source.weights or isinstance(source.input, (list, tuple))  # e.g. Add: not a pass-through
                or tuple(source.input.shape) != tuple(source.output.shape)):
            return None


def _dense_kernel(layer) -> tuple[Callable, Callable]:
    shape = flattened_map_shape(layer)
    if shape is None:
        return _permutation((1, 0))
    h, w, c = shape

    def to_keras(a):  # (out, C·H·W) → (H·W·C, out)
        return [a.reshape(-1, c, h, w).transpose(2, 3, 1, 0).reshape(h * w * c, -1)]

    def to_torch(vs):
        return vs[0].reshape(h, w, c, -1).transpose(3, 2, 0, 1).reshape(-1, c * h * w)
    return to_keras, to_torch


def _attention(layer) -> list[Mapping]:
    q, k, v, out = (layer._query_dense, layer._key_dense, layer._value_dense, layer._output_dense)
    heads, head_dim = q.kernel.shape[1], q.kernel.shape[2]

    def split(a):  # in_proj (3E, E) → 3 × (E, heads, head_dim); bias (3E,) → 3 × (heads, head_dim)
        parts = np.split(a, 3, axis=0)
        return [p.T.reshape(-1, heads, head_dim) if a.ndim == 2 else p.reshape(heads, head_dim) for p in parts]

    def join(vs):
        return np.concatenate([x.reshape(x.shape[0], -1).T if x.ndim == 3 else x.reshape(-1) for x in vs])

    return [
        Mapping(f"{layer.name}.in_proj_weight", [q.kernel, k.kernel, v.kernel], split, join),
        Mapping(f"{layer.name}.in_proj_bias", [q.bias, k.bias, v.bias], split, join),
        Mapping(f"{layer.name}.out_proj.weight", [out.kernel],
                lambda a: [a.T.reshape(heads, head_dim, -1)], lambda vs: vs[0].reshape(heads * head_dim, -1).T),
        Mapping(f"{layer.name}.out_proj.bias", [out.bias], *_IDENTITY),
    ]


def _leaf(layer) -> list[Mapping]:
    names = getattr(layer, "torch_names", {})
    mappings = []
    for variable in layer.weights:
        var_name = variable.path.rsplit("/", 1)[-1]
        if var_name in names:
            mappings.append(Mapping(names[var_name], [variable], *_IDENTITY))
            continue
        if var_name not in _PARAM_NAMES:
            raise PortError(f"{variable.path}: no PyTorch name for Keras variable {var_name!r}")
        if var_name != "kernel":
            convert = _IDENTITY
        elif isinstance(layer, keras.layers.DepthwiseConv2D):
            convert = _permutation((2, 3, 0, 1))
        elif isinstance(layer, keras.layers.Conv2D):
            convert = _permutation((2, 3, 1, 0))
        elif isinstance(layer, keras.layers.Dense):
            convert = _dense_kernel(layer)
        else:
            raise PortError(f"{variable.path}: no layout rule for a {type(layer).__name__} kernel")
        mappings.append(Mapping(f"{layer.name}.{_PARAM_NAMES[var_name]}", [variable], *convert))
    return mappings


def mappings(model: keras.Model) -> list[Mapping]:
    """Every PyTorch tensor of the model and the Keras variables it becomes."""
    result = []

    def visit(layer):
        if isinstance(layer, keras.layers.MultiHeadAttention):
            result.extend(_attention(layer))
        elif layer._layers and not getattr(layer, "torch_names", None):
            for child in layer._layers:
                visit(child)
        else:
            result.extend(_leaf(layer))

    for layer in model.layers:
        visit(layer)
    return result


def load_torch_state(model: keras.Model, state: dict[str, np.ndarray]) -> None:
    """Set every Keras variable from the PyTorch state; strict in both directions, and nothing
    is assigned unless everything fits."""
    pending = {k for k in state if not k.endswith(_IGNORED_SUFFIXES)}
    updates = []
    for m in mappings(model):
        if m.torch_key not in state:
            raise PortError(f"PyTorch state has no {m.torch_key!r} for Keras "
                            f"{', '.join(v.path for v in m.variables)}")
        for variable, value in zip(m.variables, m.to_keras(np.asarray(state[m.torch_key]))):
            if tuple(value.shape) != tuple(variable.shape):
                raise PortError(f"{m.torch_key}: shape {value.shape} after layout, Keras "
                                f"{variable.path} has {tuple(variable.shape)}")
            updates.append((variable, value))
        pending.discard(m.torch_key)
    if pending:
        raise PortError(f"PyTorch state has keys no Keras layer takes: {', '.join(sorted(pending))}")
    for variable, value in updates:
        variable.assign(value.astype(variable.dtype))


def to_torch_state(model: keras.Model) -> dict[str, np.ndarray]:
    """The inverse port: Keras variables as a PyTorch-named dict of numpy arrays."""
    return {m.torch_key: m.to_torch([keras.ops.convert_to_numpy(v) for v in m.variables])
            for m in mappings(model)}
