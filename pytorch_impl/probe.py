"""Linear probe on cached features (shared/features.py): the frozen backbone runs once over the
training and validation images, then the head trains on its outputs for every epoch, with the
same plan order, optimizer, schedule and loss as the full path (train.py), so the two give the
same result up to float round-off when there is no augmentation (tested)."""

from __future__ import annotations

import sys
import time

import numpy as np
import torch
from torch import nn

from shared.architectures import HEAD
from shared.batch_plan import eval_slices, steps_per_epoch
from shared.config import RunConfig
from shared.features import cached_or_extracted, probe_plan
from shared.metrics import steady_images_per_sec
from shared.run import RecordWriter, Split, normalization, print_epoch

from .data import to_batch, to_labels
from .device import autocast, grad_scaler
from .optim import make_loss, make_optimizer, set_learning_rate


def split_head(model: nn.Module, name: str) -> tuple[nn.Module, nn.Linear]:
    """(the model with its head replaced by Identity — the feature extractor —, the head)."""
    head = model.get_submodule(HEAD[name])
    model.set_submodule(HEAD[name], nn.Identity())
    return model, head


def extract(backbone: nn.Module, x: np.ndarray, cfg: RunConfig, device) -> tuple[np.ndarray, float]:
    """(features of every image in eval mode, at the run's precision as evaluation runs (Keras
    extracts under its global policy), images/s)."""
    backbone.eval()
    parts = []
    start = time.perf_counter()
    with torch.inference_mode(), autocast(device, cfg.precision):
        for where in eval_slices(len(x), cfg.eval_batch_size):
            parts.append(backbone(to_batch(x[where], device, cfg.image_size, *normalization(cfg))).float().cpu().numpy())
    return np.concatenate(parts), len(x) / (time.perf_counter() - start)


def cached_features(backbone, x, cfg: RunConfig, device, *, init: str, part: str) -> tuple[np.ndarray, float | None]:
    return cached_or_extracted(cfg, lambda: extract(backbone, x, cfg, device), n=len(x), backend="torch",
                               framework_version=torch.__version__, init=init, part=part)


def train_probe(model: nn.Module, cfg: RunConfig, split: Split, writer: RecordWriter, init: str, device) -> int:
    backbone, head = split_head(model, cfg.model)
    train_x, train_rate = cached_features(backbone, split.x_train, cfg, device, init=init, part="train")
    val_x, val_rate = cached_features(backbone, split.x_val, cfg, device, init=init, part="val")
    rates = [r for r in (train_rate, val_rate) if r is not None]
    feature_rate = sum(rates) / len(rates) if rates else None
    train_x, val_x = torch.from_numpy(train_x).to(device), torch.from_numpy(val_x).to(device)
    train_y, val_y = to_labels(split.y_train, device), to_labels(split.y_val, device)

    # The head steps as the full path's do (autocast, loss scaling); train.py imports this module.
    from .train import train_step
    optimizer, loss_fn, scaler = make_optimizer(head, cfg), make_loss(cfg), grad_scaler(device, cfg.precision)
    steps = steps_per_epoch(len(train_x), cfg.batch_size)
    for epoch in range(1, cfg.epochs + 1):
        start = time.perf_counter()
        plan = probe_plan(cfg, epoch, len(train_x))
        slices = plan.batch_slices(cfg.batch_size)
        # Sums stay on the device, as in train.py: no per-step host sync.
        loss_sum = torch.zeros((), device=device)
        correct, steady_start = torch.zeros((), device=device, dtype=torch.int64), None
        for i, where in enumerate(slices):
            if i == cfg.warmup_batches:
                steady_start = time.perf_counter()
            set_learning_rate(optimizer, cfg.learning_rate((epoch - 1) * steps + i, steps * cfg.epochs))
            index = torch.from_numpy(plan.order[where]).to(device)
            loss, logits = train_step(head, optimizer, scaler, loss_fn, train_x[index], train_y[index], cfg, device)
            loss_sum += loss
            correct += (logits.argmax(1) == train_y[index]).sum()
        loss_sum, correct = loss_sum.item(), correct.item()
        train_seconds = None if steady_start is None else time.perf_counter() - steady_start
        eval_start = time.perf_counter()
        with torch.inference_mode(), autocast(device, cfg.precision):
            val_logits = head(val_x)
            val_loss = loss_fn(val_logits, val_y).item()
            val_acc = (val_logits.argmax(1) == val_y).float().mean().item()
        eval_rate = len(val_x) / (time.perf_counter() - eval_start)
        record = writer.write(
            epoch=epoch, train_loss=loss_sum / len(slices), train_acc=correct / (len(slices) * cfg.batch_size),
            val_loss=val_loss, val_acc=val_acc, epoch_seconds=time.perf_counter() - start,
            train_images_per_sec=steady_images_per_sec(len(slices), cfg.warmup_batches, cfg.batch_size, train_seconds),
            eval_images_per_sec=eval_rate, peak_device_mb=None, feature_images_per_sec=feature_rate)
        print_epoch(record)
        if record.status != "ok":
            print(f"[torch] {record.status}", file=sys.stderr)
            return 1
    return 0
