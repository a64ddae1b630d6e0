"""Optimizer and loss, with the rules both backends share (see shared/config.py RunConfig):
SGD as PyTorch defines it (v = m·v + g; w -= lr·(g + m·v) with Nesterov) with L2 weight decay
added to the gradient, or AdamW with decoupled weight decay; decay only on the tensors that
shared.config.decays names (weight matrices and kernels); the learning rate set before every
step from shared.schedule."""

from __future__ import annotations

import torch
from torch import nn

from shared.config import OPTIMIZERS, RunConfig, decays


def norm_biases(model: nn.Module) -> set[int]:
    """The ids of the biases of the normalisation layers (tensorflow_impl.optim.is_norm_bias)."""
    norms = (nn.modules.batchnorm._BatchNorm, nn.LayerNorm)
    return {id(m.bias) for m in model.modules() if isinstance(m, norms) and m.bias is not None}


def make_optimizer(model: nn.Module, cfg: RunConfig) -> torch.optim.Optimizer:
    """Parameter groups by weight decay (shared.config.decays, or every tensor with decay_all) and,
    with norm_bias_lr_scale, the normalisation biases apart: lr × scale, L2 ÷ scale."""
    if cfg.optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {cfg.optimizer!r}; known: {', '.join(OPTIMIZERS)}")
    named = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
    scaled = norm_biases(model) if cfg.norm_bias_lr_scale != 1.0 else set()
    groups = {}  # (decayed, lr scale) → parameters
    for name, p in named:
        scale = cfg.norm_bias_lr_scale if id(p) in scaled else 1.0
        groups.setdefault((cfg.decay_all or decays(name, p.ndim), scale), []).append(p)
    groups = [{"params": params, "weight_decay": cfg.weight_decay / scale if decayed else 0.0, "lr_scale": scale}
              for (decayed, scale), params in sorted(groups.items(), key=lambda item: (not item[0][0], item[0][1]))]
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), eps=cfg.eps)
    return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov)


def make_loss(cfg: RunConfig) -> nn.Module:
    return nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)


def set_learning_rate(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr * group.get("lr_scale", 1.0)
