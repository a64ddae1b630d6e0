"""The GPU check: what this suite promises on a GPU, measured in one command and under 8 minutes.

    python scripts/gpu_check.py [--budget-s 480] [--out gpu-check]

Each step runs in its own process with what is left of the budget, and the summary at the end
says for each one: ok, FAILED, or skipped and why.

 1. CPU side, on any machine: each --precision sets the same framework switches in both
    backends (tests/test_precision.py, where pytest and both frameworks are installed).
 2. Parity on the GPU, in IEEE float32 (TF32 off): every model's eval logits on the GPU against
    the same weights on the CPU within 1e-4 (PyTorch), and `compare.py parity` for every model
    on each installed Keras backend, TensorFlow and JAX (its Keras side then runs on the GPU).
 3. The custom CNN's default recipe, timed, in every installed backend; then its airbench variant
    (airbench94's network and recipe, 10 epochs) in bf16, with the epoch it passed 94 %.
 4. ResNet-18's recipe (20 epochs) in bf16, PyTorch: the accuracy reached, and when it passed 94 %.
 5. `compare.py bench --model all --device cuda` in fp32, tf32 and bf16.

Steps 3 to 5 need CIFAR-10 ($CIFAR10_DATA or the cache; compare.py downloads it where the
machine is online). To an offline machine that takes files in small loads, the verified file can
go in pieces and be joined there (load_cifar10 checks every byte's hash):
    split -b 50M ../shared/data/cifar10/cifar10.npz cifar10.npz.part-   (here)
    cat cifar10.npz.part-* > /tmp/cifar10.npz && export CIFAR10_DATA=/tmp/cifar10.npz   (there) A backend that is not installed is left out, and the summary says so in one
line: the GPU machine this team is sometimes lent has PyTorch and JAX but no TensorFlow (Keras and
its small dependencies can be carried there: then Keras on JAX runs every step).

Without a GPU it says so after step 1 and exits 0 if step 1 passed: the dry run.
Exit 1 if a step failed.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from shared.backends import BACKEND_NAMES, BACKENDS, KERAS_BACKENDS, installed  # noqa: E402
from shared.data import DataError, load_cifar10  # noqa: E402
from shared.metrics import read_jsonl  # noqa: E402

PARITY_TOLERANCE = 1e-4
TARGET_ACCURACY = 0.94
MIN_STEP_S = 20  # a step is not started with less left than this
# The models whose GPU logits are checked: every architecture at CIFAR's size.
PARITY_MODELS = [("cnn", "cifar"), ("cnn", "airbench"), ("alexnet", "cifar"), ("mobilenet", "cifar"),
                 ("resnet18", "cifar"), ("vit", "cifar")]


class Budget:
    """Seconds left of the whole check; each step's child process gets what is left."""

    def __init__(self, seconds: float):
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        return self.end - time.monotonic()


def run(args: list[str], budget: Budget, log: Path) -> tuple[int | None, float]:
    """Run `python ARGS` from the repository root with the budget's time left, its output
    appended to log; (exit code, or None if it ran out of time and was stopped, seconds). The
    child leads its own process group, so that compare.py's backend processes stop with it."""
    start = time.monotonic()
    with log.open("a") as out:
        out.write(f"\n$ python {' '.join(args)}\n")
        out.flush()
        proc = subprocess.Popen([sys.executable, *args], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            code = proc.wait(timeout=max(budget.left(), 1))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            code = None
    return code, time.monotonic() - start


def gpu_name() -> str | None:
    """The GPU PyTorch sees (None without one, or without PyTorch)."""
    if not installed("torch"):
        return None
    probe = "import torch; print(torch.cuda.get_device_name(0) if torch.cuda.is_available() else '')"
    name = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True).stdout.strip()
    return name or None


def torch_device_parity(path: Path) -> int:
    """Child process of step 2: each model's eval logits on the GPU and on the CPU, the same
    weights, IEEE float32 on both; {model (variant): max abs difference} saved as JSON at path."""
    import torch

    from pytorch_impl.device import set_precision
    from pytorch_impl.models import build_model
    from shared.architectures import input_size

    set_precision(torch.device("cuda"), "fp32")
    diffs = {}
    for model_name, variant in PARITY_MODELS:
        torch.manual_seed(0)
        model = build_model(model_name, variant=variant).eval()
        size = input_size(model_name, variant, None)
        x = torch.randn(8, 3, size, size, generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            cpu = model(x)
            gpu = model.cuda()(x.cuda()).cpu()
        diffs[f"{model_name} ({variant})"] = float((gpu - cpu).abs().max())
    path.write_text(json.dumps(diffs, indent=1))
    return 0 if max(diffs.values()) <= PARITY_TOLERANCE else 1


def parity_summary(path: Path) -> str:
    if not path.exists():
        return "no result"
    diffs = json.loads(path.read_text())
    return f"max |GPU - CPU| logit {max(diffs.values()):.1e} (tolerance {PARITY_TOLERANCE:g}): " + ", ".join(
        f"{name} {diff:.1e}" for name, diff in diffs.items())


def newest_run(out: Path) -> Path | None:
    runs = sorted((p for p in out.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime) if out.exists() else []
    return runs[-1] if runs else None


def train_summary(run_dir: Path | None, backends: list[str]) -> str:
    """Per backend: final accuracy (with test-time augmentation where the run used it), training
    time, and the first epoch whose accuracy (TTA's where there is one) reached the target."""
    parts = []
    for backend in backends:
        path = run_dir / f"{backend}.jsonl" if run_dir else None
        records = read_jsonl(path)[0] if path and path.exists() else []
        if not records:
            parts.append(f"{BACKEND_NAMES[backend]}: no records")
            continue
        elapsed, reached = 0.0, None
        for r in records:
            elapsed += r.epoch_seconds
            if reached is None and (r.tta_val_acc if r.tta_val_acc is not None else r.val_acc) >= TARGET_ACCURACY:
                reached = (r.epoch, elapsed)
        last = records[-1]
        tta = f" (TTA {last.tta_val_acc:.2%})" if last.tta_val_acc is not None else ""
        target = (f", {TARGET_ACCURACY:.0%} at epoch {reached[0]} ({reached[1]:.0f} s)" if reached
                  else f", {TARGET_ACCURACY:.0%} not reached")
        parts.append(f"{BACKEND_NAMES[backend]}: {last.val_acc:.2%}{tta} after {last.epoch} epochs, {elapsed:.0f} s, "
                     f"{last.train_images_per_sec:,.0f} img/s{target}")
    return "; ".join(parts)


def bench_summary(out: Path) -> str:
    """compute img/s per model and backend from the bench records under out."""
    rows = []
    for path in sorted(out.glob("*/*.jsonl")):
        for r in read_jsonl(path)[0]:
            rows.append(f"{r.model} {BACKEND_NAMES[r.backend]} {r.compute_images_per_sec:,.0f}")
    return ", ".join(rows) or "no records"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--budget-s", type=float, default=480, help="the whole check's time limit (default: 480)")
    p.add_argument("--out", default="gpu-check", help="folder for the log and the runs' records (default: gpu-check/)")
    p.add_argument("--torch-device-parity", metavar="JSON", help=argparse.SUPPRESS)  # step 2's child
    args = p.parse_args(argv)
    if args.torch_device_parity:
        return torch_device_parity(Path(args.torch_device_parity))

    budget, out = Budget(args.budget_s), Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    log = out / "gpu_check.log"
    backends = [b for b in BACKENDS if installed(b)]
    missing = [BACKEND_NAMES[b] for b in BACKENDS if b not in backends]
    results: list[tuple[str, str, str]] = []  # (step, status, figures)

    def step(name: str, command: list[str], figures=lambda: "") -> None:
        if budget.left() < MIN_STEP_S:
            return skip(name, f"the budget ({args.budget_s:.0f} s) is spent")
        code, seconds = run(command, budget, log)
        status = "ok" if code == 0 else ("stopped: out of time" if code is None else f"FAILED (exit {code})")
        results.append((name, status, f"{figures()} [{seconds:.0f} s]".strip()))

    def skip(name: str, why: str) -> None:
        results.append((name, "skipped", why))

    has_pytest = importlib.util.find_spec("pytest") is not None
    if has_pytest and {"torch", "tensorflow"} <= set(backends):
        step("1 precision switches (CPU side)", ["-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_precision.py"])
    else:
        skip("1 precision switches (CPU side)", "needs pytest, PyTorch and TensorFlow" + (f"; not installed: {', '.join(missing)}" if missing else ""))

    gpu = gpu_name()
    if gpu is None:
        print("gpu_check: no CUDA GPU is present (PyTorch sees none): the CPU-side checks only.")
    else:
        print(f"gpu_check: {gpu}; backends: {', '.join(BACKEND_NAMES[b] for b in backends)}"
              + (f"; left out, not installed: {', '.join(missing)}" if missing else ""))
        gpu_steps(step, skip, backends, out)
    print_summary(gpu, backends, missing, results, log)
    return 1 if any(status.startswith("FAILED") for _, status, _ in results) else 0


def gpu_steps(step, skip, backends: list[str], out: Path) -> None:
    """Steps 2 to 5."""
    parity_json = out / "torch_device_parity.json"
    step("2 parity on the GPU (PyTorch, GPU vs CPU)", [__file__, "--torch-device-parity", str(parity_json)],
         lambda: parity_summary(parity_json))
    for keras_backend in (b for b in KERAS_BACKENDS if b in backends):  # Keras on TensorFlow, on JAX
        for model, variant in PARITY_MODELS:
            step(f"2 parity {model} ({variant}), Keras on {keras_backend} on the GPU",
                 ["compare.py", "parity", "--model", model, "--variant", variant, "--backend", keras_backend])
    try:
        load_cifar10(download=False)  # an offline machine would wait on the download
    except DataError as err:  # "CIFAR-10 not found; searched: ..." names where it looked
        for name in ("3 CNN recipe", "4 ResNet-18 recipe", "5 bench"):
            skip(name, f"no usable CIFAR-10 here (set CIFAR10_DATA, or run compare.py once online to cache it): "
                       f"{str(err).splitlines()[0][:200]}")
        return
    backend = ",".join(backends)
    cnn_out, airbench_out = out / "cnn", out / "cnn-airbench"
    step("3 CNN recipe (fp32)", ["compare.py", "--model", "cnn", "--backend", backend, "--device", "cuda", "--out", str(cnn_out)],
         lambda: train_summary(newest_run(cnn_out), backends))
    step("3 CNN airbench variant (bf16)", ["compare.py", "--model", "cnn", "--variant", "airbench", "--backend", backend,
                                           "--device", "cuda", "--precision", "bf16", "--out", str(airbench_out)],
         lambda: train_summary(newest_run(airbench_out), backends))
    resnet_out = out / "resnet18"
    step("4 ResNet-18 recipe (bf16)", ["compare.py", "--model", "resnet18", "--backend", "torch", "--device", "cuda",
                                       "--precision", "bf16", "--out", str(resnet_out)],
         lambda: train_summary(newest_run(resnet_out), ["torch"]))
    for precision in ("fp32", "tf32", "bf16"):
        bench_out = out / f"bench-{precision}"
        step(f"5 bench {precision}", ["compare.py", "bench", "--model", "all", "--backend", backend, "--device", "cuda",
                                      "--precision", precision, "--out", str(bench_out)],
             lambda bench_out=bench_out: bench_summary(bench_out))


def print_summary(gpu, backends, missing, results, log: Path) -> None:
    print(f"\nGPU check summary: {gpu or 'no GPU'}; backends {', '.join(BACKEND_NAMES[b] for b in backends) or 'none'}"
          + (f" (not installed: {', '.join(missing)})" if missing else ""))
    for name, status, figures in results:
        print(f"- {name}: {status}{'  ' + figures if figures else ''}")
    print(f"log: {log}")


if __name__ == "__main__":
    raise SystemExit(main())
