"""Data-parallel training, the parts both backends share: who trains which images, how many CPU
threads a "device" gets, and the scaling figure. The engines are the frameworks' own: torchrun and
DistributedDataParallel in PyTorch (pytorch_impl/distributed.py), tf.distribute's
MirroredStrategy in Keras (tensorflow_impl/distributed.py).

The contract: N devices train on exactly the batches of a one-device run. Each step's global
batch comes from the shared plan as before; replica r takes the r-th of N equal, contiguous
slices of it (what DDP ranks are given here, and what MirroredStrategy's split of a global batch
gives its replica r). Gradients are averaged over replicas, so with synchronised BatchNorm (the
batch statistics of the whole global batch, in both backends) an N-device step computes the
one-device step, up to the order of floating-point sums (tested on a check model, 8 steps:
weights within 1e-5, tests/distributed_check.py, which also says why not on the CNN).

Scaling efficiency = global img/s with N devices ÷ (N × img/s of one such device training the
same global batch alone). The single-device figure is measured by the same process, before it
trains, so it is taken on the same machine under the same settings: on a GPU one GPU; on the CPU
one device's share of the cores (each of the N devices gets cores ÷ N threads).
"""

from __future__ import annotations

import os

from shared.bench import BenchSettings

# The single-device measurement before a multi-device run: short, since it is overhead on every
# such run; the median of its windows (shared/bench.py's rules).
SCALING_WARMUP_STEPS, SCALING_WINDOWS, SCALING_WINDOW_STEPS = 3, 3, 3


def shard(where: slice, rank: int, world_size: int) -> slice:
    """Replica `rank`'s contiguous part of the global batch `where` (its size divisible by N)."""
    per_replica = (where.stop - where.start) // world_size
    start = where.start + rank * per_replica
    return slice(start, start + per_replica)


def batch_problem(batch_size: int, devices: int) -> str | None:
    """Why this global batch cannot be split over these devices, or None."""
    if batch_size % devices:
        return (f"--batch-size {batch_size} does not split over --devices {devices}: the global batch must be "
                f"a multiple of the device count (each device trains batch_size ÷ devices images per step)")
    return None


def cpu_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def threads_per_device(devices: int) -> int:
    """On the CPU, the cores are split between the devices: each gets this many threads."""
    return max(1, cpu_cores() // devices)


def scaling_settings(steps_per_epoch: int) -> BenchSettings | None:
    """The windows of the single-device measurement, shortened to fit one epoch; None when an
    epoch is too short to time anything."""
    window_steps = min(SCALING_WINDOW_STEPS, (steps_per_epoch - SCALING_WARMUP_STEPS) // SCALING_WINDOWS)
    if window_steps < 1:
        return None
    return BenchSettings(warmup_steps=SCALING_WARMUP_STEPS, windows=SCALING_WINDOWS, window_steps=window_steps)


def scaling_efficiency(images_per_sec: float, world_size: int, single_device_images_per_sec: float | None) -> float | None:
    """N-device throughput ÷ (N × one device's): 1.0 is perfect scaling."""
    if world_size <= 1 or not single_device_images_per_sec:
        return None
    return images_per_sec / (world_size * single_device_images_per_sec)

