"""The idiomatic reference of `compare.py bench` (tensorflow_impl/idiomatic.py mirrors this file).

The same architecture, batch, precision and device, trained the way PyTorch's own tutorials
train: `torch.optim` with one parameter group, `F.cross_entropy`, a plain loop. None of what
exact parity with Keras adds to our loop (train.py): no learning rate set in Python before every
step, no divergence check, no running loss and accuracy sums, no weight-decay groups. Its speed is
PyTorch's own; ours ÷ its (`parity_overhead`) is what the comparison's exactness costs.

The network itself is not rewritten: torchvision's builders and `nn` modules are already how
PyTorch code is written.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from shared.bench import BenchSettings, WindowTimer
from shared.config import RunConfig

from .device import autocast, grad_scaler
from .train import compiled, synchronize


def idiomatic_model(model: nn.Module) -> nn.Module:
    """A copy of the model for the reference (the same function: same modules, same weights)."""
    return copy.deepcopy(model)


def idiomatic_optimizer(model: nn.Module, cfg: RunConfig) -> torch.optim.Optimizer:
    """The optimizer a PyTorch user writes: every parameter in one group, weight decay on all."""
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(model.parameters(), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), eps=cfg.eps,
                                 weight_decay=cfg.weight_decay)
    return torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov,
                           weight_decay=cfg.weight_decay)


def time_idiomatic(model: nn.Module, x: torch.Tensor, y: torch.Tensor, cfg: RunConfig, settings: BenchSettings,
                   device: torch.device) -> WindowTimer:
    """Training steps of the reference on the pre-staged batch (x, y), timed in windows by the
    bench's rules (shared.bench): the compute figure of PyTorch's own idiom."""
    net = compiled(idiomatic_model(model), cfg)
    optimizer, scaler = idiomatic_optimizer(net, cfg), grad_scaler(device, cfg.precision)
    timer = WindowTimer(settings, cfg.batch_size, sync=lambda: synchronize(device))
    net.train()
    while not timer.done:
        with autocast(device, cfg.precision):
            loss = F.cross_entropy(net(x), y, label_smoothing=cfg.label_smoothing)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        timer.step_done()
    return timer
