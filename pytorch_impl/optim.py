"""Optimizer and loss, with the rules both backends share (see shared/config.py RunConfig):
SGD as PyTorch defines it (v = m·v + g; w -= lr·(g + m·v) with Nesterov) with L2 weight decay
added to the gradient, or AdamW with decoupled weight decay; decay only on the tensors that
shared.config.decays names (weight matrices and kernels); the learning rate set before every
step from shared.schedule."""

from __future__ import annotations

import torch
from torch import nn

from shared.config import OPTIMIZERS, RunConfig, decays


def make_optimizer(model: nn.Module, cfg: RunConfig) -> torch.optim.Optimizer:
    if cfg.optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {cfg.optimizer!r}; known: {', '.join(OPTIMIZERS)}")
    named = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
    groups = [{"params": [p for name, p in named if decays(name, p.ndim)], "weight_decay": cfg.weight_decay},
              {"params": [p for name, p in named if not decays(name, p.ndim)], "weight_decay": 0.0}]
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), eps=cfg.eps)
    return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov)


def make_loss(cfg: RunConfig) -> nn.Module:
    return nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)


def set_learning_rate(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr
