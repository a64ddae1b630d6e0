"""Optimizer and loss, with the rules both backends share (see pytorch_impl/optim.py):
PyTorch's SGD and AdamW update rules written as Keras optimizers — Keras' own SGD folds the
learning rate into the velocity (which differs as soon as the learning rate changes) and its
Adam adds epsilon before the bias correction — weight decay only on kernels (the tensors
shared.config.decays names on the PyTorch side), and label smoothing with PyTorch's formula."""

from __future__ import annotations

import keras
from keras import ops

from shared.config import OPTIMIZERS, RunConfig


def decays(variable) -> bool:
    """Keras' side of shared.config.decays: kernels (conv, dense, depthwise, attention
    projections) are PyTorch's weight matrices; biases, norm scales and ViT's class token and
    position embedding are not kernels."""
    return variable.path.endswith("/kernel")


def is_norm_bias(variable) -> bool:
    """BatchNormalization's and LayerNormalization's beta: pytorch_impl.optim.norm_biases."""
    return variable.path.endswith("/beta")


class TorchSGD(keras.optimizers.Optimizer):
    """v = m·v + g (+ l2·w for kernels, or every variable with decay_all);  w -= lr·(g + m·v) with
    Nesterov, else w -= lr·v. Normalisation biases at norm_bias_lr_scale × lr, with l2 ÷ that scale."""

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, l2=0.0, decay_all=False,
                 norm_bias_lr_scale=1.0, name="torch_sgd", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.momentum, self.nesterov, self.l2 = momentum, nesterov, l2
        self.decay_all, self.norm_bias_lr_scale = decay_all, norm_bias_lr_scale

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self.velocities = [self.add_variable_from_reference(v, "velocity") for v in variables]
        self.decayed = [self.decay_all or decays(v) for v in variables]  # update_step sees the raw tf.Variable
        self.lr_scales = [self.norm_bias_lr_scale if is_norm_bias(v) else 1.0 for v in variables]

    def update_step(self, gradient, variable, learning_rate):
        index = self._get_variable_index(variable)
        scale = self.lr_scales[index]
        lr = ops.cast(learning_rate, variable.dtype) * scale
        g = ops.cast(gradient, variable.dtype)
        if self.l2 and self.decayed[index]:
            g = g + (self.l2 / scale) * variable
        if not self.momentum:
            self.assign_sub(variable, lr * g)
            return
        v = self.velocities[index]
        self.assign(v, self.momentum * v + g)
        self.assign_sub(variable, lr * (g + self.momentum * v if self.nesterov else v))

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov, "l2": self.l2,
                "decay_all": self.decay_all, "norm_bias_lr_scale": self.norm_bias_lr_scale}


class TorchAdamW(keras.optimizers.Optimizer):
    """torch.optim.AdamW: w -= lr·wd·w (kernels only); m, v moving averages of g and g²;
    w -= lr/(1−β1ᵗ) · m / (√v/√(1−β2ᵗ) + ε)."""

    def __init__(self, learning_rate=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, decoupled_decay=0.0,
                 decay_all=False, name="torch_adamw", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.beta1, self.beta2, self.eps, self.decoupled_decay = beta1, beta2, eps, decoupled_decay
        self.decay_all = decay_all

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self.first_moments = [self.add_variable_from_reference(v, "first_moment") for v in variables]
        self.second_moments = [self.add_variable_from_reference(v, "second_moment") for v in variables]
        self.decayed = [self.decay_all or decays(v) for v in variables]  # update_step sees the raw tf.Variable

    def update_step(self, gradient, variable, learning_rate):
        lr = ops.cast(learning_rate, variable.dtype)
        g = ops.cast(gradient, variable.dtype)
        step = ops.cast(self.iterations + 1, variable.dtype)  # iterations counts finished steps
        index = self._get_variable_index(variable)
        if self.decoupled_decay and self.decayed[index]:
            self.assign_sub(variable, lr * self.decoupled_decay * variable)
        m, v = self.first_moments[index], self.second_moments[index]
        self.assign(m, self.beta1 * m + (1.0 - self.beta1) * g)
        self.assign(v, self.beta2 * v + (1.0 - self.beta2) * g * g)
        self.assign_sub(variable, lr / (1.0 - ops.power(self.beta1, step)) * m / self.denominator(v, step))

    def denominator(self, v, step):
        """√v̂ + ε, v̂ = v / (1 − β2ᵗ): ε outside the root, after the bias correction, as PyTorch."""
        return ops.sqrt(v) / ops.sqrt(1.0 - ops.power(self.beta2, step)) + self.eps

    def get_config(self):
        return {**super().get_config(), "beta1": self.beta1, "beta2": self.beta2, "eps": self.eps,
                "decoupled_decay": self.decoupled_decay, "decay_all": self.decay_all}


def make_optimizer(cfg: RunConfig) -> keras.optimizers.Optimizer:
    if cfg.optimizer == "sgd":
        return TorchSGD(cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov, l2=cfg.weight_decay,
                        decay_all=cfg.decay_all, norm_bias_lr_scale=cfg.norm_bias_lr_scale)
    if cfg.optimizer == "adamw":
        return TorchAdamW(cfg.lr, beta1=cfg.beta1, beta2=cfg.beta2, eps=cfg.eps,
                          decoupled_decay=cfg.weight_decay, decay_all=cfg.decay_all)
    raise ValueError(f"unknown optimizer {cfg.optimizer!r}; known: {', '.join(OPTIMIZERS)}")


def make_loss(cfg: RunConfig) -> keras.losses.Loss:
    # With one-hot targets, Keras' smoothing y·(1−ε) + ε/K is PyTorch's CrossEntropyLoss formula.
    return keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=cfg.label_smoothing)
