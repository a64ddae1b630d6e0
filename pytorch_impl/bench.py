"""The PyTorch side of `compare.py bench` (shared/bench.py has the method; tensorflow_impl/bench.py
mirrors this file).

    python -m pytorch_impl.bench RUN_DIR      (compare.py bench does this; RUN_DIR holds config.json
                                               and bench.json)
"""

from __future__ import annotations

if __name__ == "__main__":
    # `python -m pytorch_impl.bench RUN_DIR`: run_backend imports torch, then this module (again, as
    # pytorch_impl.bench), inside its guard, so an install that fails to import fails in one line.
    from shared.run import run_backend
    raise SystemExit(run_backend("torch", "pytorch_impl.bench:bench"))

import time
from pathlib import Path

import torch

from shared.metrics import peak_host_mb

BASELINE_HOST_MB = peak_host_mb()  # torch is imported, nothing else yet: the framework's own footprint

from shared.bench import (COMPUTE, BenchSettings, WindowTimer, cpu_ms_per_call, median_ms,  # noqa: E402
                          print_record, step_sources, write_record)
from shared.config import RunConfig  # noqa: E402
from shared.run import load_split, normalization  # noqa: E402

from .data import ResidentImages, training_batches  # noqa: E402
from .device import (autocast, gpu_math, grad_scaler, make_deterministic, peak_device_mb, resolve_device,  # noqa: E402
                     set_precision)
from .idiomatic import time_idiomatic  # noqa: E402
from .models import build_model, count_params  # noqa: E402
from .optim import make_loss, make_optimizer  # noqa: E402
from .train import compiled, evaluate, synchronize, train_epoch  # noqa: E402


def bench(cfg: RunConfig, run_dir: Path) -> int:
    settings = BenchSettings.load(run_dir)
    torch.manual_seed(cfg.seed)
    device = resolve_device(cfg.device)
    make_deterministic(device)  # measured as training runs
    set_precision(device, cfg.precision)
    start = time.perf_counter()
    split = load_split(cfg)
    data_load_seconds = time.perf_counter() - start
    model = build_model(cfg.model, variant=cfg.variant, num_classes=cfg.num_classes, image_size=cfg.image_size)
    model.to(device, memory_format=torch.channels_last)
    net, loss_fn = compiled(model, cfg), make_loss(cfg)
    optimizer, scaler = make_optimizer(model, cfg), grad_scaler(device, cfg.precision)
    n_eval = min(settings.eval_images, len(split.x_val))
    resident_train = resident_val = None
    if device.type == "cuda":
        resident_train = ResidentImages(split.x_train, split.y_train, device)
        resident_val = ResidentImages(split.x_val[:n_eval], split.y_val[:n_eval], device)
        torch.cuda.reset_peak_memory_stats(device)

    # 1-2. compute and train windows, alternating in one stream of train_epoch's steps: compute
    # steps train on the first planned batch, staged on the device once; train steps on the
    # training loop's own input pipeline (epoch 1's batches).
    plan = cfg.plan(1, len(split.x_train))
    x, y = next(training_batches(split.x_train, split.y_train, plan, plan.batch_slices(cfg.batch_size)[:1], device,
                                 cfg.image_size, *normalization(cfg), resident=resident_train))

    def feed(pipeline):
        for source in step_sources(settings):
            yield (x, y) if source == COMPUTE else next(pipeline)
    timer = WindowTimer(settings, cfg.batch_size, sync=lambda: synchronize(device), sources=2)
    train_epoch(net, optimizer, scaler, loss_fn, split, cfg, 1, device, resident_train, timer=timer, feed=feed)

    # 3. eval, after one untimed batch (torch.compile traces eval mode apart).
    x_val, y_val = split.x_val[:n_eval], split.y_val[:n_eval]
    evaluate(net, loss_fn, x_val[:cfg.eval_batch_size], y_val[:cfg.eval_batch_size], cfg, device, None)
    _, _, eval_ips = evaluate(net, loss_fn, x_val, y_val, cfg, device, resident_val)

    # 4. the input pipeline's CPU cost per batch, alone (epoch 2's batches: not cached by anything above).
    plan2 = cfg.plan(2, len(split.x_train))
    batches = training_batches(split.x_train, split.y_train, plan2, plan2.batch_slices(cfg.batch_size), device,
                               cfg.image_size, *normalization(cfg), resident=resident_train)
    pipeline_cpu = cpu_ms_per_call(lambda: next(batches), settings.windows * settings.window_steps,
                                   warmup=settings.warmup_steps)

    # 5. latency of one image.
    one = x[:1]

    def infer():
        with torch.inference_mode(), autocast(device, cfg.precision):
            net(one)
        synchronize(device)
    latency = median_ms(infer, settings.latency_runs, settings.latency_warmup)
    peak_mb, peak_gpu_mb = peak_host_mb(), peak_device_mb(device)

    # 6. the idiomatic reference, on the same staged batch.
    idiomatic = time_idiomatic(model, x, y, cfg, settings, device)

    record = write_record(
        run_dir, cfg, settings, backend="torch", framework_version=torch.__version__, device=device.type,
        params_total=count_params(model)[0], timer=timer, idiomatic=idiomatic,
        eval_images_per_sec=eval_ips, latency_ms_batch1=latency, pipeline_cpu_ms_per_batch=pipeline_cpu,
        peak_host_mb=peak_mb, baseline_host_mb=BASELINE_HOST_MB,
        peak_device_mb=peak_gpu_mb, data_load_seconds=data_load_seconds, gpu_math=gpu_math(device))
    print_record(record)
    return 0
