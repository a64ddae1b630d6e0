"""The Keras side of `compare.py bench` (shared/bench.py has the method; pytorch_impl/bench.py
mirrors this file).

    python -m tensorflow_impl.bench RUN_DIR   (compare.py bench does this; RUN_DIR holds config.json
                                               and bench.json)
"""

from __future__ import annotations

import tensorflow_impl  # noqa: F401, I001 — sets TensorFlow's environment before it is imported

if __name__ == "__main__":
    # `python -m tensorflow_impl.bench RUN_DIR`: run_backend imports TensorFlow, then this module (again, as
    # tensorflow_impl.bench), inside its guard, so an install that fails to import fails in one line.
    import os
    from shared.run import run_backend
    os.environ["KERAS_BACKEND"] = "tensorflow"  # whatever the user's shell sets, as tensorflow_impl/__main__.py
    raise SystemExit(run_backend("tensorflow", "tensorflow_impl.bench:bench"))

import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from shared.metrics import peak_host_mb

BASELINE_HOST_MB = peak_host_mb()  # TensorFlow and Keras are imported, nothing else yet

from shared.batch_plan import steps_per_epoch  # noqa: E402
from shared.bench import (BenchSettings, cpu_ms_per_call, median_ms, print_record, step_sources,  # noqa: E402
                          write_record)
from shared.config import RunConfig  # noqa: E402
from shared.run import load_split  # noqa: E402

from .callbacks import timed_fit  # noqa: E402
from .data import eval_batches, training_batches  # noqa: E402
from .device import gpu_math, make_deterministic, peak_device_mb, resolve_device, set_precision  # noqa: E402
from .idiomatic import time_idiomatic  # noqa: E402
from .models import build_model, count_params  # noqa: E402
from .optim import make_loss, make_optimizer  # noqa: E402


def bench(cfg: RunConfig, run_dir: Path) -> int:
    settings = BenchSettings.load(run_dir)
    device = resolve_device(cfg.device)
    make_deterministic(device)  # measured as training runs
    set_precision(device, cfg.precision)
    keras.utils.set_random_seed(cfg.seed)
    start = time.perf_counter()
    split = load_split(cfg)
    data_load_seconds = time.perf_counter() - start
    model = build_model(cfg.model, variant=cfg.variant, num_classes=cfg.num_classes, image_size=cfg.image_size)
    model.compile(optimizer=make_optimizer(cfg), loss=make_loss(cfg), jit_compile=cfg.compile,
                  metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")])
    total_steps = steps_per_epoch(len(split.x_train), cfg.batch_size)
    pipeline = training_batches(split, cfg)

    # 1-2. compute and train windows, alternating in one stream of fit's steps: compute steps train
    # on the first planned batch, made once and repeated (no input work per step); train steps on
    # the training input pipeline. Both go through the same choose_from_datasets.
    first = next(iter(pipeline))
    staged = tf.data.Dataset.from_tensors(first).repeat()
    sources = tf.data.Dataset.from_tensor_slices(np.array(step_sources(settings), np.int64))
    stream = tf.data.Dataset.choose_from_datasets([staged, pipeline], sources)  # index COMPUTE, TRAIN
    timer = timed_fit(model, stream, cfg, settings, device, total_steps, sources=2)

    # 3. eval, after one untimed batch.
    n_eval = min(settings.eval_images, len(split.x_val))
    x_val, y_val = split.x_val[:n_eval], split.y_val[:n_eval]
    model.evaluate(eval_batches(x_val[:cfg.eval_batch_size], y_val[:cfg.eval_batch_size], cfg), verbose=0)
    start = time.perf_counter()
    model.evaluate(eval_batches(x_val, y_val, cfg), verbose=0)
    eval_ips = n_eval / (time.perf_counter() - start)

    # 4. the input pipeline's CPU cost per batch, alone (its prefetch threads included).
    batches = iter(pipeline)  # a fresh iterator over the same dataset: no second copy of the images
    pipeline_cpu = cpu_ms_per_call(lambda: next(batches), settings.windows * settings.window_steps,
                                   warmup=settings.warmup_steps)

    # 5. latency of one image, through a compiled graph as a served model would be.
    infer = tf.function(lambda x: model(x, training=False), jit_compile=cfg.compile)
    one = first[0][:1]
    latency = median_ms(lambda: infer(one).numpy(), settings.latency_runs, settings.latency_warmup)
    peak_mb, peak_gpu_mb = peak_host_mb(), peak_device_mb(device)

    # 6. the idiomatic reference, on the same staged batch.
    idiomatic = time_idiomatic(model, staged, cfg, settings)

    record = write_record(
        run_dir, cfg, settings, backend="tensorflow", framework_version=tf.__version__, device=device,
        params_total=count_params(model)[0], timer=timer, idiomatic=idiomatic,
        eval_images_per_sec=eval_ips, latency_ms_batch1=latency, pipeline_cpu_ms_per_batch=pipeline_cpu,
        peak_host_mb=peak_mb, baseline_host_mb=BASELINE_HOST_MB,
        peak_device_mb=peak_gpu_mb, data_load_seconds=data_load_seconds, gpu_math=gpu_math(device))
    print_record(record)
    return 0
