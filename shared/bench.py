"""`compare.py bench`: the measurement rules both backends follow, written once.

Each backend process (python -m pytorch_impl.bench / tensorflow_impl.bench RUN_DIR) measures, one
after the other and in that order:

1. compute and train, in one stream of training steps (`step_sources`), by the code that trains
   (train_epoch in PyTorch, fit in Keras, learning-rate updates and the divergence check
   included). Its steps come from one of two sources:
   - compute: one pre-staged batch (normalised, already on the device), fed again and again:
     model, loss, backward and optimizer with no input work;
   - train: compare.py's own input pipeline (the batch plan, gather, crop, flip and normalise;
     tf.data in Keras).
   After the warm-up, windows of the two alternate: compute, train, compute, train, ... Each
   figure is the median over the windows of its source. A training window and the compute
   window before it are seconds apart, so drift (another process, the CPU's clock, allocator
   growth) reaches both alike. Measured here before: compute timed in one pass before the
   training pass read up to 15 % low; passes interleaved (compute, train, compute, train,
   compute, 5 windows each) still moved ratios by ±10 % from run to run, while windows of one
   pass spread ±20 %;
2. pipeline_efficiency = train / compute, both from this process;
3. eval: `eval_images` validation images in eval mode, after one untimed batch;
4. pipeline CPU: the process CPU time (all threads) that making one training batch costs, over
   `windows × window_steps` batches without training: what the input pipeline takes from the
   model's cores, measured directly rather than as a ratio of two noisy throughputs;
5. latency: one image in eval mode, `latency_runs` calls after `latency_warmup`, each waited for;
   the median in milliseconds (what a "lightweight" model is for);
6. the idiomatic reference (pytorch_impl/idiomatic.py, tensorflow_impl/idiomatic.py): the same
   architecture trained as the framework's own tutorials train it, on the same pre-staged batch,
   `warmup_steps` untimed steps then `windows` windows of `window_steps`, right after the above
   in the same process. idiomatic_images_per_sec is its median window; parity_overhead = compute
   ÷ idiomatic (1.0: exact parity costs nothing; 0.8: our parity code costs 20 % of the speed).
   Peak memory is read before it, so the reference's second optimizer state does not count.

Steady state: the stream starts with `warmup_steps` untimed steps of each source; they trace
graphs, compile (torch.compile, XLA), autotune (oneDNN, cuDNN) and warm allocators and caches.
Then `windows` windows of `window_steps` steps of each source are timed. Every window's img/s is
kept in the record (compute_windows, train_windows), so the spread behind a median stays
visible. On a GPU the only host syncs in a timed loop are at window boundaries.
"""

from __future__ import annotations

import json
import resource
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from shared.io import append_line_durably, atomic_write_text
from shared.metrics import SCHEMA_VERSION, BenchRecord

SETTINGS_FILE = "bench.json"  # beside config.json: what makes a run folder a bench folder


@dataclass
class BenchSettings:
    warmup_steps: int = 5
    windows: int = 10  # of each source: short windows, many pairs, so that a pair sees the same machine
    window_steps: int = 3
    eval_images: int = 2000
    latency_runs: int = 50
    latency_warmup: int = 10

    @property
    def steps(self) -> int:
        """Steps of one source in a measurement, warm-up included (the batches it needs)."""
        return self.warmup_steps + self.windows * self.window_steps

    def method(self, device: str) -> str:
        sync = "CUDA synchronised at window boundaries only" if device == "cuda" else "CPU"
        return (f"median of {self.windows} windows x {self.window_steps} steps after {self.warmup_steps} "
                f"untimed warm-up steps, compute and train windows alternating in one stream; eval "
                f"{self.eval_images} images; latency median of {self.latency_runs} calls after "
                f"{self.latency_warmup}; time.perf_counter, {sync}")

    def save(self, run_dir: Path) -> None:
        atomic_write_text(Path(run_dir) / SETTINGS_FILE, json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, run_dir: Path) -> "BenchSettings":
        return cls(**json.loads((Path(run_dir) / SETTINGS_FILE).read_text()))


COMPUTE, TRAIN = 0, 1  # the two sources of a bench stream's steps; a window's index mod 2 is its source


def step_sources(settings: BenchSettings) -> list[int]:
    """The source of each step of a bench stream, in order: `warmup_steps` of each (compute, then
    train), then `windows` pairs of windows, a compute window then a train window. A WindowTimer
    made with sources=2 times its windows."""
    warmup = [COMPUTE] * settings.warmup_steps + [TRAIN] * settings.warmup_steps
    pair = [COMPUTE] * settings.window_steps + [TRAIN] * settings.window_steps
    return warmup + pair * settings.windows


def is_bench_folder(run_dir: Path) -> bool:
    return (Path(run_dir) / SETTINGS_FILE).exists()


class WindowTimer:
    """Told of every finished step (step_done), it times windows of steps after the warm-up ones.

    sync() waits for the device (a no-op on the CPU); it is called at window boundaries only.
    With sources=2 it times a stream of `step_sources`: twice the warm-up and twice the windows,
    window i fed by source i % 2.
    """

    def __init__(self, settings: BenchSettings, batch_size: int, sync: Callable[[], object] = lambda: None,
                 sources: int = 1):
        self.settings, self.batch_size, self.sync, self.sources = settings, batch_size, sync, sources
        self.warmup_steps = settings.warmup_steps * sources
        self.total_steps = settings.steps * sources
        self.steps = 0
        self.marks: list[float] = []

    def step_done(self) -> None:
        self.steps += 1
        timed = self.steps - self.warmup_steps
        if timed >= 0 and timed % self.settings.window_steps == 0:
            self.sync()
            self.marks.append(time.perf_counter())

    @property
    def done(self) -> bool:
        return self.steps >= self.total_steps

    def rates(self, source: int = 0) -> list[float]:
        """Images per second of each timed window of that source."""
        rates = [self.settings.window_steps * self.batch_size / (b - a) for a, b in zip(self.marks, self.marks[1:])]
        return rates[source::self.sources]

    def images_per_sec(self, source: int = 0) -> float:
        """The median window's images per second (NaN before a whole window was timed)."""
        rates = self.rates(source)
        return statistics.median(rates) if rates else float("nan")


def cpu_ms_per_call(call: Callable[[], object], runs: int, warmup: int = 2) -> float:
    """This process's CPU time (user + system, every thread) per call, in milliseconds."""
    for _ in range(warmup):
        call()
    start = resource.getrusage(resource.RUSAGE_SELF)
    for _ in range(runs):
        call()
    end = resource.getrusage(resource.RUSAGE_SELF)
    return 1000 * (end.ru_utime - start.ru_utime + end.ru_stime - start.ru_stime) / runs


def median_ms(call: Callable[[], object], runs: int, warmup: int) -> float:
    """Median wall time of call() in milliseconds, after `warmup` untimed calls; call must wait
    for its own result (a device sync), as a user of the answer would."""
    for _ in range(warmup):
        call()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def write_record(run_dir: Path, cfg, settings: BenchSettings, *, backend: str, framework_version: str,
                 device: str, params_total: int, timer: WindowTimer, idiomatic: WindowTimer,
                 eval_images_per_sec: float, latency_ms_batch1: float, pipeline_cpu_ms_per_batch: float,
                 peak_host_mb: float, baseline_host_mb: float, peak_device_mb: float | None,
                 data_load_seconds: float, gpu_math: str | None = None) -> BenchRecord:
    """The backend's BenchRecord, appended to RUN_DIR/<backend>.jsonl. Throughputs and the pipeline
    efficiency are computed here, from the windows the backend timed in its one process, in one
    stream of alternating compute and train windows (`step_sources`); the parity overhead from
    that stream's compute windows and the idiomatic reference's (step 6)."""
    compute_images_per_sec, train_images_per_sec = timer.images_per_sec(COMPUTE), timer.images_per_sec(TRAIN)
    idiomatic_images_per_sec = idiomatic.images_per_sec()
    record = BenchRecord(
        schema_version=SCHEMA_VERSION, run_id=cfg.run_id, model=cfg.model, variant=cfg.variant, backend=backend,
        framework_version=framework_version, device=device, batch_size=cfg.batch_size, precision=cfg.precision,
        compiled=cfg.compile, layout="channels_last", image_size=cfg.image_size, params_total=params_total,
        compute_images_per_sec=compute_images_per_sec, train_images_per_sec=train_images_per_sec,
        pipeline_efficiency=train_images_per_sec / compute_images_per_sec,
        eval_images_per_sec=eval_images_per_sec, latency_ms_batch1=latency_ms_batch1,
        pipeline_cpu_ms_per_batch=pipeline_cpu_ms_per_batch,
        idiomatic_images_per_sec=idiomatic_images_per_sec,
        parity_overhead=compute_images_per_sec / idiomatic_images_per_sec,
        peak_host_mb=peak_host_mb, baseline_host_mb=baseline_host_mb, peak_device_mb=peak_device_mb,
        data_load_seconds=data_load_seconds, timing=settings.method(device), status="ok",
        compute_windows=[round(r, 2) for r in timer.rates(COMPUTE)],
        train_windows=[round(r, 2) for r in timer.rates(TRAIN)],
        idiomatic_windows=[round(r, 2) for r in idiomatic.rates()], gpu_math=gpu_math)
    append_line_durably(Path(run_dir) / f"{backend}.jsonl", record.to_json())
    return record


def print_record(r: BenchRecord) -> None:
    print(f"[{r.backend}] compute {r.compute_images_per_sec:.0f} img/s, train (pipeline) "
          f"{r.train_images_per_sec:.0f} img/s, efficiency {r.pipeline_efficiency:.3f} (pipeline CPU "
          f"{r.pipeline_cpu_ms_per_batch:.1f} ms/batch), eval "
          f"{r.eval_images_per_sec:.0f} img/s, idiomatic reference {r.idiomatic_images_per_sec:.0f} img/s (parity "
          f"overhead {r.parity_overhead:.3f}), latency {r.latency_ms_batch1:.2f} ms, peak RSS "
          f"{r.peak_host_mb:.0f} MB (framework alone {r.baseline_host_mb:.0f} MB)", flush=True)
