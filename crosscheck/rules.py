"""The training-rules check of `compare.py verify`: do PyTorch and Keras train by the same rules?

    python compare.py verify --model resnet18 [--variant cifar] [--backend tensorflow,jax] [--steps N]

Twins: the PyTorch model and the Keras model, the Keras one ported from the PyTorch one, trained
side by side on the recipe's first planned batches (the shared plan's order, crops and flips) at
the recipe's own learning rates (warm-up included), with the recipe's optimizer as configured
(momentum, Nesterov, weight-decay groups, the norm-bias rate scale), its label smoothing, and
BatchNorm in training mode; float64 by default, so that the frameworks' different rounding stays
far below anything a rule changes. Dropout is off in the twins (each framework draws its own
masks) and checked apart: the same layers at the same rates, both scaling what they keep by
1/(1 − p).

Control: PyTorch beside a copy of itself fed every batch with its images in reverse order, its
initial weights nudged by round-off: the same function (loss, BatchNorm statistics and gradients
are sums over the batch), rounded differently at every step, as two frameworks round differently. Its gaps are how far the model's
own amplification carries round-off, step by step and tensor by tensor. At every step the twins
are compared, in the order the step computes them: the output of every layer (training mode), the
loss, the gradients, the BatchNorm buffers, the optimizer's slots, the parameters; after the last
step also the eval-mode logits of a batch not trained on (so the running statistics count). A
tensor of the twins lies beyond round-off when its relative gap exceeds BAND × the control's gap
of the same tensor at that step (and the dtype's floor). The first step and the first tensor
beyond round-off are where the rules differ: DIFFERENT RULES. None: SAME RULES.

One Keras backend per process (KERAS_BACKEND is read once, when Keras is imported): compare.py
verify starts this module once per backend (`python -m crosscheck.rules ...`).
"""

from __future__ import annotations

if __name__ == "__main__":
    # The arguments first, without a framework (--help and mistakes are instant), then this module
    # again as crosscheck.rules with both frameworks.
    from crosscheck.command import verify_main
    raise SystemExit(verify_main())

import contextlib
import copy
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from shared.run import import_framework

# PyTorch, with the parts it imports lazily, before Keras' framework (the other order crashes).
import_framework("torch")
import torch  # noqa: E402
import torch._dynamo  # noqa: F401, E402

import tensorflow_impl  # noqa: F401, E402  (Keras' environment: KERAS_BACKEND defaults to tensorflow)
KERAS_BACKEND = os.environ["KERAS_BACKEND"]
import_framework(KERAS_BACKEND)
import keras  # noqa: E402
import numpy as np  # noqa: E402

from crosscheck.layers import in_keras_layout, keras_tf32_off  # noqa: E402
from pytorch_impl import weights as torch_weights  # noqa: E402
from pytorch_impl.device import set_precision as set_torch_precision  # noqa: E402
from pytorch_impl.optim import make_loss as torch_loss, make_optimizer as torch_optimizer  # noqa: E402
from pytorch_impl.optim import set_learning_rate  # noqa: E402
from pytorch_impl.data import to_batch  # noqa: E402
from pytorch_impl.init_weights import initial_model  # noqa: E402
from shared.batch_plan import steps_per_epoch, train_batch  # noqa: E402
from shared.config import RunConfig, resolve  # noqa: E402
from shared.data import DataError  # noqa: E402
from shared.io import atomic_write_text  # noqa: E402
from shared.provenance import git_commit  # noqa: E402
from shared.run import load_split, normalization  # noqa: E402
# Modules, not their functions: tests/test_rules.py injects porting bugs into them.
from tensorflow_impl import models as keras_models, optim as keras_optim, weights as keras_weights  # noqa: E402

# How far above the control's gap the twins' may lie and still be round-off: calibrated on every
# model's clean twins and on the porting bugs of tests/test_rules.py (docs/design.md, "How we know
# the frameworks agree").
BAND = 1e3
# The control's nudge of its initial weights, relative to each tensor's RMS: round-off.
CONTROL_NUDGE = {"float64": 1e-15, "float32": 1e-7}
# Below this relative gap a tensor is at round-off whatever the control says (a control gap of 0,
# e.g. a zero-initialised head, would otherwise make any rounding "beyond").
FLOOR = {"float64": 1e-12, "float32": 1e-5}
# Where a trajectory has "parted" from its twin: a relative gap of the weights this large is no
# longer round-off being carried along but a different run.
PARTED = 1e-6
# What each step compares, in the order the step computes it.
KINDS = ("layer output", "loss", "gradient", "BatchNorm buffer", "optimizer slot", "parameter")
FINAL_KIND = "eval-mode logits"
TORCH_SLOTS = {"momentum_buffer": "velocity", "exp_avg": "first_moment", "exp_avg_sq": "second_moment"}
KERAS_SLOTS = {"velocities": "velocity", "first_moments": "first_moment", "second_moments": "second_moment"}


@contextlib.contextmanager
def keras_float64():
    """Keras in float64: the dtype policy makes the layers float64, floatx the losses. On JAX also
    64-bit arrays (JAX makes float32 ones unless told otherwise), and Keras' dtype promotion kept
    at float64: outside TensorFlow it promotes float64 with float32 to float32, so ops that compute
    in "at least float32" (mean, layer normalisation) would round to float32
    (keras/src/backend/common/dtypes.py)."""
    from keras.src.backend.common import dtypes
    x64 = keras.backend.backend() == "jax"
    promoted = dtypes.BIT64_TO_BIT32_DTYPE.get("float64")
    if x64:
        import jax
        jax.config.update("jax_enable_x64", True)
        dtypes.BIT64_TO_BIT32_DTYPE["float64"] = "float64"
    keras.config.set_dtype_policy("float64")
    keras.config.set_floatx("float64")
    try:
        yield
    finally:
        keras.config.set_floatx("float32")
        keras.config.set_dtype_policy("float32")
        if x64:
            dtypes.BIT64_TO_BIT32_DTYPE["float64"] = promoted
            jax.config.update("jax_enable_x64", False)


# --- one training step in each framework, and everything it computed -------------------------------

Snapshot = dict  # kind → {tensor name (PyTorch's): numpy array}


def relative_gap(a: np.ndarray, b: np.ndarray) -> float:
    """max |a − b| over max |a|: one number per tensor, scale-free."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        return float("inf")
    scale = float(np.abs(a).max()) if a.size else 0.0
    diff = float(np.abs(a - b).max()) if a.size else 0.0
    return diff / scale if scale else diff


class TorchTwin:
    """The PyTorch model in training, step by step, with the recipe's optimizer and loss."""

    def __init__(self, model: torch.nn.Module, cfg: RunConfig, dtype: str, layer_names: list[str]):
        self.model = model.to(getattr(torch, dtype)).train()
        self.optimizer, self.loss_fn = torch_optimizer(self.model, cfg), torch_loss(cfg)
        self.layer_names = set(layer_names)
        self.names = {id(p): n for n, p in self.model.named_parameters()}

    def step(self, x: np.ndarray, y: np.ndarray, lr: float) -> Snapshot:
        images, labels = torch.from_numpy(x).permute(0, 3, 1, 2), torch.from_numpy(y)
        outputs = self.layer_outputs(images)
        set_learning_rate(self.optimizer, lr)
        loss = self.loss_fn(self.model(images), labels)
        self.optimizer.zero_grad()
        loss.backward()
        grads = {n: p.grad.numpy().copy() for n, p in self.model.named_parameters() if p.grad is not None}
        self.optimizer.step()
        state = {k: v for k, v in torch_weights.to_torch_state(self.model).items() if not k.endswith("num_batches_tracked")}
        slots = {f"{self.names[id(p)]} ({TORCH_SLOTS[key]})": value.numpy().copy()
                 for p, s in self.optimizer.state.items() for key, value in s.items()
                 if key in TORCH_SLOTS and value is not None}
        return {"layer output": outputs, "loss": {"loss": np.array(loss.item())}, "gradient": grads,
                "BatchNorm buffer": {k: v for k, v in state.items() if is_buffer(k)}, "optimizer slot": slots,
                "parameter": {k: v for k, v in state.items() if not is_buffer(k)}}

    def layer_outputs(self, images: torch.Tensor) -> dict[str, np.ndarray]:
        """Every named layer's output in training mode, the running statistics left as they were."""
        outputs, hooks = {}, []
        for name, module in self.model.named_modules():
            if name in self.layer_names:
                def hook(_module, _inputs, output, name=name):
                    outputs[name] = (output[0] if isinstance(output, tuple) else output).detach().numpy().copy()
                hooks.append(module.register_forward_hook(hook))
        buffers = {n: b.clone() for n, b in self.model.named_buffers()}
        with torch.no_grad():
            outputs["(logits)"] = self.model(images).numpy().copy()
            for n, b in self.model.named_buffers():
                b.copy_(buffers[n])
        for h in hooks:
            h.remove()
        return outputs

    def eval_logits(self, x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            logits = self.model.eval()(torch.from_numpy(x).permute(0, 3, 1, 2)).numpy()
        self.model.train()
        return logits


def is_buffer(torch_key: str) -> bool:
    return torch_key.endswith(("running_mean", "running_var"))


class KerasTwin:
    """The ported Keras model in training, step by step, with the recipe's optimizer and loss as
    tensorflow_impl builds them; the step is Keras' own train_step, written out so that the
    gradients can be read (TensorFlow: a GradientTape; JAX: compute_loss_and_updates)."""

    def __init__(self, model: keras.Model, cfg: RunConfig, dtype: str, layer_names: list[str]):
        self.model, self.dtype = model, dtype
        model.compile(optimizer=keras_optim.make_optimizer(cfg), loss=keras_optim.make_loss(cfg))
        model.optimizer.build(model.trainable_variables)
        self.mappings = keras_weights.mappings(model)
        self.layers = [layer for layer in model.layers if layer.name in set(layer_names)]
        self.probe = keras.Model(model.input, [layer.output for layer in self.layers] + [model.output])

    def step(self, x: np.ndarray, y: np.ndarray, lr: float) -> Snapshot:
        onehot = np.eye(self.model.output_shape[-1], dtype=self.dtype)[y]
        outputs = self.layer_outputs(x)
        self.model.optimizer.learning_rate.assign(lr)
        loss, grads = self.loss_and_gradients(x, onehot)
        by_variable = {id(v): g for v, g in zip(self.model.trainable_variables, grads)}
        self.model.optimizer.apply(grads, self.model.trainable_variables)
        state = keras_weights.to_torch_state(self.model)
        trained = [m for m in self.mappings if all(id(v) in by_variable for v in m.variables)]
        gradients = {m.torch_key: m.to_torch([np.asarray(by_variable[id(v)]) for v in m.variables]) for m in trained}
        return {"layer output": outputs, "loss": {"loss": np.array(float(loss))}, "gradient": gradients,
                "BatchNorm buffer": {k: v for k, v in state.items() if is_buffer(k)},
                "optimizer slot": self.slots(trained),
                "parameter": {k: v for k, v in state.items() if not is_buffer(k)}}

    def loss_and_gradients(self, x, onehot):
        """One forward and backward in training mode: the loss (with any loss the model adds, as
        Keras' train_step has it) and the gradients; the BatchNorm statistics updated."""
        model = self.model
        if KERAS_BACKEND == "tensorflow":
            import tensorflow as tf
            with tf.GradientTape() as tape:
                loss = model.compute_loss(x=x, y=onehot, y_pred=model(x, training=True), training=True)
            return loss, tape.gradient(loss, model.trainable_variables)
        import jax
        grad_fn = jax.value_and_grad(model.compute_loss_and_updates, has_aux=True)
        values = lambda variables: [v.value for v in variables]  # noqa: E731
        (_, (loss, _, non_trainable, _)), grads = grad_fn(
            values(model.trainable_variables), values(model.non_trainable_variables), values(model.metrics_variables),
            x, onehot, None, training=True, optimizer_variables=values(model.optimizer.variables))
        for variable, value in zip(model.non_trainable_variables, non_trainable):
            variable.assign(value)
        return loss, grads

    def slots(self, trained) -> dict[str, np.ndarray]:
        optimizer, slots = self.model.optimizer, {}
        for attribute, slot in KERAS_SLOTS.items():
            if hasattr(optimizer, attribute):
                per_variable = getattr(optimizer, attribute)
                for m in trained:
                    values = [keras.ops.convert_to_numpy(per_variable[optimizer._get_variable_index(v)]) for v in m.variables]
                    slots[f"{m.torch_key} ({slot})"] = m.to_torch(values)
        return slots

    def layer_outputs(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Every layer named like a PyTorch module, in training mode, in PyTorch's layout; the
        running statistics left as they were."""
        kept = [(v, keras.ops.convert_to_numpy(v)) for v in self.model.non_trainable_variables]
        values = [keras.ops.convert_to_numpy(v) for v in self.probe(x, training=True)]
        for variable, value in kept:
            variable.assign(value)
        return {**{layer.name: value for layer, value in zip(self.layers, values)}, "(logits)": values[-1]}

    def eval_logits(self, x: np.ndarray) -> np.ndarray:
        return keras.ops.convert_to_numpy(self.model(x, training=False))


# --- the comparison -----------------------------------------------------------------------------------

@dataclass
class StepGaps:
    step: int
    lr: float
    twins: dict = field(default_factory=dict)     # kind → {name: relative gap}
    control: dict = field(default_factory=dict)   # kind → {name: relative gap}
    # The weights (parameters and BatchNorm buffers) as one vector: max |a − b| over max |a|, so that
    # a tensor whose true gradient is zero (a bias that a BatchNorm right after it cancels), and so
    # is made of round-off, does not count as the whole model parting.
    weights: dict = field(default_factory=dict)   # "twins" / "control" → relative gap

    def beyond(self, dtype: str) -> tuple[str, list[str]] | None:
        """The first kind (in KINDS order) with tensors beyond round-off, and those tensors: a
        twins' gap over BAND × the control's gap of the same tensor (and the dtype's floor)."""
        for kind, gaps in self.twins.items():
            control = self.control.get(kind, {})
            over = [n for n, gap in gaps.items() if gap > max(BAND * control.get(n, 0.0), FLOOR[dtype])]
            if over:
                return kind, over
        return None

    def worst(self, dtype: str) -> tuple[float, str, str]:
        """The tensor furthest above the control: (twins' gap ÷ the control's, kind, name)."""
        return max(((gap / max(self.control.get(kind, {}).get(n, 0.0), FLOOR[dtype]), kind, n)
                    for kind, gaps in self.twins.items() for n, gap in gaps.items()), default=(0.0, "", ""))

    def weights_gap(self, which: str) -> float:
        return self.weights.get(which, 0.0)


def compare_snapshots(twins: tuple[Snapshot, Snapshot], control: tuple[Snapshot, Snapshot], step: int, lr: float,
                      layer_order: list[str]) -> StepGaps:
    gaps = StepGaps(step, lr)
    for kind in KINDS:
        want, got = twins[0][kind], twins[1][kind]
        names = [n for n in layer_order if n in want and n in got] if kind == "layer output" else list(want)
        missing = [n for n in want if n not in got] if kind != "layer output" else []
        gaps.twins[kind] = {n: relative_gap(want[n], got[n]) for n in names}
        gaps.twins[kind].update({n: float("inf") for n in missing})
        a, b = control[0][kind], control[1][kind]
        gaps.control[kind] = {n: relative_gap(a[n], b[n]) for n in a if n in b}
    for which, (a, b) in (("twins", twins), ("control", control)):
        pairs = [(a[k][n], b[k][n]) for k in ("parameter", "BatchNorm buffer") for n in a[k] if n in b[k]]
        scale = max([0.0, *(float(np.abs(x).max()) for x, _ in pairs if x.size)])
        diff = max([0.0, *(float(np.abs(x - y).max()) for x, y in pairs if x.size and x.shape == y.shape)])
        gaps.weights[which] = diff / scale if scale else diff
    return gaps


@dataclass
class Verdict:
    model: str
    variant: str
    backend: str
    dtype: str
    steps: list[StepGaps]
    final: StepGaps | None
    dropout: str
    seconds: float
    batch_size: int

    @property
    def different(self) -> tuple[StepGaps, str, list[str]] | None:
        if self.dropout.startswith("DIFFERENT"):
            return StepGaps(0, 0.0), "dropout", [self.dropout.split("— ", 1)[-1]]
        for gaps in [*self.steps, *([self.final] if self.final else [])]:
            if (found := gaps.beyond(self.dtype)) is not None:
                return gaps, *found
        return None

    def parted(self, which: str) -> int | None:
        return next((g.step for g in self.steps if g.weights_gap(which) > PARTED), None)


class ReversedTwin(TorchTwin):
    """The control: PyTorch fed each batch with its images in reverse order. Loss, BatchNorm
    statistics and gradients are sums over the batch, so the step is the same function; only the
    order of the sums, and so the rounding, differs, at every step, as between two frameworks.
    Its per-image layer outputs are put back in the batch's order. Its initial weights are nudged
    by round-off too (nudged): reversing the batch leaves each image's own convolutions as they
    were, so exact ties (a max-pool over a flat patch of an image, behind an identity-initialised
    convolution) would stay exact, where another framework's convolution algorithm rounds them
    into near-ties that route the max-pool's gradient elsewhere."""

    def step(self, x, y, lr):
        snapshot = super().step(np.ascontiguousarray(x[::-1]), np.ascontiguousarray(y[::-1]), lr)
        snapshot["layer output"] = {n: v[::-1] for n, v in snapshot["layer output"].items()}
        return snapshot


def without_dropout(torch_model: torch.nn.Module, keras_model: keras.Model) -> None:
    """Dropout off in twin models: each framework draws its own masks, so twins with dropout on
    cannot be compared step for step."""
    for module in torch_model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    for layer in keras_model.layers:
        if isinstance(layer, keras.layers.Dropout):
            layer.rate = 0.0


def dropout_check(torch_model: torch.nn.Module, keras_model: keras.Model) -> str:
    """Dropout, verified apart from the twins: the same layers at the same rates, and each
    framework's layer in training mode keeps units scaled by 1/(1 − p) and zeroes the rest.
    Then the rates are set to 0 in both, so the twins compare everything else."""
    torch_rates = {n: m.p for n, m in torch_model.named_modules() if isinstance(m, torch.nn.Dropout) and m.p}
    keras_rates = {layer.name: layer.rate for layer in keras_model.layers
                   if isinstance(layer, keras.layers.Dropout) and layer.rate}
    if torch_rates != keras_rates:
        return f"DIFFERENT — dropout layers and rates: PyTorch {torch_rates}, Keras {keras_rates}"
    for name, rate in torch_rates.items():
        ones = np.ones((4096,), dtype=np.float32)
        kept_torch = torch.nn.functional.dropout(torch.from_numpy(ones), rate, training=True).numpy()
        kept_keras = keras.ops.convert_to_numpy(keras_model.get_layer(name)(ones, training=True))
        for values in (kept_torch, kept_keras):
            if rate and not np.allclose(np.unique(values[values != 0]), 1 / (1 - rate)):
                return f"DIFFERENT — {name} does not scale what it keeps by 1/(1 − {rate:g})"
    without_dropout(torch_model, keras_model)
    if not torch_rates:
        return "none in this model"
    rates = ", ".join(f"{n} {r:g}" for n, r in torch_rates.items())
    return f"checked apart — same layers and rates ({rates}), both keep units scaled by 1/(1 − p); off in the twins"


def nudged(model: torch.nn.Module, dtype: str, seed: int = 1) -> torch.nn.Module:
    """A copy of the model with every weight moved by CONTROL_NUDGE × its tensor's RMS × n, n
    standard normal: zeros move too (a multiplicative nudge would leave an identity kernel's
    zeros, and so its exact ties, as they are)."""
    twin = copy.deepcopy(model)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in twin.parameters():
            noise = torch.randn(param.shape, generator=generator, dtype=torch.float64).to(param.dtype)
            param.add_(CONTROL_NUDGE[dtype] * param.pow(2).mean().sqrt() * noise)
    return twin


def run_twins(torch_model: torch.nn.Module, keras_model: keras.Model, cfg: RunConfig, batches, lrs,
              held_out, dtype: str = "float64") -> Verdict:
    """Train the twins and the control (torch_model's state is the common start) on batches(step) →
    (NHWC images in dtype, labels) at the learning rates lrs; compare every step and, after the
    last, the eval-mode logits of held_out (NHWC images in dtype)."""
    start = time.perf_counter()
    keras_weights.load_torch_state(keras_model, torch_weights.to_torch_state(torch_model))
    dropout = dropout_check(torch_model, keras_model)
    layer_order = [layer.name for layer in keras_model.layers] + ["(logits)"]
    names = [n for n, _ in torch_model.named_modules() if n]
    reference = TorchTwin(torch_model, cfg, dtype, names)  # in dtype from here on
    plain, control = TorchTwin(copy.deepcopy(torch_model), cfg, dtype, names), ReversedTwin(nudged(torch_model, dtype), cfg, dtype, names)
    keras_twin = KerasTwin(keras_model, cfg, dtype, names)
    steps = []
    for step, lr in enumerate(lrs):
        x, y = batches(step)
        want, got = reference.step(x, y, lr), keras_twin.step(x, y, lr)
        in_one_layout(want, got, keras_model)
        gaps = compare_snapshots((want, got), (plain.step(x, y, lr), control.step(x, y, lr)), step + 1, lr, layer_order)
        steps.append(gaps)
        if gaps.beyond(dtype):
            break  # the rules differ here; later steps only carry the difference along
    final = None
    if not any(g.beyond(dtype) for g in steps):
        final = StepGaps(len(lrs), lrs[-1])
        logits = [t.eval_logits(held_out) for t in (reference, keras_twin, plain, control)]
        final.twins[FINAL_KIND] = {"(logits)": relative_gap(logits[0], logits[1])}
        final.control[FINAL_KIND] = {"(logits)": relative_gap(logits[2], logits[3])}
    return Verdict(cfg.model, cfg.variant, KERAS_BACKEND, dtype, steps, final, dropout, time.perf_counter() - start,
                   len(y))


def in_one_layout(want: Snapshot, got: Snapshot, keras_model: keras.Model) -> None:
    """PyTorch's layer outputs in Keras' layout (channels last, H·W·C flattening), and only the
    layers both ran (a PyTorch module that never ran, e.g. an identity branch, has none)."""
    layers = {layer.name: layer for layer in keras_model.layers}
    torch_outputs, keras_outputs = want["layer output"], got["layer output"]
    got["layer output"] = {n: v for n, v in keras_outputs.items() if n in torch_outputs}
    want["layer output"] = {n: in_keras_layout(layers.get(n), torch_outputs[n], v.shape)
                            for n, v in got["layer output"].items()}


# --- what the command prints ---------------------------------------------------------------------------

def parting(twins: int | None, control: int | None, steps: int) -> str:
    """Where the twins and the control part (a relative weight gap over PARTED), in words."""
    def at(step):
        return f"at step {step}" if step else f"not within {steps} steps"
    if twins is None and control is None:
        return f"neither the twins nor the control part within {steps} steps"
    return f"the twins part {at(twins)}, the control {at(control)}"


def describe(v: Verdict, label: str) -> list[str]:
    lines = [f"{v.model} ({v.variant}) — PyTorch vs {label}, {v.dtype}, batch {v.batch_size}, "
             f"{len(v.steps)} step(s) checked in {v.seconds:.0f} s; control: PyTorch vs itself on each batch in reverse "
             f"order, weights nudged by {CONTROL_NUDGE[v.dtype]:g} × their RMS; round-off band: {BAND:g} × the control's gap of each tensor (floor {FLOOR[v.dtype]:g})",
             "step  lr          weights gap: twins  control   the tensor furthest up: twins ÷ max(control, floor)"]
    for g in v.steps:
        ratio, kind, name = g.worst(v.dtype)
        lines.append(f"{g.step:4d}  {g.lr:<10.4g}  {g.weights_gap('twins'):18.1e}  {g.weights_gap('control'):7.1e}   "
                     f"{ratio:9.2g}  ({kind} {name})")
    lines.append(f"Dropout: {v.dropout}")
    found = v.different
    if found is not None:
        gaps, kind, names = found
        name = names[0]
        if kind == "dropout":
            lines.append(f"Rules: DIFFERENT RULES — dropout: {name}")
            return lines
        gap = gaps.twins[kind][name]
        control = gaps.control.get(kind, {}).get(name, 0.0)
        more = f" (and {len(names) - 1} more {kind} tensor(s))" if len(names) > 1 else ""
        lines.append(f"Rules: DIFFERENT RULES — from step {gaps.step}: {kind} {name}{more} differs by {gap:.1e} "
                     f"(relative), against the control's {control:.1e} ({gap / max(control, FLOOR[v.dtype]):.0e} ×, band {BAND:g} ×)")
        return lines
    lines.append(f"Rules: SAME RULES — the twins stay at round-off through step {len(v.steps)} and in the "
                 f"eval-mode logits after it ({v.final.twins[FINAL_KIND]['(logits)']:.1e} against "
                 f"{v.final.control[FINAL_KIND]['(logits)']:.1e}); {parting(v.parted('twins'), v.parted('control'), len(v.steps))} "
                 f"(parted: a relative weight gap over {PARTED:g}; last step's: twins {v.steps[-1].weights_gap('twins'):.1e}, "
                 f"control {v.steps[-1].weights_gap('control'):.1e}).")
    return lines


# --- the command ------------------------------------------------------------------------------------------

EXIT_DATA = 3
KERAS_LABELS = {"tensorflow": "Keras on TensorFlow", "jax": "Keras on JAX"}


def planned_steps(cfg: RunConfig, split, steps: int, batch_size: int, dtype: str):
    """The run's first `steps` planned batches of batch_size images (its epoch-1 order, crops and
    flips), as the model reads them (normalised, resized as PyTorch resizes; in dtype), the
    learning rates of the run's first steps, and the first test images as a held-out batch."""
    plan = cfg.plan(1, len(split.x_train))
    slices = plan.batch_slices(batch_size)[:steps]
    mean, std = normalization(cfg)

    def model_input(images):
        return to_batch(images, "cpu", cfg.image_size, mean, std).permute(0, 2, 3, 1).numpy().astype(dtype)

    def batches(step):
        images, labels = train_batch(split.x_train, split.y_train, plan, slices[step])
        return model_input(images), labels

    total = cfg.epochs * steps_per_epoch(len(split.x_train), cfg.batch_size)
    lrs = [cfg.learning_rate(step, total) for step in range(len(slices))]
    return batches, lrs, model_input(np.asarray(split.x_val[:batch_size]))


def check(args) -> int:
    """`compare.py verify` for one Keras backend (crosscheck.command.verify_main read args)."""
    set_torch_precision(torch.device("cpu"), "fp32")  # IEEE arithmetic in both (TF32 off)
    keras_tf32_off()
    cfg = (RunConfig.load(args.config) if args.config
           else resolve(args.model, variant=args.variant, seed=args.seed, data_dir=args.data_dir))
    if cfg.data_dir and not Path(cfg.data_dir).expanduser().exists():
        print(f"compare.py verify: error: --data-dir {cfg.data_dir} does not exist", file=sys.stderr)
        return EXIT_DATA
    try:
        split = load_split(cfg)
    except DataError as err:
        print(f"compare.py verify: {err}", file=sys.stderr)
        return EXIT_DATA
    batches, lrs, held_out = planned_steps(cfg, split, args.steps, args.batch_size, args.dtype)
    if not lrs or (len(lrs) < args.steps and not args.config):  # a run's config: as many as its first epoch has
        print(f"compare.py verify: --steps {args.steps}: the first epoch has {len(lrs)} batches of {args.batch_size}",
              file=sys.stderr)
        return 2
    torch_model, _ = initial_model(cfg, split.x_train)
    with keras_float64() if args.dtype == "float64" else contextlib.nullcontext():
        keras_model = keras_models.build_model(cfg.model, variant=cfg.variant, image_size=cfg.image_size)
        verdict = run_twins(torch_model, keras_model, cfg, batches, lrs, held_out, args.dtype)
    print(f"Recipe: {cfg.optimizer}, lr {cfg.lr:g} ({cfg.schedule}, warm-up {cfg.warmup_fraction:g}), "
          f"{'momentum ' + format(cfg.momentum, 'g') + (' Nesterov' if cfg.nesterov else '') + ', ' if cfg.optimizer == 'sgd' else ''}"
          f"weight decay {cfg.weight_decay:g}{' on every tensor' if cfg.decay_all else ''}"
          f"{f', norm biases at {cfg.norm_bias_lr_scale:g}× the rate' if cfg.norm_bias_lr_scale != 1 else ''}, "
          f"label smoothing {cfg.label_smoothing:g}; the first {len(lrs)} planned batches of seed {cfg.seed}")
    print("\n".join(describe(verdict, KERAS_LABELS[KERAS_BACKEND])), flush=True)
    if args.json:
        atomic_write_text(Path(args.json), json.dumps(as_result(verdict), indent=2) + "\n")
    return 1 if verdict.different else 0


def as_result(v: Verdict) -> dict:
    """The verdict as shared/rules.py stores and reads it."""
    found = v.different
    result = dict(verdict="different" if found else "same", model=v.model, variant=v.variant, backend=v.backend,
                  dtype=v.dtype, batch_size=v.batch_size, steps=len(v.steps), band=BAND,
                  twins_parted=v.parted("twins"), control_parted=v.parted("control"), seconds=round(v.seconds, 1),
                  commit=git_commit(Path(__file__).resolve().parents[1]))
    if found:
        gaps, kind, names = found
        result["place"] = dict(step=gaps.step, kind=kind, tensor=names[0], gap=gaps.twins.get(kind, {}).get(names[0], 0.0),
                               control=gaps.control.get(kind, {}).get(names[0], 0.0))
    return result
