"""Keras training, on TensorFlow or JAX (engine.py): `fit` over the shared batch plan, with a
callback (callbacks.py) that sets the learning rate before every step, times the epoch and writes
the shared records. A linear probe on cached features (probe.py) fits the head alone
on the backbone's outputs.

    python -m tensorflow_impl RUN_DIR          (compare.py does this; RUN_DIR holds config.json)
    python -m tensorflow_impl.on_jax RUN_DIR   (the same, Keras on JAX)
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import keras

from shared.batch_plan import steps_per_epoch
from shared.config import RunConfig
from shared.distributed import scaling_settings
from shared.run import (INITIAL_WEIGHTS, RecordWriter, Split, first_batch_chunks, initial_weights_source,
                        load_split, normalization, run_whitening_filters)
from shared.weights_io import load_arrays

from . import checkpoint
from .callbacks import EpochRecorder, timed_fit
from .engine import BACKEND, FRAMEWORK_VERSION, data, device, distributed, jit_compile
from .models import build_model, count_params, freeze_backbone
from .optim import make_loss, make_optimizer
from .weights import load_torch_state


def initial_loss(model: keras.Model, loss, split: Split, cfg: RunConfig) -> float:
    """The loss of the first planned batch before any update, in inference mode (shared.metrics),
    in evaluation-sized chunks (shared.run.first_batch_chunks)."""
    infer = device.compiled_inference(model, jit_compile(cfg))
    total, count = 0.0, 0
    for images, labels in first_batch_chunks(split, cfg):
        logits = infer(data.to_batch(images, cfg.image_size, *normalization(cfg)))
        total += float(loss(keras.ops.one_hot(labels, cfg.num_classes), logits)) * len(labels)
        count += len(labels)
    return total / count


def single_device_images_per_sec(cfg: RunConfig, split: Split, on: str) -> float | None:
    """fit's img/s on one device alone (the default strategy: the first GPU, or the first
    logical CPU with its share of the threads), at the run's global batch: what scaling
    efficiency divides by (shared/distributed.py). A fresh model, outside the strategy, trains
    the first batches of epoch 1, timed by shared/bench.py's rules (pytorch_impl.train mirrors it)."""
    steps = steps_per_epoch(len(split.x_train), cfg.batch_size)
    settings = scaling_settings(steps)
    if settings is None:
        return None
    model = build_model(cfg.model, variant=cfg.variant, num_classes=cfg.num_classes, image_size=cfg.image_size)
    model.compile(optimizer=make_optimizer(cfg), loss=make_loss(cfg), jit_compile=jit_compile(cfg))
    return timed_fit(model, data.training_batches(split, cfg), cfg, settings, on, steps).images_per_sec()


def train(cfg: RunConfig, run_dir: Path) -> int:
    on = device.resolve_device(cfg.device)  # "cpu" or "cuda"
    strategy = distributed.replicate(cfg, on)  # before any op: it splits the CPU into logical devices
    device.make_deterministic(on, cfg.devices)
    device.set_precision(on, cfg.precision)
    # "auto" resolved (e.g. for the features cache key); on JAX, compiled whatever --compile says (engine.jit_compile)
    cfg = dataclasses.replace(cfg, device=on, compile=jit_compile(cfg))
    keras.utils.set_random_seed(cfg.seed)
    split = load_split(cfg)
    out_dir = distributed.output_dir(run_dir)  # the run folder; on several machines, the chief's only
    with strategy.scope():
        model = build_model(cfg.model, variant=cfg.variant, num_classes=cfg.num_classes, image_size=cfg.image_size)
    if cfg.devices > 1:
        distributed.sync_batch_norm(model)
    init_path = Path(run_dir) / INITIAL_WEIGHTS
    if init_path.exists():
        load_torch_state(model, load_arrays(init_path))
        init = initial_weights_source(run_dir, cfg)
    elif cfg.pretrained:
        raise FileNotFoundError(f"{init_path} is missing: {cfg.mode} needs the pretrained initial weights")
    else:
        init = f"keras-seed{cfg.seed}"  # PyTorch is not installed: Keras' own initialisers
        if any(layer.name == "whiten" for layer in model.layers):  # the CNN's stem: whitened from the data
            model.get_layer("whiten").kernel.assign(run_whitening_filters(cfg, split.x_train).transpose(2, 3, 1, 0))  # OIHW → HWIO
            init += "+whitened"
    if cfg.mode == "linear-probe":
        freeze_backbone(model, cfg.model)
    loss = make_loss(cfg)
    # After the model is built, so that its initial weights and dropout seeds are those of a one-device run.
    single = single_device_images_per_sec(cfg, split, on) if cfg.devices > 1 else None
    writer = RecordWriter(cfg, out_dir, backend=BACKEND, framework_version=FRAMEWORK_VERSION,
                          device=on, params=count_params(model), init=init, split=split,
                          initial_loss=initial_loss(model, loss, split, cfg),
                          world_size=cfg.devices, single_device_images_per_sec=single, gpu_math=device.gpu_math(on))
    features_probe = cfg.mode == "linear-probe" and cfg.probe == "features"
    if features_probe:
        from .probe import probe_datasets
        model, train_data, val_data, feature_rate = probe_datasets(model, cfg, split, init)
    with strategy.scope():
        model.compile(optimizer=make_optimizer(cfg), loss=loss, jit_compile=jit_compile(cfg),
                      metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")])
    # The head of a features probe trains in seconds on cached features: a resume restarts it.
    done = 0 if features_probe else checkpoint.restore(run_dir, model)
    writer.keep_through(done)
    if done:
        print(f"[{BACKEND}] resumed after epoch {done} from {checkpoint.checkpoint_path(run_dir)}", flush=True)
    if not features_probe:
        train_data = distributed.distributed_training_batches(strategy, split, cfg, first_epoch=done + 1)
        val_data, feature_rate = data.eval_batches(split.x_val, split.y_val, cfg), None
    steps = steps_per_epoch(len(split.x_train), cfg.batch_size)
    recorder = EpochRecorder(cfg, writer, steps, len(split.x_val), feature_rate,
                             checkpoint_dir=None if features_probe else out_dir, device=on,
                             tta_data=None if features_probe else val_data)
    model.fit(train_data, initial_epoch=done, epochs=cfg.epochs, steps_per_epoch=steps, validation_data=val_data,
              callbacks=[recorder], shuffle=False, verbose=1 if sys.stdout.isatty() else 0)
    if recorder.status != "ok":
        print(f"[{BACKEND}] {recorder.status}", file=sys.stderr)
        return 1
    return 0
