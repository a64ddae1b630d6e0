"""Learning-rate schedules as plain functions of the optimizer step, evaluated per batch in both
backends (PyTorch sets param_group["lr"], Keras assigns optimizer.learning_rate) so that the two
see the very same number at every step."""

from __future__ import annotations


def learning_rate(step: int, total_steps: int, *, peak_lr: float, schedule: str,
                  warmup_fraction: float) -> float:
    if schedule == "constant":
        return peak_lr
    if schedule == "onecycle":
        # Linear warm-up from peak/10 to peak, then linear decay to zero at the last step:
        # the triangular one-cycle that airbench and the DAWNBench CIFAR entries use.
        warmup = max(1, round(warmup_fraction * total_steps))
        if step < warmup:
            return peak_lr * (0.1 + 0.9 * step / warmup)
        return peak_lr * max(0.0, (total_steps - step) / max(1, total_steps - warmup))
    raise ValueError(f"unknown schedule {schedule!r}; known: constant, onecycle")
