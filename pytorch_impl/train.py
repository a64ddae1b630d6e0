"""PyTorch training: a plain loop over the shared batch plan, with a tqdm bar per epoch.

    python -m pytorch_impl RUN_DIR        (compare.py does this; RUN_DIR holds config.json)
"""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch
from tqdm import tqdm

from shared.batch_plan import eval_slices, steps_per_epoch
from shared.bench import WindowTimer
from shared.config import RunConfig
from shared.distributed import scaling_settings
from shared.metrics import steady_images_per_sec
from shared.run import (INITIAL_WEIGHTS, RecordWriter, Split, divergence_check_every, first_batch_chunks,
                        initial_weights_source, load_split, normalization, print_epoch)
from shared.weights_io import load_arrays

from . import checkpoint
from .data import ResidentImages, eval_batches, training_batches, to_batch, to_labels
from .device import autocast, gpu_math, grad_scaler, make_deterministic, peak_device_mb, set_precision
from .distributed import Replica, data_parallel, join, leave, sync_batch_norm
from .models import build_model, count_params, freeze_backbone
from .optim import make_loss, make_optimizer, set_learning_rate
from .probe import train_probe
from .tta import tta_logits
from .weights import load_torch_state


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def compiled(model: torch.nn.Module, cfg: RunConfig) -> torch.nn.Module:
    """What runs the steps: torch.compile(model) with --compile (the first steps compile: the
    warm-up batches of the img/s figures cover them), else the model itself. Either way `model`
    holds the state that checkpoints save."""
    return torch.compile(model) if cfg.compile else model


def train_step(net, optimizer, scaler, loss_fn, x: torch.Tensor, y: torch.Tensor, cfg: RunConfig,
               device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """One optimizer step in the config's precision; (loss, logits), detached, on the device."""
    with autocast(device, cfg.precision):
        logits = net(x)
        loss = loss_fn(logits, y)
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
    return loss.detach(), logits.detach()


def evaluate(net, loss_fn, x: np.ndarray, y: np.ndarray, cfg: RunConfig, device,
             resident: ResidentImages | None = None, tta: str = "none") -> tuple[float, float, float]:
    """(loss, accuracy, images/s) over the whole set in eval mode, weighted by image; with a
    test-time augmentation mode, of the logits averaged over its views (shared/tta.py)."""
    net.eval()
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.int64)
    batches = eval_batches(x, y, eval_slices(len(x), cfg.eval_batch_size), device, cfg.image_size,
                           *normalization(cfg), resident=resident)
    start = time.perf_counter()
    with torch.inference_mode(), autocast(device, cfg.precision):
        for images, labels in batches:
            logits = net(images) if tta == "none" else tta_logits(net, images, tta)
            loss_sum += loss_fn(logits, labels).float() * len(labels)
            correct += (logits.argmax(1) == labels).sum()
    synchronize(device)
    seconds = time.perf_counter() - start
    return loss_sum.item() / len(x), correct.item() / len(x), len(x) / seconds


def initial_loss(model, loss_fn, split: Split, cfg: RunConfig, device) -> float:
    """The loss of the first planned batch before any update, in inference mode, in the run's
    precision (shared.metrics), in evaluation-sized chunks (shared.run.first_batch_chunks)."""
    model.eval()
    total, count = 0.0, 0
    with torch.inference_mode(), autocast(device, cfg.precision):
        for images, labels in first_batch_chunks(split, cfg):
            logits = model(to_batch(images, device, cfg.image_size, *normalization(cfg)))
            total += loss_fn(logits, to_labels(labels, device)).float().item() * len(labels)
            count += len(labels)
    return total / count


def train_epoch(net, optimizer, scaler, loss_fn, split: Split, cfg: RunConfig, epoch: int, device,
                resident: ResidentImages | None = None, timer: WindowTimer | None = None,
                replica: Replica | None = None,
                feed: Callable[[Iterator], Iterator] | None = None) -> tuple[float, float, float, int | None]:
    """(mean train loss, train accuracy, steady-state images/s, the step at which the loss turned
    non-finite or None) over the epoch's planned batches; a non-finite loss ends the epoch.
    With a timer (compare.py bench), each step is reported to it, and the epoch ends when it is done;
    with a feed too, the input pipeline's batches reach the loop through feed(batches), which puts
    pre-staged batches between them (shared.bench.step_sources).
    With a replica of several, this process trains its slice of every global batch; the figures
    are those of the global batches (sums over the replicas, images/s of the whole run)."""
    replica = replica or Replica(0, 1, device)
    plan = cfg.plan(epoch, len(split.x_train))
    slices = [replica.shard(where) for where in plan.batch_slices(cfg.batch_size)]
    steps = steps_per_epoch(len(split.x_train), cfg.batch_size)
    total_steps = steps * cfg.epochs
    # A linear probe trains only the head: the frozen backbone stays in inference mode (BatchNorm
    # statistics fixed, no dropout), so the whole model stays in eval mode.
    net.train(cfg.mode != "linear-probe")
    # Sums stay on the device: no per-step host sync, which would stall a GPU.
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.int64)
    check_every = divergence_check_every(device.type)  # and at the end of the epoch
    diverged_at = None
    steady_start = None
    batches = training_batches(split.x_train, split.y_train, plan, slices, device, cfg.image_size,
                               *normalization(cfg), resident=resident)
    if feed is not None:
        batches = feed(batches)
    bar = tqdm(batches, total=timer.total_steps if timer is not None else len(slices), desc=f"[torch] epoch {epoch}/{cfg.epochs}", leave=False,
               file=sys.stdout, disable=not sys.stdout.isatty())
    for i, (x, y) in enumerate(bar):
        if i == cfg.warmup_batches:
            synchronize(device)
            steady_start = time.perf_counter()
        set_learning_rate(optimizer, cfg.learning_rate((epoch - 1) * steps + i, total_steps))
        loss, logits = train_step(net, optimizer, scaler, loss_fn, x, y, cfg, device)
        loss_sum += loss.float()
        correct += (logits.argmax(1) == y).sum()
        if ((i + 1) % check_every == 0 or i + 1 == len(slices)) and not torch.isfinite(replica.sum(loss_sum)):
            diverged_at = i + 1
            break
        if timer is not None:
            timer.step_done()
            if timer.done:
                break
    synchronize(device)
    done = diverged_at or i + 1
    images_per_sec = steady_images_per_sec(
        done, cfg.warmup_batches, cfg.batch_size,
        None if steady_start is None else time.perf_counter() - steady_start)
    loss_sum, correct = replica.sum(loss_sum), replica.sum(correct)  # each replica's mean is over its slice
    return (loss_sum.item() / (done * replica.world_size), correct.item() / (done * cfg.batch_size),
            images_per_sec, diverged_at)


def single_device_images_per_sec(cfg: RunConfig, split: Split, device: torch.device,
                                 resident: ResidentImages | None) -> float | None:
    """The training loop's img/s on this one device alone, at the run's global batch: what
    scaling efficiency divides by (shared/distributed.py). A fresh model (plain BatchNorm, no
    collective) trains the first batches of epoch 1, timed by shared/bench.py's rules; the RNG
    is restored afterwards, so the run itself draws what it would have drawn without this."""
    settings = scaling_settings(steps_per_epoch(len(split.x_train), cfg.batch_size))
    if settings is None:
        return None
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        model = build_model(cfg.model, variant=cfg.variant, num_classes=cfg.num_classes, image_size=cfg.image_size)
        model.to(device, memory_format=torch.channels_last)
        timer = WindowTimer(settings, cfg.batch_size, sync=lambda: synchronize(device))
        train_epoch(compiled(model, cfg), make_optimizer(model, cfg), grad_scaler(device, cfg.precision), make_loss(cfg),
                    split, cfg, 1, device, resident, timer=timer)
    return timer.images_per_sec()


def train(cfg: RunConfig, run_dir: Path) -> int:
    torch.manual_seed(cfg.seed)
    replica = join(cfg)
    try:
        return train_replica(cfg, run_dir, replica)
    finally:
        leave(replica)


def train_replica(cfg: RunConfig, run_dir: Path, replica: Replica) -> int:
    """train() in one process: the only one, or one replica of several (rank 0 writes the records
    and checkpoints, evaluates and measures the single-device baseline; the others wait for it)."""
    device = replica.device
    set_precision(device, cfg.precision)
    cfg = dataclasses.replace(cfg, device=device.type)  # "auto" resolved, e.g. for the features cache key
    make_deterministic(device)
    split = load_split(cfg)
    model = build_model(cfg.model, variant=cfg.variant, num_classes=cfg.num_classes, image_size=cfg.image_size)
    init_path = Path(run_dir) / INITIAL_WEIGHTS
    if init_path.exists():
        load_torch_state(model, load_arrays(init_path))
    elif cfg.pretrained:
        raise FileNotFoundError(f"{init_path} is missing: {cfg.mode} needs the pretrained initial weights")
    if cfg.mode == "linear-probe":
        freeze_backbone(model, cfg.model)
    if replica.distributed:
        model = sync_batch_norm(model, device)
    model.to(device, memory_format=torch.channels_last)
    init, loss_fn = initial_weights_source(run_dir, cfg), make_loss(cfg)
    resident_train = resident_val = None
    if device.type == "cuda":  # the uint8 sets live on the GPU: no host-to-device copy per step
        resident_train = ResidentImages(split.x_train, split.y_train, device)
        resident_val = ResidentImages(split.x_val, split.y_val, device)
    writer = None
    if replica.is_main:
        single = single_device_images_per_sec(cfg, split, device, resident_train) if replica.distributed else None
        writer = RecordWriter(cfg, run_dir, backend="torch", framework_version=torch.__version__,
                              device=device.type, params=count_params(model), init=init, split=split,
                              initial_loss=initial_loss(model, loss_fn, split, cfg, device),
                              world_size=replica.world_size, single_device_images_per_sec=single,
                              gpu_math=gpu_math(device))
    replica.barrier()
    if cfg.mode == "linear-probe" and cfg.probe == "features":
        writer.keep_through(0)  # the head trains in seconds on cached features: a resume restarts it
        return train_probe(model, cfg, split, writer, init, device)
    optimizer, scaler = make_optimizer(model, cfg), grad_scaler(device, cfg.precision)
    done = checkpoint.restore(run_dir, model, optimizer, scaler)
    if replica.is_main:
        writer.keep_through(done)
        if done:
            print(f"[torch] resumed after epoch {done} from {checkpoint.checkpoint_path(run_dir)}", flush=True)
    net = compiled(data_parallel(model, replica), cfg)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    for epoch in range(done + 1, cfg.epochs + 1):
        start = time.perf_counter()
        train_loss, train_acc, train_ips, diverged_at = train_epoch(net, optimizer, scaler, loss_fn, split, cfg,
                                                                    epoch, device, resident_train, replica=replica)
        if not replica.is_main:
            replica.barrier()  # while rank 0 evaluates, writes and saves
            if diverged_at is not None:
                return 1
            continue
        # Rank 0 alone evaluates the whole validation set, on the model itself (DDP's forward
        # would wait for the other replicas).
        evaluated = model if replica.distributed else net
        val_loss, val_acc, eval_ips = evaluate(evaluated, loss_fn, split.x_val, split.y_val, cfg, device, resident_val)
        tta_loss = tta_acc = None
        if cfg.tta != "none":
            tta_loss, tta_acc, _ = evaluate(evaluated, loss_fn, split.x_val, split.y_val, cfg, device, resident_val,
                                            tta=cfg.tta)
        record = writer.write(epoch=epoch, train_loss=train_loss, train_acc=train_acc,
                              val_loss=val_loss, val_acc=val_acc,
                              epoch_seconds=time.perf_counter() - start,
                              train_images_per_sec=train_ips, eval_images_per_sec=eval_ips,
                              peak_device_mb=peak_device_mb(device), diverged_at=diverged_at,
                              tta_val_loss=tta_loss, tta_val_acc=tta_acc)
        print_epoch(record)
        if record.status != "ok":
            print(f"[torch] {record.status}", file=sys.stderr)
            replica.barrier()
            return 1
        checkpoint.save(run_dir, model, optimizer, scaler, epoch)
        replica.barrier()
    return 0
