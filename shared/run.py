"""What every backend process does the same way: pick the data split, name the files of a run,
write the per-epoch records, and report a failure in one line.

A run folder holds config.json, initial_weights.npz (PyTorch's initial weights, when PyTorch is
installed), <backend>.jsonl (one EpochRecord per epoch), <backend>.ckpt (the backend's state after
its last complete epoch), <backend>.log (a traceback, if the backend crashed), table.md and
backends.txt (the backends it was started with, which --resume continues).

Resuming: a backend process started on a run folder that holds its checkpoint continues after
the checkpoint's epoch (model, optimizer, RNG state; the batch plan and the schedule are functions
of the epoch and step, so they need no state), and drops any record of a later epoch (written
before a crash that came before the checkpoint). A killed run therefore loses at most the epoch
it was in, and its resumed records equal those of an uninterrupted run (tested).
"""

from __future__ import annotations

import contextlib
import importlib
import math
import os
import re
import sys
import tempfile
import traceback
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np

from shared.architectures import WHITEN_KERNEL
from shared.batch_plan import eval_slices, steps_per_epoch, train_batch
from shared.config import RunConfig
from shared.data import load_cifar10, subset_indices, train_val_split
from shared.backends import FRAMEWORK_MODULES, KERAS_BACKENDS
from shared.io import append_line_durably, atomic_write_text
from shared.whitening import whitening_filters
from shared.metrics import SCHEMA_VERSION, EpochRecord, peak_host_mb, rate_cell, read_jsonl

# Per-channel mean and std of the 50,000 training images, in 0..255 pixel units.
CIFAR10_MEAN = (125.306918, 122.950394, 113.865383)
CIFAR10_STD = (62.993219, 62.088708, 66.704900)

# torchvision's ImageNet weights expect ImageNet's statistics (every classification weight enum's
# transforms() carries these; a test checks it), in the same pixel units.
IMAGENET_MEAN = (0.485 * 255, 0.456 * 255, 0.406 * 255)
IMAGENET_STD = (0.229 * 255, 0.224 * 255, 0.225 * 255)

INITIAL_WEIGHTS = "initial_weights.npz"
CHECKPOINT = "{backend}.ckpt"
# Where the initial weights came from, as the records' `init` field says it (written beside them).
INITIAL_WEIGHTS_SOURCE = "initial_weights.txt"
# Training looks for a non-finite loss every step on the CPU, where reading the loss back is free,
# so a divergence is caught at its step; on a GPU that read is a host sync, so only every
# DIVERGENCE_CHECK_STEPS steps (and at the epoch's last), in both backends.
DIVERGENCE_CHECK_STEPS = 25


def divergence_check_every(device: str) -> int:
    """Steps between two looks at the loss on this device type ("cpu" or "cuda")."""
    return 1 if device == "cpu" else DIVERGENCE_CHECK_STEPS


def normalization(cfg: RunConfig) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(mean, std) per channel in pixel units: what the initial weights expect."""
    return (IMAGENET_MEAN, IMAGENET_STD) if cfg.pretrained else (CIFAR10_MEAN, CIFAR10_STD)


def run_whitening_filters(cfg: RunConfig, x_train: np.ndarray) -> np.ndarray:
    """The CNN's whitening filters for this run: from its training images, normalised as the
    model reads them (shared/whitening.py), in PyTorch's (out, in, kh, kw) layout."""
    return whitening_filters(x_train, *normalization(cfg), WHITEN_KERNEL)


def initial_weights_source(run_dir: Path, cfg: RunConfig) -> str:
    path = Path(run_dir) / INITIAL_WEIGHTS_SOURCE
    return path.read_text().strip() if path.exists() else f"torch-seed{cfg.seed}"


@dataclass
class Split:
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    validation: str     # "test" or "holdout<N>"


def load_split(cfg: RunConfig) -> Split:
    """Training and validation arrays for this config (uint8, still in memory-mapped form)."""
    data = load_cifar10(cfg.data_dir, download=False)
    x, y = data.x_train, data.y_train
    if cfg.val_split:
        train_idx, val_idx = train_val_split(len(x), cfg.val_split)
        x_val, y_val, validation = x[val_idx], y[val_idx], f"holdout{cfg.val_split}"
        x, y = x[train_idx], y[train_idx]
    else:
        x_val, y_val, validation = data.x_test, data.y_test, "test"
    if cfg.subset:
        idx = subset_indices(len(x), cfg.subset)
        x, y = x[idx], y[idx]
    return Split(x, y, x_val, y_val, validation)


def first_batch(split: Split, cfg: RunConfig) -> tuple[np.ndarray, np.ndarray]:
    """The first planned training batch of the run, augmented as it is trained: what the
    records' initial_loss is measured on, by each backend."""
    plan = cfg.plan(1, len(split.x_train))
    return train_batch(split.x_train, split.y_train, plan, plan.batch_slices(cfg.batch_size)[0])


def first_batch_chunks(split: Split, cfg: RunConfig) -> list[tuple[np.ndarray, np.ndarray]]:
    """first_batch in chunks of the evaluation batch, which is what bounds inference memory: one
    eager Keras call on 256 images at 224×224 held 23 GB. Each backend's initial_loss is the
    image-weighted mean of the chunks' mean losses."""
    images, labels = first_batch(split, cfg)
    return [(images[where], labels[where]) for where in eval_slices(len(images), cfg.eval_batch_size)]


class RecordWriter:
    """Builds the schema's EpochRecord from a backend's numbers and appends it to the JSONL."""

    def __init__(self, cfg: RunConfig, run_dir: Path, *, backend: str, framework_version: str,
                 device: str, params: tuple[int, int], init: str, split: Split, initial_loss: float,
                 world_size: int = 1, single_device_images_per_sec: float | None = None,
                 gpu_math: str | None = None):
        self.path = Path(run_dir) / f"{backend}.jsonl"
        self.common = dict(
            schema_version=SCHEMA_VERSION, run_id=cfg.run_id, model=cfg.model,
            variant=cfg.variant, mode=cfg.mode, backend=backend,
            framework_version=framework_version, device=device, seed=cfg.seed,
            params_total=params[0], params_trainable=params[1], epochs=cfg.epochs,
            batch_size=cfg.batch_size, precision=cfg.precision, init=init,
            validation=split.validation, train_images=len(split.x_train),
            val_images=len(split.x_val), probe=cfg.probe if cfg.mode == "linear-probe" else None,
            initial_loss=initial_loss, image_size=cfg.image_size, compiled=cfg.compile, tta=cfg.tta,
            world_size=world_size, single_device_images_per_sec=single_device_images_per_sec, gpu_math=gpu_math)
        self.steps = steps_per_epoch(len(split.x_train), cfg.batch_size)

    def keep_through(self, epoch: int) -> None:
        """Keep the valid records of epochs 1..epoch and nothing else (atomically): a resumed
        backend then continues a clean file."""
        if not self.path.exists():
            return
        records, _ = read_jsonl(self.path)
        kept = [r for r in records if r.epoch <= epoch]
        atomic_write_text(self.path, "".join(r.to_json() + "\n" for r in kept))

    def write(self, *, epoch: int, train_loss: float, train_acc: float, val_loss: float,
              val_acc: float, epoch_seconds: float, train_images_per_sec: float,
              eval_images_per_sec: float, peak_device_mb: float | None,
              feature_images_per_sec: float | None = None, diverged_at: int | None = None,
              tta_val_loss: float | None = None, tta_val_acc: float | None = None) -> EpochRecord:
        """diverged_at: the training step of this epoch (1-based) at which the loss was found
        non-finite and the epoch stopped; train_loss is then the mean up to that step."""
        status = "ok"
        if diverged_at is not None or not math.isfinite(train_loss):
            where = f", step {diverged_at}/{self.steps}" if diverged_at is not None else ""
            status = f"diverged: train loss {train_loss} at epoch {epoch}{where}"
        record = EpochRecord(
            **self.common, epoch=epoch, train_loss=train_loss, train_acc=train_acc,
            val_loss=val_loss, val_acc=val_acc, epoch_seconds=epoch_seconds,
            train_images_per_sec=train_images_per_sec, eval_images_per_sec=eval_images_per_sec,
            peak_host_mb=peak_host_mb(), peak_device_mb=peak_device_mb, status=status,
            feature_images_per_sec=feature_images_per_sec, tta_val_loss=tta_val_loss, tta_val_acc=tta_val_acc,
            train_images_per_sec_per_device=train_images_per_sec / self.common["world_size"])
        append_line_durably(self.path, record.to_json())
        return record


def print_epoch(record: EpochRecord) -> None:
    """One progress line per epoch; the ETA assumes the remaining epochs take as long as this one."""
    eta = timedelta(seconds=round(record.epoch_seconds * (record.epochs - record.epoch)))
    print(f"[{record.backend}] epoch {record.epoch}/{record.epochs}  "
          f"train loss {record.train_loss:.4f} acc {100 * record.train_acc:.2f}%  "
          f"val loss {record.val_loss:.4f} acc {100 * record.val_acc:.2f}%  "
          + (f"TTA acc {100 * record.tta_val_acc:.2f}%  " if record.tta_val_acc is not None else "") +
          f"{rate_cell(record.train_images_per_sec)} img/s  {record.epoch_seconds:.1f} s"
          + (f"  ETA {eta}" if eta else ""),
          flush=True)


# A line of a framework's C++ logging: absl's format (what TensorFlow's libraries log on import,
# before absl is set up, "Could not find cuda drivers" and the oneDNN notice among them, whatever
# TF_CPP_MIN_LOG_LEVEL says), the line absl puts before those, and TensorFlow's own format.
FRAMEWORK_LOG_LINE = re.compile(
    r"WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR$"
    r"|[IWEF]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ \S+:\d+\] "
    r"|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IWEF] \S+:\d+\] ")


@contextlib.contextmanager
def framework_logs_kept(kept: list[str]):
    """Hold back what the block writes to file descriptor 2 (which C++ libraries write to directly,
    past sys.stderr); after it, the framework log lines (FRAMEWORK_LOG_LINE) go to `kept`, and
    every other line to stderr, as it would have gone. Around a framework's import, this keeps
    its start-up logs off compare.py's console; run_backend puts them in the log of a crash."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            for line in held.read().decode(errors="replace").splitlines(keepends=True):
                if FRAMEWORK_LOG_LINE.match(line):
                    kept.append(line)
                else:
                    sys.stderr.write(line)
            sys.stderr.flush()


class FrameworkImportError(ImportError):
    """The backend's framework is installed but importing it raised (the cause says what)."""


def import_framework(backend: str) -> None:
    """Import the backend's framework modules, or raise FrameworkImportError naming the one that
    failed (so that a broken install is named as the failure, not whatever imported it)."""
    for name in FRAMEWORK_MODULES[backend]:
        try:
            importlib.import_module(name)
        except Exception as err:  # noqa: BLE001 — an ABI mismatch or a missing .so raises anything
            raise FrameworkImportError(f"{name} is installed but cannot be imported") from err


def import_entry(backend: str, entry: str):
    """The function `entry` names ("package.module:function"), imported after the backend's
    framework modules (import_framework)."""
    import_framework(backend)
    module, _, function = entry.partition(":")
    return getattr(importlib.import_module(module), function)


def error_line(err: BaseException) -> str:
    """One line for an exception: its type and the line of its message that says what happened.
    TensorFlow's ImportError carries a whole traceback in its message; its last "SomeError: ..."
    line is the one that names the cause (e.g. the shared library that is missing)."""
    if isinstance(err, FrameworkImportError) and err.__cause__ is not None:
        return f"{err}: {error_line(err.__cause__)}"
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    raised = [line for line in lines if re.match(r"[\w.]*(Error|Exception|Exit|Interrupt): ", line)]
    if raised:
        return raised[-1]
    return f"{type(err).__name__}: {lines[0]}" if lines else type(err).__name__


def _command() -> str:
    """How this process was started: `python -m <this>` (for the usage line)."""
    spec = getattr(sys.modules["__main__"], "__spec__", None)
    return spec.name.removesuffix(".__main__") if spec is not None else sys.argv[0]


def run_backend(backend: str, entry: str) -> int:
    """Entry point of a backend process, `python -m <module> RUN_DIR`: imports the backend's
    framework (Keras with KERAS_BACKEND set to a Keras backend's name), then `entry`
    ("package.module:function"), and returns function(cfg, run_dir).

    The imports happen here, inside the same guard as the run: a framework that is installed but
    fails to import, and any crash, print one line (the traceback goes to <backend>.log in the run
    folder) and exit 1, so compare.py can report the other backend's results and this one's
    reason. Entry modules that import their framework at the top therefore call this before
    those imports (see pytorch_impl/bench.py). What the framework logs while it is imported is
    kept off the console (framework_logs_kept) and goes into that log if the process crashes.
    """
    if len(sys.argv) != 2:
        print(f"usage: python -m {_command()} RUN_DIR", file=sys.stderr)
        return 2
    run_dir = Path(sys.argv[1])
    try:
        cfg = RunConfig.load(run_dir / "config.json")
    except (OSError, ValueError, TypeError) as err:
        print(f"[{backend}] failed: {run_dir / 'config.json'} is unreadable ({error_line(err)})", file=sys.stderr)
        return 2
    # One process of several (torchrun's ranks): its messages and log name it.
    rank = os.environ.get("RANK") if int(os.environ.get("WORLD_SIZE", "1")) > 1 else None
    label, log = (backend, run_dir / f"{backend}.log") if rank is None else (
        f"{backend} rank {rank}", run_dir / f"{backend}.rank{rank}.log")
    startup: list[str] = []
    if backend in KERAS_BACKENDS:  # Keras reads it once, at its first import: whatever the user's shell set
        os.environ["KERAS_BACKEND"] = backend
    try:
        with framework_logs_kept(startup):
            function = import_entry(backend, entry)
        return function(cfg, run_dir)
    except KeyboardInterrupt:
        print(f"[{label}] interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # noqa: BLE001 — any crash becomes one line plus a log file
        logged = f"What the framework logged while it was imported:\n{''.join(startup)}\n" if startup else ""
        log.write_text(logged + traceback.format_exc())
        print(f"[{label}] failed: {error_line(err)} (traceback in {log})", file=sys.stderr)
        return 1
