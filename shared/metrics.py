"""The metric schema, written once for both backends.

One EpochRecord per epoch and backend, appended to <out>/<run_id>/<backend>.jsonl as training goes;
the last record of each backend is also a row of <out>/summary.csv. Definitions:

- train_loss / train_acc: over the epoch's batches as trained (augmented, weights changing),
  weighted by batch size. Every training batch has the same size (the plan drops the last partial
  batch), so this is also the plain mean over batches.
- val_loss / val_acc: the whole validation set in eval mode after the epoch, weighted by image.
- accuracies are fractions in [0, 1] (percent only in printed tables).
- train_images_per_sec: steady state: the first `warmup_batches` batches of every epoch (graph
  tracing, autotuning, cache warm-up) are left out; images of the remaining batches divided by
  their wall time, input pipeline included.
- eval_images_per_sec: validation images / wall time of the validation pass.
- epoch_seconds: wall time of the training pass plus the validation pass.
- peak_host_mb: peak resident set size of the backend process; peak_device_mb: accelerator
  memory high-water mark (null on the CPU).
- tta, tta_val_loss / tta_val_acc: with test-time augmentation (--tta, shared/tta.py), the
  validation loss and accuracy of the logits averaged over the views; null without it. val_loss
  and val_acc stay the plain pass's, so every model's figures compare alike.
- feature_images_per_sec: linear probe on cached features only (probe="features"): images/s of
  the frozen backbone extracting the features, null when they came from the cache; the train
  and eval img/s of such a record measure the head on the features.
- initial_loss: the loss of the run's first planned training batch (as trained: augmented, at
  the model's resolution) under the initial weights, in inference mode (BatchNorm statistics,
  no dropout), before any update. Deterministic, so equal in both backends exactly when they
  start from the same weights and read the same batch: the start of the parity contract.
- world_size: the devices that trained (--devices); train_images_per_sec_per_device is
  train_images_per_sec ÷ world_size; single_device_images_per_sec, in runs of several devices,
  the img/s of one of them training the same global batch alone, measured before training
  (shared/distributed.py): scaling efficiency = train_images_per_sec ÷ (world_size × it).
- kind: "train" for these records, "bench" for BenchRecord (compare.py bench; shared/bench.py
  defines its measurements); summary.csv holds both, told apart by this column.
"""

from __future__ import annotations

import json
import math
import resource
import sys
from dataclasses import MISSING, asdict, dataclass, field, fields

from shared.backends import BACKENDS

SCHEMA_VERSION = 1


class SchemaError(ValueError):
    pass


@dataclass
class EpochRecord:
    schema_version: int
    run_id: str
    model: str
    variant: str
    mode: str
    backend: str
    framework_version: str
    device: str
    seed: int
    epoch: int
    train_loss: float
    train_acc: float
    val_loss: float
    val_acc: float
    epoch_seconds: float
    train_images_per_sec: float
    eval_images_per_sec: float
    peak_host_mb: float
    peak_device_mb: float | None
    params_total: int
    params_trainable: int
    status: str
    # Beyond the required fields: what makes two rows comparable.
    epochs: int = 0
    batch_size: int = 0
    precision: str = "fp32"
    init: str = ""            # "torch-seed<N>" when both start from PyTorch's init, else "<backend>-native"
    validation: str = "test"  # "test" (10,000 test images) or "holdout<N>" (--val-split)
    train_images: int = 0
    val_images: int = 0
    probe: str | None = None                   # linear-probe: "features" (cached) or "full"
    feature_images_per_sec: float | None = None
    initial_loss: float | None = None
    image_size: int | None = None              # side of the images the model read (32, 224, --image-size)
    compiled: bool = False                     # torch.compile / Keras jit_compile
    kind: str = "train"
    # Data-parallel runs (--devices N; shared/distributed.py): train_images_per_sec is the whole
    # run's, and single_device_images_per_sec one device's alone at the same global batch.
    world_size: int = 1
    train_images_per_sec_per_device: float | None = None
    single_device_images_per_sec: float | None = None
    tta: str = "none"
    tta_val_loss: float | None = None
    tta_val_acc: float | None = None
    # On a GPU: the float32 math and autotuning the framework's switches were set to
    # (shared/precision.py), e.g. "fp32 ieee, autotune on"; None on the CPU.
    gpu_math: str | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


@dataclass
class BenchRecord:
    """One row of `compare.py bench` per model and backend; shared/bench.py defines the method."""
    schema_version: int
    run_id: str
    model: str
    variant: str
    backend: str
    framework_version: str
    device: str
    batch_size: int
    precision: str
    compiled: bool
    layout: str                     # memory layout of the activations: "channels_last" (NHWC)
    image_size: int
    params_total: int
    compute_images_per_sec: float   # training steps on one pre-staged batch: the model alone
    train_images_per_sec: float     # training steps on compare.py's own input pipeline
    pipeline_efficiency: float      # train / compute, both measured in this process
    eval_images_per_sec: float
    latency_ms_batch1: float        # median, eval mode, one image
    pipeline_cpu_ms_per_batch: float  # CPU time (all threads) of making one training batch, no training
    peak_host_mb: float
    baseline_host_mb: float         # this process's RSS once the framework is imported, before data or model
    peak_device_mb: float | None
    data_load_seconds: float        # load_cifar10 from the verified cache
    timing: str                     # the measurement method, in words
    status: str
    compute_windows: list[float] = field(default_factory=list)  # img/s of every timed window
    train_windows: list[float] = field(default_factory=list)
    # The framework's own idiom on the same staged batch (shared/bench.py, step 6); None in records
    # made before it existed. parity_overhead = compute ÷ idiomatic.
    idiomatic_images_per_sec: float | None = None
    parity_overhead: float | None = None
    idiomatic_windows: list[float] = field(default_factory=list)
    gpu_math: str | None = None     # as in EpochRecord
    kind: str = "bench"

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


RECORD_TYPES = {"train": EpochRecord, "bench": BenchRecord}
FIELDS = {f.name: f for f in fields(EpochRecord)}
_NUMBERS = {"train": ("train_loss", "val_loss", "epoch_seconds", "train_images_per_sec",
                      "eval_images_per_sec", "peak_host_mb"),
            "bench": ("compute_images_per_sec", "train_images_per_sec", "pipeline_efficiency",
                      "eval_images_per_sec", "latency_ms_batch1", "pipeline_cpu_ms_per_batch", "peak_host_mb",
                      "baseline_host_mb")}
_FRACTIONS = ("train_acc", "val_acc")


def validate(data: dict) -> EpochRecord | BenchRecord:
    """Turn a parsed JSON object into its record (by `kind`, "train" when absent), or raise
    SchemaError with one line."""
    kind = data.get("kind", "train")
    if kind not in RECORD_TYPES:
        raise SchemaError(f"kind {kind!r} is not one of {', '.join(RECORD_TYPES)}")
    record_type = RECORD_TYPES[kind]
    known = {f.name for f in fields(record_type)}
    missing = [f.name for f in fields(record_type) if f.default is MISSING and f.name not in data]
    if missing:
        raise SchemaError(f"record is missing fields: {', '.join(missing)}")
    unknown = sorted(set(data) - known)
    if unknown:
        raise SchemaError(f"record has unknown fields: {', '.join(unknown)}")
    if data["schema_version"] != SCHEMA_VERSION:
        raise SchemaError(f"schema_version {data['schema_version']!r}, expected {SCHEMA_VERSION}")
    if data["backend"] not in BACKENDS:
        raise SchemaError(f"backend {data['backend']!r} is not {', '.join(BACKENDS[:-1])} or {BACKENDS[-1]}")
    for name in _NUMBERS[kind]:
        if not isinstance(data[name], (int, float)):
            raise SchemaError(f"{name}={data[name]!r} is not a number")
    if kind == "bench":
        return BenchRecord(**data)
    for name in _FRACTIONS:
        value = data[name]
        if not isinstance(value, (int, float)) or not (0.0 <= value <= 1.0 or math.isnan(value)):
            raise SchemaError(f"{name}={value!r} is not a fraction in [0, 1]")
    return EpochRecord(**data)


def read_jsonl(path) -> tuple[list[EpochRecord], list[str]]:
    """Records of one backend's JSONL file, plus one line per record that could not be used."""
    records, problems = [], []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                records.append(validate(json.loads(line)))
            except (json.JSONDecodeError, SchemaError, TypeError) as err:
                problems.append(f"{path}:{lineno}: skipped: {str(err).splitlines()[0]}")
    return records, problems


def finished(records: list[EpochRecord]) -> bool:
    """Whether one backend's run trained every epoch it was set to, without diverging."""
    return bool(records) and records[-1].status == "ok" and records[-1].epoch == records[-1].epochs


# Did a finished run learn anything? CIFAR-10 has NUM_CLASSES classes: a model that guesses is
# right 1/NUM_CLASSES of the time, and one that spreads its probability evenly has the loss
# ln(NUM_CLASSES) ≈ 2.303, label smoothing or not. Two backends that both stayed there "agree" about
# nothing, so the reports give no parity verdict for them (shared.reporting.tables).
NUM_CLASSES = 10
TEST_IMAGES = 10_000   # what records that do not give val_images validated on (validation "test")
# A guessing model's accuracy on n images is binomial: chance ± √(p(1 − p)/n). Three standard
# deviations make a false "it learned" about 1 in 740 for a model that guesses, and the ceiling
# follows the validation size: 19.0% on 100 images, 10.9% on the 10,000 test images. (A model that
# always answers the commonest class of a held-out split scores that class's share, which lies
# inside the band as well.)
CHANCE_SIGMAS = 3
# A loss of k·ln(C) means the true class got, on geometric average, probability C^−k: at k = 2, a
# tenth of what an even guess gives. A model that learned is below ln(C); one this far above it is
# confidently wrong (a blown-up BatchNorm statistic, too high a learning rate), whatever its accuracy.
LOSS_CEILING_LN_CLASSES = 2


def chance_ceiling(val_images: int, num_classes: int = NUM_CLASSES) -> float:
    """The validation accuracy (fraction) at or below which a model is not distinguishable from
    guessing: chance plus CHANCE_SIGMAS binomial standard deviations on val_images images."""
    p = 1 / num_classes
    n = val_images or TEST_IMAGES
    return p + CHANCE_SIGMAS * math.sqrt(p * (1 - p) / n)


def did_not_learn(record: EpochRecord, num_classes: int = NUM_CLASSES) -> str | None:
    """Why a finished record shows no learning, in a few words ("at chance", "val loss 8864.8 ≫
    ln 10"), or None when it learned: validation accuracy within the chance band
    (chance_ceiling), or a validation loss above LOSS_CEILING_LN_CLASSES × ln(num_classes)."""
    reasons = []
    if record.val_acc <= chance_ceiling(record.val_images, num_classes):
        reasons.append("at chance")
    if not math.isfinite(record.val_loss):
        reasons.append(f"val loss {record.val_loss}")
    elif record.val_loss > LOSS_CEILING_LN_CLASSES * math.log(num_classes):
        reasons.append(f"val loss {record.val_loss:.1f} ≫ ln {num_classes}")
    return ", ".join(reasons) or None


def steady_images_per_sec(steps: int, warmup_batches: int, batch_size: int, seconds: float | None) -> float:
    """Images per second over the batches after the warm-up ones, timed from the end of batch
    `warmup_batches` to the end of the last one; NaN when the epoch is too short to time."""
    timed = steps - warmup_batches
    if seconds is None or timed <= 0 or seconds <= 0:
        return float("nan")
    return timed * batch_size / seconds


# What tables and progress lines show for an img/s that could not be measured (NaN from
# steady_images_per_sec: the epoch ended within its warm-up batches), with a footnote saying why.
UNMEASURED = "–"


def rate_cell(images_per_sec: float, grouped: bool = False) -> str:
    """An img/s figure as printed: whole images per second from 10 up (with thousands separators
    when grouped), three significant figures below (a ViT-B/16 at 224×224 trains at 1.16 img/s on
    a CPU: "1" would hide a 25 % difference), or UNMEASURED for NaN."""
    if math.isnan(images_per_sec):
        return UNMEASURED
    if images_per_sec < 10:
        return f"{images_per_sec:.3g}"
    return f"{images_per_sec:,.0f}" if grouped else f"{images_per_sec:.0f}"


def peak_host_mb() -> float:
    """Peak RSS of this process (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024
