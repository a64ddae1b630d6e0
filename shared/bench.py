"""`compare.py bench`: the measurement rules both backends follow, written once.

Each backend process (python -m pytorch_impl.bench / tensorflow_impl.bench RUN_DIR) measures, one
after the other and in that order:

1. compute: training steps on one pre-staged batch (normalised, already on the device): model,
   loss, backward and optimizer alone, with no input pipeline;
2. train: training steps on compare.py's own input pipeline, by the code that trains (the batch
   plan, gather, crop, flip and normalise; tf.data in Keras), learning-rate updates included.
   The passes interleave, `rounds` times: compute, train, compute, train, ..., compute
   (`interleaved`); each figure is the median over the windows of all its passes, so that
   warm-up and drift (allocator growth, another process, the CPU's clock) favour neither side of
   the ratio. Measured here: compute timed first alone read up to 15 % low; one sandwich
   (compute, train, compute) of 5 windows still moved the Keras CNN's ratio between 0.93 and
   0.98 from run to run, with windows drifting ±10 %;
3. pipeline_efficiency = train / compute, both from this process;
4. eval: `eval_images` validation images in eval mode, after one untimed batch;
5. pipeline CPU: the process CPU time (all threads) that making one training batch costs, over
   `windows × window_steps` batches without training: what the input pipeline takes from the
   model's cores, measured directly rather than as a difference of two noisy throughputs;
6. latency: one image in eval mode, `latency_runs` calls after `latency_warmup`, each waited for;
   the median in milliseconds (what a "lightweight" model is for).

Steady state: the first `warmup_steps` steps of every compute and train pass run untimed; they trace graphs, compile
(torch.compile, XLA), autotune (oneDNN, cuDNN) and warm allocators and caches. Then `windows`
windows of `window_steps` steps are timed and the median window's img/s is the figure: one slow
window (another process, a page fault storm) does not move it. Every window's img/s is kept in the
record (compute_windows, train_windows), so the spread behind a median stays visible. On a GPU
the only host syncs in a timed loop are at window boundaries.
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
from shared.metrics import SCHEMA_VERSION, BenchRecord, peak_host_mb

SETTINGS_FILE = "bench.json"  # beside config.json: what makes a run folder a bench folder


@dataclass
class BenchSettings:
    warmup_steps: int = 5
    windows: int = 5
    window_steps: int = 5
    eval_images: int = 2000
    latency_runs: int = 50
    latency_warmup: int = 10
    rounds: int = 2  # train passes, each between two compute passes (`interleaved`)

    @property
    def steps(self) -> int:
        """Training steps of one measurement (compute or train), warm-up included."""
        return self.warmup_steps + self.windows * self.window_steps

    def method(self, device: str) -> str:
        sync = "CUDA synchronised at window boundaries only" if device == "cuda" else "CPU"
        return (f"median of {self.windows} windows x {self.window_steps} steps after {self.warmup_steps} "
                f"untimed warm-up steps per pass, {self.rounds} train passes interleaved with "
                f"{self.rounds + 1} compute passes; eval {self.eval_images} images; latency median of "
                f"{self.latency_runs} calls after {self.latency_warmup}; time.perf_counter, {sync}")

    def save(self, run_dir: Path) -> None:
        atomic_write_text(Path(run_dir) / SETTINGS_FILE, json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, run_dir: Path) -> "BenchSettings":
        return cls(**json.loads((Path(run_dir) / SETTINGS_FILE).read_text()))


def interleaved(compute_pass: Callable[[], "WindowTimer"], train_pass: Callable[[], "WindowTimer"],
                rounds: int) -> tuple[list["WindowTimer"], list["WindowTimer"]]:
    """compute, train, compute, ..., compute: `rounds` train passes, each between two compute
    passes. Returns the compute timers and the train timers."""
    compute, train = [compute_pass()], []
    for _ in range(rounds):
        train.append(train_pass())
        compute.append(compute_pass())
    return compute, train


def is_bench_folder(run_dir: Path) -> bool:
    return (Path(run_dir) / SETTINGS_FILE).exists()


class WindowTimer:
    """Told of every finished step (step_done), it times windows of steps after the warm-up ones.

    sync() waits for the device (a no-op on the CPU); it is called at window boundaries only.
    """

    def __init__(self, settings: BenchSettings, batch_size: int, sync: Callable[[], object] = lambda: None):
        self.settings, self.batch_size, self.sync = settings, batch_size, sync
        self.steps = 0
        self.marks: list[float] = []

    def step_done(self) -> None:
        self.steps += 1
        timed = self.steps - self.settings.warmup_steps
        if timed >= 0 and timed % self.settings.window_steps == 0:
            self.sync()
            self.marks.append(time.perf_counter())

    @property
    def done(self) -> bool:
        return self.steps >= self.settings.steps

    def rates(self) -> list[float]:
        """Images per second of each timed window."""
        return [self.settings.window_steps * self.batch_size / (b - a) for a, b in zip(self.marks, self.marks[1:])]

    def images_per_sec(self) -> float:
        """The median window's images per second (NaN before a whole window was timed)."""
        return median_rate(self)


def median_rate(*timers: WindowTimer) -> float:
    """The median over the windows of all these timers (NaN if none was timed)."""
    rates = [rate for timer in timers for rate in timer.rates()]
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
                 device: str, params_total: int, compute: list[WindowTimer], train: list[WindowTimer],
                 eval_images_per_sec: float, latency_ms_batch1: float, pipeline_cpu_ms_per_batch: float,
                 baseline_host_mb: float, peak_device_mb: float | None, data_load_seconds: float) -> BenchRecord:
    """The backend's BenchRecord, appended to RUN_DIR/<backend>.jsonl. Throughputs and the pipeline
    efficiency are computed here, from the windows the backend timed in its one process: those of
    its compute passes and those of its training passes (`interleaved`)."""
    compute_images_per_sec, train_images_per_sec = median_rate(*compute), median_rate(*train)
    record = BenchRecord(
        schema_version=SCHEMA_VERSION, run_id=cfg.run_id, model=cfg.model, variant=cfg.variant, backend=backend,
        framework_version=framework_version, device=device, batch_size=cfg.batch_size, precision=cfg.precision,
        compiled=cfg.compile, layout="channels_last", image_size=cfg.image_size, params_total=params_total,
        compute_images_per_sec=compute_images_per_sec, train_images_per_sec=train_images_per_sec,
        pipeline_efficiency=train_images_per_sec / compute_images_per_sec,
        eval_images_per_sec=eval_images_per_sec, latency_ms_batch1=latency_ms_batch1,
        pipeline_cpu_ms_per_batch=pipeline_cpu_ms_per_batch,
        peak_host_mb=peak_host_mb(), baseline_host_mb=baseline_host_mb, peak_device_mb=peak_device_mb,
        data_load_seconds=data_load_seconds, timing=settings.method(device), status="ok",
        compute_windows=[round(r, 2) for t in compute for r in t.rates()],
        train_windows=[round(r, 2) for t in train for r in t.rates()])
    append_line_durably(Path(run_dir) / f"{backend}.jsonl", record.to_json())
    return record


def print_record(r: BenchRecord) -> None:
    print(f"[{r.backend}] compute {r.compute_images_per_sec:.0f} img/s, train (pipeline) "
          f"{r.train_images_per_sec:.0f} img/s, efficiency {r.pipeline_efficiency:.3f} (pipeline CPU "
          f"{r.pipeline_cpu_ms_per_batch:.1f} ms/batch), eval "
          f"{r.eval_images_per_sec:.0f} img/s, latency {r.latency_ms_batch1:.2f} ms, peak RSS "
          f"{r.peak_host_mb:.0f} MB (framework alone {r.baseline_host_mb:.0f} MB)", flush=True)


def bench_rows(records: dict[str, BenchRecord | None], model: str, reasons: dict[str, str]):
    """The bench table: one row per backend, what failed marked with its reason."""
    import pandas as pd  # shared.report loads it anyway; kept out of the backend processes

    from shared.report import BACKEND_NAMES
    rows = []
    for backend, r in records.items():
        if r is None:
            rows.append({"Model": model, "Backend": BACKEND_NAMES[backend], "Compute img/s": "-",
                         "Train img/s": "-", "Efficiency": "-", "Pipeline CPU ms/batch": "-", "Eval img/s": "-", "Latency ms (batch 1)": "-",
                         "Peak RSS MB (framework)": "-", "Peak device MB": "-",
                         "Status": reasons.get(backend, "no record")})
            continue
        rows.append({"Model": model, "Backend": BACKEND_NAMES[backend],
                     "Compute img/s": f"{r.compute_images_per_sec:,.0f}", "Train img/s": f"{r.train_images_per_sec:,.0f}",
                     "Efficiency": f"{r.pipeline_efficiency:.3f}",
                     "Pipeline CPU ms/batch": f"{r.pipeline_cpu_ms_per_batch:.1f}", "Eval img/s": f"{r.eval_images_per_sec:,.0f}",
                     "Latency ms (batch 1)": f"{r.latency_ms_batch1:.2f}",
                     "Peak RSS MB (framework)": f"{r.peak_host_mb:,.0f} ({r.baseline_host_mb:,.0f})",
                     "Peak device MB": "-" if r.peak_device_mb is None else f"{r.peak_device_mb:,.0f}",
                     "Status": r.status})
    return pd.DataFrame(rows)


def settings_line(records: list[BenchRecord]) -> str:
    """What every row shares, and a warning where the rows differ in a setting that moves speed."""
    if not records:
        return ""
    first = records[0]
    parts = [f"{first.image_size}×{first.image_size} input ({first.variant})", f"batch {first.batch_size}",
             first.precision, "compiled" if first.compiled else "not compiled", first.layout, first.device,
             ", ".join(sorted({f'{r.backend} {r.framework_version}' for r in records}))]
    differ = [name for name in ("device", "precision", "compiled", "batch_size", "layout", "image_size")
              if len({getattr(r, name) for r in records}) > 1]
    text = "Settings: " + ", ".join(parts) + f". Timing: {first.timing}."
    if differ:
        text += f" Warning: the rows differ in {', '.join(differ)}: not a like-for-like comparison."
    return text
