"""The idiomatic reference of `compare.py bench` (pytorch_impl/idiomatic.py mirrors this file).

The same architecture, batch, precision and device, trained the way Keras' own guides train:
the built-in `BatchNormalization`, `keras.optimizers.SGD` / `AdamW`, `CategoricalCrossentropy`
with `label_smoothing`, `compile` and `fit` with an accuracy metric. None of what exact parity
with PyTorch adds to ours: the BatchNorm subclass that computes its moments itself (PyTorch's
unbiased running variance), the optimizers written with PyTorch's update rules, the callback
that sets the learning rate before every step and checks for divergence. Its speed is Keras'
own; ours ÷ its (`parity_overhead`) is what the comparison's exactness costs.

Kept from ours, because they are the architecture rather than the training code: the explicit
zero padding before stride-2 convolutions (Keras' "same" pads one side only, a different
function) and the exact GELU.
"""

from __future__ import annotations

import keras

from shared.bench import BenchSettings, WindowTimer
from shared.config import RunConfig

from .models.layers import BatchNorm


def idiomatic_model(model: keras.Model) -> keras.Model:
    """The model with Keras' own BatchNormalization in place of every BatchNorm, holding the same
    statistics and parameters; every other layer is the model's own (shared, not copied)."""
    swapped = {}

    def swap(layer):
        if not isinstance(layer, BatchNorm):
            return layer
        swapped[layer.name] = keras.layers.BatchNormalization(
            axis=layer.axis, momentum=layer.momentum, epsilon=layer.epsilon, name=layer.name)
        return swapped[layer.name]
    # Through an uncompiled view of the same graph: clone_model would also compile the clone
    # with ours' optimizer.
    clone = keras.models.clone_model(keras.Model(model.inputs, model.outputs, name=model.name), clone_function=swap)
    for name, layer in swapped.items():
        layer.set_weights(model.get_layer(name).get_weights())
    return clone


def idiomatic_optimizer(cfg: RunConfig) -> keras.optimizers.Optimizer:
    """The optimizer a Keras user writes: Keras' own, weight decay on every variable."""
    if cfg.optimizer == "adamw":
        return keras.optimizers.AdamW(cfg.lr, weight_decay=cfg.weight_decay, beta_1=cfg.beta1, beta_2=cfg.beta2,
                                      epsilon=cfg.eps)
    return keras.optimizers.SGD(cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov, weight_decay=cfg.weight_decay)


class _StepTimer(keras.callbacks.Callback):
    """Only what timing needs: every finished step reported to the WindowTimer, which waits for
    the step's loss at window boundaries (ours carries the same, plus the schedule and the check)."""

    def __init__(self, timer: WindowTimer):
        super().__init__()
        self.timer = timer
        timer.sync = lambda: float(self.logs["loss"])

    def on_train_batch_end(self, batch, logs=None):
        self.logs = logs
        self.timer.step_done()


def time_idiomatic(model: keras.Model, staged, cfg: RunConfig, settings: BenchSettings) -> WindowTimer:
    """fit steps of the reference on the pre-staged batch (a repeating dataset), timed in windows
    by the bench's rules (shared.bench): the compute figure of Keras' own idiom."""
    reference = idiomatic_model(model)
    reference.compile(optimizer=idiomatic_optimizer(cfg), jit_compile=cfg.compile, metrics=["accuracy"],
                      loss=keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=cfg.label_smoothing))
    timer = WindowTimer(settings, cfg.batch_size)
    reference.fit(staged, epochs=1, steps_per_epoch=timer.total_steps, callbacks=[_StepTimer(timer)], shuffle=False,
                  verbose=0)
    return timer
