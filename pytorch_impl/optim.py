"""Optimizer and loss, with the rules both backends share (see shared/config.py RunConfig):
SGD as PyTorch defines it (v = m·v + g; w -= lr·(g + m·v) with Nesterov), L2 weight decay
added to the gradient of conv and dense kernels only (not biases or BatchNorm), and the
learning rate set before every step from shared.schedule."""

from __future__ import annotations

import torch
from torch import nn

from shared.config import RunConfig


def make_optimizer(model: nn.Module, cfg: RunConfig) -> torch.optim.Optimizer:
    if cfg.optimizer != "sgd":
        raise ValueError(f"unknown optimizer {cfg.optimizer!r}; known: sgd")
    params = [p for p in model.parameters() if p.requires_grad]
    decayed = [p for p in params if p.ndim > 1]
    others = [p for p in params if p.ndim <= 1]
    return torch.optim.SGD(
        [{"params": decayed, "weight_decay": cfg.weight_decay},
         {"params": others, "weight_decay": 0.0}],
        lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov)


def make_loss(cfg: RunConfig) -> nn.Module:
    return nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)


def set_learning_rate(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr
