"""compare.py bench, its measurement rules, the GPU path's logic on the CPU, and the data path's
memory: schema and method are asserted, never a speed."""

import os
import subprocess
import sys
import tracemalloc
from dataclasses import fields

import numpy as np
import pandas as pd
import pytest

from shared import bench as bench_module
from shared.backends import BACKENDS
from shared.batch_plan import epoch_plan, train_batch
from shared.bench import COMPUTE, TRAIN, BenchSettings, WindowTimer, median_ms, step_sources
from shared.config import RunConfig
from shared.metrics import BenchRecord, EpochRecord, read_jsonl

from conftest import ROOT, compare

BENCH_FIELDS = ("compute_images_per_sec", "train_images_per_sec", "pipeline_efficiency", "eval_images_per_sec",
                "latency_ms_batch1", "peak_host_mb", "peak_device_mb", "batch_size", "precision", "compiled",
                "device")
TINY = ["--subset", "512", "--batch-size", "32", "--warmup-steps", "1", "--windows", "2", "--window-steps", "2",
        "--eval-images", "64", "--latency-runs", "3"]


class FakeClock:
    def __init__(self, step_seconds):
        self.now, self.step_seconds = 0.0, iter(step_seconds)

    def __call__(self):
        return self.now

    def step(self):
        self.now += next(self.step_seconds)


def test_window_timer_times_windows_after_the_warm_up_and_syncs_only_at_their_boundaries(monkeypatch):
    settings = BenchSettings(warmup_steps=2, windows=3, window_steps=2)
    # warm-up steps take 10 s (compiling), then windows of 2 steps: 1+1, 2+2, 0.5+0.5 seconds
    clock = FakeClock([10, 10, 1, 1, 2, 2, 0.5, 0.5])
    monkeypatch.setattr(bench_module.time, "perf_counter", clock)
    syncs = []
    timer = WindowTimer(settings, batch_size=8, sync=lambda: syncs.append(clock.now))
    while not timer.done:
        clock.step()
        timer.step_done()
    assert timer.steps == settings.steps == 8
    assert syncs == [20, 22, 26, 27]  # after the warm-up and after each window: nowhere else
    # windows of 16 images in 2, 4 and 1 s: 8, 4, 16 img/s; the median, not the mean (9.33)
    assert timer.images_per_sec() == 8.0


def test_median_ms_waits_out_the_warm_up_calls(monkeypatch):
    clock = FakeClock([5.0] + [0.001, 0.003, 0.002])
    monkeypatch.setattr(bench_module.time, "perf_counter", clock)
    assert median_ms(clock.step, runs=3, warmup=1) == pytest.approx(2.0)


# One worker for the whole module under pytest-xdist (make test), so the bench run below is made once.
pytestmark = pytest.mark.xdist_group("bench")


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory, real_data_env_module):
    out = tmp_path_factory.mktemp("bench")
    result = compare("bench", "--model", "cnn", "--backend", "all", "--device", "cpu", *TINY, "--out", str(out))
    return result, out


def test_bench_writes_one_record_per_backend_with_the_schema(bench_run):
    result, out = bench_run
    assert result.returncode == 0, result.stderr[-3000:]
    [run_dir] = [p for p in out.iterdir() if p.is_dir()]
    assert (run_dir / "bench.json").exists() and (run_dir / "table.md").exists()
    for backend in BACKENDS:
        [record], problems = read_jsonl(run_dir / f"{backend}.jsonl")
        assert problems == [] and isinstance(record, BenchRecord)
        assert (record.kind, record.model, record.backend, record.status) == ("bench", "cnn", backend, "ok")
        # Keras on JAX always runs XLA programs, and its record says so
        assert (record.batch_size, record.precision, record.compiled, record.device) == (32, "fp32", backend == "jax", "cpu")
        assert record.peak_device_mb is None  # the CPU
        for name in ("compute_images_per_sec", "train_images_per_sec", "eval_images_per_sec", "latency_ms_batch1",
                     "pipeline_cpu_ms_per_batch"):
            assert np.isfinite(getattr(record, name)) and getattr(record, name) > 0, name
        assert record.peak_host_mb > record.baseline_host_mb > 0
        # the efficiency is the ratio of the two throughputs of this one process, nothing else; each
        # is the median of its windows, 2 of each source, alternating in one stream
        assert record.pipeline_efficiency == record.train_images_per_sec / record.compute_images_per_sec
        assert (len(record.compute_windows), len(record.train_windows)) == (2, 2)
        assert record.compute_images_per_sec == pytest.approx(np.median(record.compute_windows), abs=0.01)
        assert record.train_images_per_sec == pytest.approx(np.median(record.train_windows), abs=0.01)
        assert record.timing.startswith("median of 2 windows x 2 steps after 1 untimed warm-up steps, compute "
                                        "and train windows alternating in one stream")
        # the idiomatic reference: its own 2 windows on the staged batch, and ours ÷ its
        assert len(record.idiomatic_windows) == 2 and record.idiomatic_images_per_sec > 0
        assert record.idiomatic_images_per_sec == pytest.approx(np.median(record.idiomatic_windows), abs=0.01)
        assert record.parity_overhead == record.compute_images_per_sec / record.idiomatic_images_per_sec
    assert "| cnn   | PyTorch " in result.stdout and "| cnn   | TensorFlow/Keras " in result.stdout
    assert "| cnn   | JAX/Keras (XLA) " in result.stdout
    assert "Efficiency" in result.stdout and "Settings: 32×32 input (cifar), batch 32, fp32, not compiled" in result.stdout
    assert "JAX/Keras always compiled by XLA" in result.stdout and "Warning" not in result.stdout
    assert "| Idiomatic img/s | Parity overhead |" in result.stdout


def test_step_sources_warm_up_both_then_alternate_windows_of_compute_and_train():
    settings = BenchSettings(warmup_steps=2, windows=3, window_steps=2)
    c, t = COMPUTE, TRAIN
    assert step_sources(settings) == [c, c, t, t] + [c, c, t, t] * 3
    # the train source is asked for as many batches as compare.py checks the training set gives
    assert step_sources(settings).count(TRAIN) == settings.steps


def test_window_timer_gives_each_source_the_windows_it_fed(monkeypatch):
    settings = BenchSettings(warmup_steps=1, windows=2, window_steps=2)
    # warm-up 1 step of each (10 s), then windows of 2 steps: compute 1 s, train 2 s, compute 0.5 s, train 4 s
    clock = FakeClock([10, 10, 0.5, 0.5, 1, 1, 0.25, 0.25, 2, 2])
    monkeypatch.setattr(bench_module.time, "perf_counter", clock)
    timer = WindowTimer(settings, batch_size=8, sources=2)
    for _ in step_sources(settings):
        assert not timer.done
        clock.step()
        timer.step_done()
    assert timer.done and timer.steps == 2 * settings.steps
    assert timer.rates(COMPUTE) == [16.0, 32.0] and timer.rates(TRAIN) == [8.0, 4.0]
    assert (timer.images_per_sec(COMPUTE), timer.images_per_sec(TRAIN)) == (24.0, 6.0)


def test_bench_rows_share_summary_csv_with_training_rows(bench_run, real_data_env):
    result, out = bench_run
    assert compare("--model", "cnn", "--backend", "torch", "--epochs", "1", "--subset", "256",
                   "--batch-size", "128", "--out", str(out)).returncode == 0
    summary = pd.read_csv(out / "summary.csv")
    assert sorted(summary["kind"]) == ["bench"] * len(BACKENDS) + ["train"]
    bench_rows = summary[summary["kind"] == "bench"]
    assert set(BENCH_FIELDS) <= set(bench_rows.columns)
    assert bench_rows[list(BENCH_FIELDS[:5])].notna().all().all()
    train_row = summary[summary["kind"] == "train"].iloc[0]
    assert train_row["val_acc"] >= 0 and pd.isna(train_row["pipeline_efficiency"])
    # `compare.py report` regenerates summary.csv from the run folders: the bench rows stay
    assert compare("report", "--runs", str(out)).returncode == 0
    assert sorted(pd.read_csv(out / "summary.csv")["kind"]) == ["bench"] * len(BACKENDS) + ["train"]


def test_bench_needs_enough_batches_for_its_windows(tmp_path, real_data_env):
    result = compare("bench", "--model", "cnn", "--subset", "512", "--batch-size", "128", "--out", str(tmp_path))
    assert result.returncode == 2
    assert ("the training images give 4 batches of 128; a measurement needs 35 (--warmup-steps + --windows × "
            "--window-steps)") in result.stderr
    assert list(tmp_path.iterdir()) == []


def cuda_present() -> bool:
    import torch
    return torch.cuda.is_available()


@pytest.mark.parametrize("command", [["--model", "cnn"], ["bench", "--model", "cnn"]])
def test_device_cuda_without_a_gpu_exits_2_in_one_line(tmp_path, real_data_env, command):
    if cuda_present():
        pytest.skip("this machine has a GPU")
    result = compare(*command, "--device", "cuda", "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("compare.py: error: --device cuda needs a CUDA GPU, and PyTorch and TensorFlow/Keras "
                           "sees none; use --device cpu")
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def test_torch_picks_cuda_only_when_it_is_there(monkeypatch):
    import torch

    from pytorch_impl.device import DeviceError, check_precision, resolve_device
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto").type == "cpu"
    with pytest.raises(DeviceError, match="PyTorch sees no CUDA GPU"):
        resolve_device("cuda")
    with pytest.raises(DeviceError, match="fp16 needs a CUDA GPU"):
        check_precision(torch.device("cpu"), "fp16")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto").type == "cuda"
    assert resolve_device("cpu").type == "cpu"


def test_the_gpu_check_is_a_dry_run_without_a_gpu(tmp_path):
    """scripts/gpu_check.py on a CPU-only machine: its CPU-side check, one line saying that no
    GPU is present, and exit 0."""
    if cuda_present():
        pytest.skip("this machine has a GPU")
    result = subprocess.run([sys.executable, "scripts/gpu_check.py", "--out", str(tmp_path)], cwd=ROOT,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert lines[0] == "gpu_check: no CUDA GPU is present (PyTorch sees none): the CPU-side checks only."
    assert any(line.startswith("- 1 precision switches (CPU side): ok") for line in lines)
    log = (tmp_path / "gpu_check.log").read_text()
    assert " passed in " in log and "failed" not in log and "error" not in log


def test_keras_picks_the_gpu_only_when_it_is_there():
    # In a fresh process: hiding devices is only possible before TensorFlow initialises them.
    code = ("import tensorflow_impl, tensorflow as tf\n"
            "from tensorflow_impl.device import DeviceError, resolve_device\n"
            "if tf.config.list_physical_devices('GPU'): print('gpu'); raise SystemExit\n"
            "assert resolve_device('auto') == 'cpu'\n"
            "try:\n    resolve_device('cuda')\nexcept DeviceError as e:\n    print(e)\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    if result.stdout.strip() == "gpu":
        pytest.skip("this machine has a GPU")
    assert "--device cuda, but TensorFlow sees no GPU" in result.stdout


@pytest.mark.parametrize("augmentation", [{}, dict(pad=2, padding_mode="reflect", alternating_flip=True)])
def test_torch_augment_on_the_device_equals_the_shared_plan(augmentation):
    """The GPU path's batches (uint8 set resident on the device, augmented there), run on the
    CPU, are the CPU path's batches exactly (the default augmentation and airbench's)."""
    import torch

    from pytorch_impl.data import ResidentImages, training_batches
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (64, 32, 32, 3), dtype=np.uint8)
    y = rng.integers(0, 10, 64).astype(np.uint8)
    plan = epoch_plan(3, 2, len(x), **augmentation)
    slices = plan.batch_slices(16)
    resident = ResidentImages(x, y, torch.device("cpu"))
    batch = resident.planned(plan)
    for where in slices:
        images, labels = batch(where)
        want_images, want_labels = train_batch(x, y, plan, where)
        np.testing.assert_array_equal(images.numpy(), want_images)
        np.testing.assert_array_equal(labels.numpy(), want_labels)
    common = (plan, slices, torch.device("cpu"), 32, (120.0, 120.0, 110.0), (60.0, 60.0, 65.0))
    for (a, la), (b, lb) in zip(training_batches(x, y, *common), training_batches(x, y, *common, resident=resident)):
        assert torch.equal(a, b) and torch.equal(la, lb)


def anonymous_mb() -> float:
    """Anonymous resident memory of this process (heap, not the memory-mapped dataset's pages)."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("RssAnon:")) / 1024


# A uint8 copy of the 50,000 training images is 146 MiB (a float32 one four times that).
UINT8_COPY_MB = 50_000 * 32 * 32 * 3 / 2**20


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads /proc (Linux)")
def test_the_torch_data_path_never_copies_the_dataset(real_data_env):
    """The training set stays one memory-mapped uint8 array; batches are gathered, augmented and
    normalised one at a time. tracemalloc sees every numpy allocation and RssAnon every other."""
    import torch

    from pytorch_impl.data import training_batches
    from shared.run import load_split, normalization
    cfg = RunConfig(model="resnet18", batch_size=128)
    load_split(cfg)  # the first load may convert the download into the cache; the runs load that
    before = anonymous_mb()
    tracemalloc.start()
    try:
        split = load_split(cfg)
        plan = epoch_plan(cfg.seed, 1, len(split.x_train))
        batches = training_batches(split.x_train, split.y_train, plan, plan.batch_slices(128), torch.device("cpu"),
                                   32, *normalization(cfg))
        for _, _ in zip(range(20), batches):
            pass
        _, numpy_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    grown = anonymous_mb() - before
    assert len(split.x_train) == 50_000 and split.x_train.dtype == np.uint8
    assert numpy_peak / 2**20 < UINT8_COPY_MB / 4, f"numpy allocated {numpy_peak / 2**20:.0f} MB"
    assert grown < UINT8_COPY_MB / 2, f"anonymous memory grew by {grown:.0f} MB"


KERAS_DATA_PATH = """
import tensorflow_impl
from shared.config import RunConfig
from shared.run import load_split
from tensorflow_impl.data import training_batches
def anonymous_mb():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("RssAnon:")) / 1024
cfg = RunConfig(model="resnet18", batch_size=128, epochs=1)
split = load_split(cfg)
before = anonymous_mb()
dataset = training_batches(split, cfg)
built = anonymous_mb() - before
for _ in zip(range(20), dataset):
    pass
print(built, anonymous_mb() - before)
"""


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads /proc (Linux)")
def test_the_keras_data_path_holds_uint8_only(real_data_env):
    """tf.data needs the set as a TensorFlow tensor: one uint8 copy (146 MiB) is the whole cost, not
    two (tf.constant's way) and never float32; crops, flips and normalisation happen per batch.
    In its own process, as the backend runs (TensorFlow's start-up heap is part of the figure)."""
    result = subprocess.run([sys.executable, "-c", KERAS_DATA_PATH], cwd=ROOT, capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr[-2000:]
    built, grown = map(float, result.stdout.split())
    assert max(built, grown) < 1.5 * UINT8_COPY_MB, f"anonymous memory grew by {built:.0f} / {grown:.0f} MB"


def test_record_kinds_validate_to_their_own_types():
    from shared.metrics import SchemaError, validate
    assert {f.name for f in fields(BenchRecord)} >= set(BENCH_FIELDS) | {"kind", "timing", "status"}
    assert EpochRecord.__dataclass_fields__["kind"].default == "train"
    with pytest.raises(SchemaError, match="kind 'other' is not one of train, bench"):
        validate({"kind": "other"})
    with pytest.raises(SchemaError, match="record is missing fields: schema_version"):
        validate({"kind": "bench"})


def test_training_with_compile_and_bf16_in_both_backends(tmp_path, real_data_env):
    """--compile (torch.compile / XLA) and --precision bf16 (autocast / mixed_bfloat16) train and
    say so in every record; losses stay finite and the two backends start from the same loss."""
    result = compare("--model", "cnn", "--backend", "both", "--epochs", "1", "--subset", "256", "--batch-size", "64",
                     "--compile", "--precision", "bf16", "--device", "cpu", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    [run_dir] = [p for p in tmp_path.iterdir() if p.is_dir()]
    records = {b: read_jsonl(run_dir / f"{b}.jsonl")[0] for b in ("torch", "tensorflow")}
    for backend, [record] in records.items():
        assert (record.kind, record.compiled, record.precision, record.device, record.status) == \
               ("train", True, "bf16", "cpu", "ok"), backend
        assert np.isfinite([record.train_loss, record.val_loss]).all()
    # the step-0 losses agree to bf16's precision: the start check holds, with bf16's tolerance
    assert "Start: SAME" in result.stdout and "relative, bf16)" in result.stdout
    assert "bf16" in result.stdout and "compiled (torch.compile / jit_compile)" in result.stdout
