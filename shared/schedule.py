"""Learning-rate schedules as plain functions of the optimizer step, evaluated per batch in both
backends (PyTorch sets param_group["lr"], Keras assigns optimizer.learning_rate) so that the two
see the very same number at every step."""

from __future__ import annotations

import math

SCHEDULES = ("constant", "onecycle", "cosine")


def learning_rate(step: int, total_steps: int, *, peak_lr: float, schedule: str,
                  warmup_fraction: float) -> float:
    """constant: the peak throughout. onecycle and cosine: a linear warm-up from peak/10 to the
    peak over the first `warmup_fraction` of the steps, then down to zero at the end — linearly
    (the triangular one-cycle of airbench and the DAWNBench CIFAR entries) or along half a cosine
    (the fine-tuning schedule of the ViT and BiT papers)."""
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r}; known: {', '.join(SCHEDULES)}")
    if schedule == "constant":
        return peak_lr
    warmup = max(1, round(warmup_fraction * total_steps))
    if step < warmup:
        return peak_lr * (0.1 + 0.9 * step / warmup)
    progress = min(1.0, (step - warmup) / max(1, total_steps - warmup))
    if schedule == "onecycle":
        return peak_lr * (1.0 - progress)
    return peak_lr * 0.5 * (1.0 + math.cos(math.pi * progress))
