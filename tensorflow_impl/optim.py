"""Optimizer and loss, with the rules both backends share (see pytorch_impl/optim.py):
PyTorch's SGD update rule — Keras' own SGD folds the learning rate into the velocity, which
differs as soon as the learning rate changes — L2 weight decay added to the gradient of conv and
dense kernels only, and label smoothing with PyTorch's formula."""

from __future__ import annotations

import keras
from keras import ops

from shared.config import RunConfig


class TorchSGD(keras.optimizers.Optimizer):
    """v = m·v + g (+ wd·w for kernels);  w -= lr·(g + m·v) with Nesterov, else w -= lr·v."""

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, l2=0.0, name="torch_sgd", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.momentum, self.nesterov, self.l2 = momentum, nesterov, l2

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self.velocities = [self.add_variable_from_reference(v, "velocity") for v in variables]

    def update_step(self, gradient, variable, learning_rate):
        lr = ops.cast(learning_rate, variable.dtype)
        g = ops.cast(gradient, variable.dtype)
        if self.l2 and len(variable.shape) > 1:
            g = g + self.l2 * variable
        if not self.momentum:
            self.assign_sub(variable, lr * g)
            return
        v = self.velocities[self._get_variable_index(variable)]
        self.assign(v, self.momentum * v + g)
        self.assign_sub(variable, lr * (g + self.momentum * v if self.nesterov else v))

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov, "l2": self.l2}


def make_optimizer(cfg: RunConfig) -> TorchSGD:
    if cfg.optimizer != "sgd":
        raise ValueError(f"unknown optimizer {cfg.optimizer!r}; known: sgd")
    return TorchSGD(cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov, l2=cfg.weight_decay)


def make_loss(cfg: RunConfig) -> keras.losses.Loss:
    # With one-hot targets, Keras' smoothing y·(1−ε) + ε/K is PyTorch's CrossEntropyLoss formula.
    return keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=cfg.label_smoothing)
