"""The Keras side of `compare.py bench`, on TensorFlow or JAX (engine.py; shared/bench.py has the
method; pytorch_impl/bench.py mirrors this file).

    python -m tensorflow_impl.bench RUN_DIR   (compare.py bench does this; RUN_DIR holds config.json
                                               and bench.json)
    python -m tensorflow_impl.on_jax.bench RUN_DIR   (the same, Keras on JAX)
"""

from __future__ import annotations

import tensorflow_impl  # noqa: F401, I001 — sets TensorFlow's environment before it is imported

if __name__ == "__main__":
    # `python -m tensorflow_impl.bench RUN_DIR`: run_backend imports TensorFlow, then this module (again, as
    # tensorflow_impl.bench), inside its guard, so an install that fails to import fails in one line.
    from shared.run import run_backend
    raise SystemExit(run_backend("tensorflow", "tensorflow_impl.bench:bench"))

import dataclasses
import time
from pathlib import Path

import keras

from shared.metrics import peak_host_mb

BASELINE_HOST_MB = peak_host_mb()  # the framework and Keras are imported, nothing else yet

from shared.batch_plan import steps_per_epoch  # noqa: E402
from shared.bench import (BenchSettings, cpu_ms_per_call, median_ms, print_record, step_sources,  # noqa: E402
                          write_record)
from shared.config import RunConfig  # noqa: E402
from shared.run import load_split  # noqa: E402

from .callbacks import timed_fit  # noqa: E402
from .engine import BACKEND, FRAMEWORK_VERSION, data, device, jit_compile  # noqa: E402
from .idiomatic import time_idiomatic  # noqa: E402
from .models import build_model, count_params  # noqa: E402
from .optim import make_loss, make_optimizer  # noqa: E402


def bench(cfg: RunConfig, run_dir: Path) -> int:
    settings = BenchSettings.load(run_dir)
    on = device.resolve_device(cfg.device)
    device.make_deterministic(on)  # measured as training runs
    device.set_precision(on, cfg.precision)
    cfg = dataclasses.replace(cfg, compile=jit_compile(cfg))  # the records say what ran: on JAX, always XLA
    keras.utils.set_random_seed(cfg.seed)
    start = time.perf_counter()
    split = load_split(cfg)
    data_load_seconds = time.perf_counter() - start
    model = build_model(cfg.model, variant=cfg.variant, num_classes=cfg.num_classes, image_size=cfg.image_size)
    model.compile(optimizer=make_optimizer(cfg), loss=make_loss(cfg), jit_compile=jit_compile(cfg),
                  metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")])
    total_steps = steps_per_epoch(len(split.x_train), cfg.batch_size)

    # 1-2. compute and train windows, alternating in one stream of fit's steps: compute steps train
    # on the first planned batch, made once and repeated (no input work per step); train steps on
    # the training input path. Both reach fit the same way (data.interleaved).
    pipeline = data.training_batches(split, cfg)
    first = next(iter(pipeline))
    stream = data.interleaved([data.repeated(first), pipeline], step_sources(settings))  # index COMPUTE, TRAIN
    timer = timed_fit(model, stream, cfg, settings, on, total_steps, sources=2)

    # 3. eval, after one untimed batch.
    n_eval = min(settings.eval_images, len(split.x_val))
    x_val, y_val = split.x_val[:n_eval], split.y_val[:n_eval]
    model.evaluate(data.eval_batches(x_val[:cfg.eval_batch_size], y_val[:cfg.eval_batch_size], cfg), verbose=0)
    start = time.perf_counter()
    model.evaluate(data.eval_batches(x_val, y_val, cfg), verbose=0)
    eval_ips = n_eval / (time.perf_counter() - start)

    # 4. the input pipeline's CPU cost per batch, alone (its prefetch threads included).
    batches = iter(pipeline)  # a fresh iterator over the same batches: no second copy of the images
    pipeline_cpu = cpu_ms_per_call(lambda: next(batches), settings.windows * settings.window_steps,
                                   warmup=settings.warmup_steps)

    # 5. latency of one image, through a compiled graph as a served model would be.
    infer = device.compiled_inference(model, jit_compile(cfg))
    one = first[0][:1]
    latency = median_ms(lambda: keras.ops.convert_to_numpy(infer(one)), settings.latency_runs, settings.latency_warmup)
    peak_mb, peak_gpu_mb = peak_host_mb(), device.peak_device_mb(on)

    # 6. the idiomatic reference, on the same staged batch.
    idiomatic = time_idiomatic(model, data.repeated(first), cfg, settings)

    record = write_record(
        run_dir, cfg, settings, backend=BACKEND, framework_version=FRAMEWORK_VERSION, device=on,
        params_total=count_params(model)[0], timer=timer, idiomatic=idiomatic,
        eval_images_per_sec=eval_ips, latency_ms_batch1=latency, pipeline_cpu_ms_per_batch=pipeline_cpu,
        peak_host_mb=peak_mb, baseline_host_mb=BASELINE_HOST_MB,
        peak_device_mb=peak_gpu_mb, data_load_seconds=data_load_seconds, gpu_math=device.gpu_math(on))
    print_record(record)
    return 0
