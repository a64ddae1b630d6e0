"""Train a CIFAR-10 classifier in PyTorch and in TensorFlow/Keras and compare them side by side.

    python compare.py --model cnn --backend both
    python compare.py --model resnet18 --backend torch --epochs 1 --subset 5000
    python compare.py --model all --backend both --epochs 1 --subset 2000
    python compare.py --model cnn --seeds 3                          (mean ± std, Welch's interval)
    python compare.py parity --model resnet18 --variant imagenet    (layer-by-layer check)
    python compare.py report [--runs results/]                      (REPORT.md and figures)
    python compare.py table [--weights-dir DIR]                     (the original project's table)

Each backend runs in its own process (python -m pytorch_impl / tensorflow_impl RUN_DIR), on the
same verified data, the same batch plan and, when PyTorch is installed, the same initial
weights. This file imports no framework, so --help is instant and a machine with only one
framework can still run that backend.

Exit codes: 0 every backend finished; 1 a backend failed or diverged (the others' results are
still printed and saved); 2 bad arguments; 3 the dataset is missing or corrupt; 4 the ImageNet
weights are missing (offline) or do not fit the model.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd  # already loaded by shared.reporting.tables

from shared.architectures import RESIZABLE, input_size
from shared.backends import BACKEND_NAMES, BACKENDS, FRAMEWORK_MODULES, KERAS_BACKENDS, PACKAGES, installed, parse_backends
from shared.batch_plan import PADDING_MODES
from shared.bench import BenchSettings, is_bench_folder
from shared.config import (AUGMENTS, DEFAULT_VARIANT, DEVICES, MODEL_VARIANTS, MODELS, MODES, PRECISIONS, PROBES,
                           RECIPES, VARIANTS, RunConfig, describe_augmentation, resolve)
from shared.distributed import batch_problem
from shared import provenance, rules
from shared.io import atomic_write_text
from shared.metrics import EpochRecord, finished, read_jsonl
from shared.precision import gpu_only_error
from shared.reporting import original
from shared.reporting.stats import STATISTICAL_TOLERANCE
from shared.tta import TTA_MODES
from shared.reporting.tables import (DEFAULT_TOLERANCE_POINTS, append_summary, bench_rows, bench_settings_line,
                                     count, markdown, parity_verdict, seed_rows, seeds_verdict, table_rows, table_text)

ROOT = Path(__file__).resolve().parent
EXIT_BACKEND_FAILED, EXIT_BAD_ARGS, EXIT_DATA, EXIT_WEIGHTS = 1, 2, 3, 4
BACKENDS_FILE = "backends.txt"  # in a training run's folder: the backends it was started with, for --resume
current_run: Path | None = None  # the run folder being trained, for the Ctrl-C message
run_folders: list[Path] = []  # every run folder this command made, in order (compare.py table lists them)
invocation: list[str] = []  # compare.py's arguments, saved in each new run folder's provenance.json


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive integer")
    return value


def padding_pixels(text: str) -> int:
    """A crop padding: 0..31 pixels (reflection needs a border wider than the padding)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if not 0 <= value < 32:
        raise argparse.ArgumentTypeError(f"{text!r} must be 0 to 31 pixels")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (value > 0 and value != float("inf")):
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive, finite number")
    return value


def backend_list(text: str) -> list[str]:
    try:
        return parse_backends(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def add_backend_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backend", default="both", type=backend_list, metavar="BACKEND",
                   help=f"{', '.join(BACKENDS)} (Keras on JAX: the Keras models in their own process, "
                        "always compiled by XLA), a comma list of them, both (torch,tensorflow: the default) "
                        "or all (every installed one)")


def parse_args(argv=None) -> tuple[argparse.Namespace, set[str]]:
    """The arguments, and the names of those the user gave (not defaults)."""
    p = argparse.ArgumentParser(
        description="Train CIFAR-10 classifiers in PyTorch and TensorFlow/Keras and compare them.",
        epilog="Defaults for epochs, batch size, lr, ... come from the model's recipe "
               "(shared/config.py); flags override them. Exit codes: 0 ok, 1 a backend failed, "
               "2 bad arguments, 3 dataset missing or corrupt, 4 ImageNet weights missing or unfit. "
               "`compare.py parity --help`: the layer-by-layer PyTorch/Keras check; `compare.py report --help`: "
               "REPORT.md, figures and summary.csv from the stored runs; `compare.py table --help`: the original "
               "project's table, every model in its original mode, in both backends.")
    p.add_argument("--model", default="cnn", choices=(*MODELS, "all"),
                   help="model to train, or all of them one after the other (default: cnn)")
    p.add_argument("--mode", choices=MODES, default="scratch",
                   help="scratch (default): random initial weights; finetune: ImageNet weights, all "
                        "layers trained; linear-probe: ImageNet weights frozen, only a new head trained")
    p.add_argument("--variant", choices=VARIANTS,
                   help="cifar: 32×32 models (scratch default); imagenet: torchvision's 224×224 "
                        "architectures, fed the 32×32 batches resized bilinearly (finetune/linear-probe default)")
    p.add_argument("--image-size", type=positive_int,
                   help="side the model reads, for mobilenet and resnet18 (e.g. 128: about a third of "
                        "224's compute); default: the variant's 32 or 224")
    p.add_argument("--weights",
                   help="finetune/linear-probe: a member of torchvision's weight enum (e.g. IMAGENET1K_V2) "
                        "or a local .pth/.safetensors state_dict (default: IMAGENET1K_V1)")
    add_backend_option(p)
    p.add_argument("--probe", choices=PROBES, default="features",
                   help="linear-probe: features (default) extracts the frozen backbone's features once, "
                        "cached, and trains the head on them (no augmentation); full runs the whole model "
                        "every step")
    add_augment_options(p)
    p.add_argument("--epochs", type=positive_int, help="training epochs (recipe default)")
    p.add_argument("--batch-size", type=positive_int, help="training batch size (recipe default)")
    p.add_argument("--lr", type=positive_float, help="peak learning rate (recipe default)")
    p.add_argument("--subset", type=positive_int, help="train on this many training images")
    p.add_argument("--val-split", type=positive_int,
                   help="hold out this many training images for validation instead of the test set")
    p.add_argument("--seed", type=int, default=0, help="seed of the initial weights and batch plan")
    p.add_argument("--seeds", type=positive_int, default=1,
                   help="run N seeds (--seed, --seed+1, ...) per model, each shared by both backends; "
                        "with N ≥ 2 the table shows mean ± std and the verdict Welch's confidence interval")
    add_speed_options(p)
    p.add_argument("--devices", type=positive_int, default=1,
                   help="data-parallel replicas on this machine: torchrun + DistributedDataParallel (NCCL on "
                        "GPUs, gloo on the CPU) and tf.distribute.MirroredStrategy, each replica a slice of the "
                        "same global batch, BatchNorm synchronised; on the CPU each replica gets cores/N "
                        "threads. The table adds scaling efficiency (docs/distributed.md; default: 1)")
    p.add_argument("--data-dir", help="CIFAR-10 file or folder (default: $CIFAR10_DATA, then the cache)")
    p.add_argument("--out", default="results", help="results folder (default: results/)")
    p.add_argument("--tolerance", type=positive_float,
                   help=f"parity tolerance on validation accuracy, in points (default: {DEFAULT_TOLERANCE_POINTS:g} "
                        f"for one seed's Δ, {STATISTICAL_TOLERANCE:g} for the interval of --seeds 2 or more)")
    p.add_argument("--no-verify", action="store_true",
                   help="skip the training-rules check after training (compare.py verify, cached per model, "
                        "variant, recipe and commit), whose line the verdict otherwise gives")
    p.add_argument("--resume", metavar="RUN_DIR",
                   help="continue the unfinished backends of this run folder after their last complete "
                        "epoch (flags other than --backend and --tolerance must match its config.json)")
    return p.parse_args(argv), given_options(p, sys.argv[1:] if argv is None else argv)


def given_options(p: argparse.ArgumentParser, argv: list[str]) -> set[str]:
    """The names (dests) of the options that appear on the command line."""
    return {a.dest for a in p._actions for opt in a.option_strings
            if any(arg == opt or arg.startswith(opt + "=") for arg in argv)}


def add_augment_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--augment", choices=AUGMENTS, help="training augmentation (recipe default)")
    p.add_argument("--crop-padding", type=padding_pixels, metavar="PIXELS",
                   help="the random crop's padding on each side (recipe default: 4)")
    p.add_argument("--padding-mode", choices=PADDING_MODES, help="zeros (recipe default) or reflect (the border mirrored)")
    p.add_argument("--alternating-flip", action="store_true", default=None,
                   help="mirror a random half of the images in epoch 1 and the other half in each next epoch "
                        "(airbench), instead of a fresh random half every epoch")
    p.add_argument("--tta", choices=TTA_MODES, help="test-time augmentation, reported beside the plain "
                   "validation figures: mirror (2 views), mirror+translate (6, airbench's) (default: none)")


def add_speed_options(p: argparse.ArgumentParser) -> None:
    """--device, --precision, --compile: the same in both backends and in every record."""
    p.add_argument("--device", choices=DEVICES, default="auto",
                   help="auto (default): CUDA where the backend's framework sees a GPU, else the CPU")
    p.add_argument("--precision", choices=PRECISIONS,
                   help="fp32 (default; IEEE float32 in both frameworks, also on GPUs with TF32), tf32 (TF32 "
                        "tensor cores for matmuls and convolutions in both; Ampere or newer GPUs), bf16 (autocast / "
                        "mixed_bfloat16; faster on GPUs and CPUs with AVX512-BF16, much slower on CPUs without: "
                        "docs/benchmarks.md), fp16 (CUDA only)")
    p.add_argument("--compile", action="store_true", default=None,
                   help="torch.compile in PyTorch and jit_compile (XLA) in Keras")


# Run in a fresh interpreter, so compare.py itself never imports a framework.
GPU_PROBES = {"torch": "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)",
              "tensorflow": "import sys, tensorflow as tf; sys.exit(0 if tf.config.list_physical_devices('GPU') else 1)",
              "jax": "import sys, jax; sys.exit(0 if any(d.platform == 'gpu' for d in jax.devices()) else 1)"}


class Exit(Exception):
    """Stop compare.py with this exit code; with a message, printed as its one error line (fail).
    detail: the one line already printed, for a caller that goes on (compare.py table)."""

    def __init__(self, code: int, message: str | None = None, detail: str | None = None):
        super().__init__(message)
        self.code, self.message, self.detail = code, message, detail


def fail(code: int, message: str) -> int:
    print(f"compare.py: error: {message}", file=sys.stderr)
    return code


def main(argv=None) -> int:
    global invocation
    argv = sys.argv[1:] if argv is None else argv
    invocation = list(argv)
    try:
        if argv[:1] == ["parity"]:
            return parity(argv[1:])
        if argv[:1] == ["verify"]:
            return verify(argv[1:])
        if argv[:1] == ["bench"]:
            return bench(argv[1:])
        if argv[:1] == ["table"]:
            return table(argv[1:])
        if argv[:1] == ["report"]:
            from shared.reporting.command import main as report  # matplotlib: only this command needs it
            return report(argv[1:])
        args, given = parse_args(argv)
        return resume(args, given) if args.resume else train(args)
    except Exit as stop:
        return fail(stop.code, stop.message) if stop.message else stop.code


# --- What every command shares: the backends chosen, the data, the results folder ---------------

def check_gpu(backends: list[str], device: str, precision: str | None) -> None:
    """Exit 2 when --device cuda (or --precision fp16 or tf32) needs a GPU that a backend does not see."""
    if device != "cuda" and not gpu_only_error(precision):
        return
    what = "--device cuda" if device == "cuda" else f"--precision {precision}"
    instead = " with --precision fp32 or bf16" if gpu_only_error(precision) else ""
    blind = [b for b in backends if installed(b) and subprocess.run(
        [sys.executable, "-c", GPU_PROBES[b]], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode]
    if blind:
        raise Exit(EXIT_BAD_ARGS, f"{what} needs a CUDA GPU, and {' and '.join(BACKEND_NAMES[b] for b in blind)} "
                                  f"sees none; use --device cpu{instead}")


def load_data(data_dir: str | None):
    """The verified CIFAR-10 (shared.data); exit 3 when it is missing or corrupt."""
    from shared.data import DataError, load_cifar10  # numpy only, but not needed for --help
    try:
        return load_cifar10(data_dir)
    except DataError as err:
        raise Exit(EXIT_DATA, str(err)) from None


def results_folder(out: str) -> Path:
    """--out, made and known to be writable (exit 2 if it is not)."""
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".write-test-{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError as err:
        raise Exit(EXIT_BAD_ARGS, f"--out {out} is not writable ({err.strerror or err})") from None
    return out


def new_run_dir(out: Path, cfg: RunConfig, kind: str = "train") -> Path:
    what = f"bench-{cfg.model}" if kind == "bench" else f"{cfg.model}-seed{cfg.seed}"
    run_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{what}-{secrets.token_hex(2)}"
    run_dir = out / run_id
    run_dir.mkdir(parents=True)
    run_folders.append(run_dir)
    cfg.run_id = run_id
    provenance.save(run_dir, provenance.collect(invocation, ROOT))
    return run_dir


# --- Training: compare.py [--model ...] -------------------------------------------------------

def chosen_models(args: argparse.Namespace) -> tuple[str, list[str], list[str]]:
    """The variant, the models to train, and those --model all skips (no such variant or recipe);
    exit 2 for a combination of flags that cannot run."""
    variant = args.variant or DEFAULT_VARIANT[args.mode]
    if args.weights and args.mode == "scratch":
        raise Exit(EXIT_BAD_ARGS, "--weights needs --mode finetune or linear-probe")
    models = list(MODELS) if args.model == "all" else [args.model]
    if args.model != "all" and args.model not in RECIPES[args.mode]:
        raise Exit(EXIT_BAD_ARGS, f"--model {args.model} has no ImageNet weights for --mode {args.mode}; "
                                  f"models with them: {', '.join(RECIPES[args.mode])}")
    if args.model != "all" and variant not in MODEL_VARIANTS[args.model]:
        raise Exit(EXIT_BAD_ARGS, f"--model {args.model} has no {variant!r} variant; "
                                  f"it has: {', '.join(MODEL_VARIANTS[args.model])}")
    if args.model != "all" and args.image_size:
        try:
            input_size(args.model, variant, args.image_size)
        except ValueError as err:
            raise Exit(EXIT_BAD_ARGS, f"--image-size {args.image_size}: {err}") from None
    without = [m for m in models if m not in RECIPES[args.mode] or variant not in MODEL_VARIANTS[m]
               or (args.image_size and m not in RESIZABLE)]
    return variant, [m for m in models if m not in without], without


def check_mode(args: argparse.Namespace) -> None:
    """Exit 2 for what --mode and --probe rule out."""
    if args.mode != "scratch" and not installed("torch"):
        raise Exit(EXIT_BAD_ARGS, f"--mode {args.mode} needs PyTorch: torchvision provides the ImageNet "
                                  "weights that both backends start from")
    if args.mode == "linear-probe" and args.probe == "features" and args.augment not in (None, "none"):
        raise Exit(EXIT_BAD_ARGS, f"--augment {args.augment}: the features probe trains on un-augmented "
                                  "images (their features are computed once); use --probe full")
    if args.tta not in (None, "none") and args.mode == "linear-probe" and args.probe == "features":
        raise Exit(EXIT_BAD_ARGS, f"--tta {args.tta}: the features probe evaluates the head on cached features "
                                  "of the plain images; use --probe full")
    if args.devices > 1 and args.mode == "linear-probe" and args.probe == "features":
        raise Exit(EXIT_BAD_ARGS, "--devices: the features probe trains the head alone on cached features, in "
                                  "seconds; use --probe full to train the frozen model on several devices")
    if args.devices > 1 and "jax" in args.backend:
        raise Exit(EXIT_BAD_ARGS, f"--devices {args.devices}: Keras on JAX trains on one device here "
                                  "(tf.distribute is TensorFlow's); leave jax out of --backend")


def check_sizes(args: argparse.Namespace, configs: list[RunConfig], n_images: int) -> int:
    """The training images (n_images less --val-split); exit 2 where the split, the subset or a
    batch does not fit them, or a batch does not split over the devices."""
    n_train = n_images - (args.val_split or 0)
    if args.val_split and args.val_split >= n_images:
        raise Exit(EXIT_BAD_ARGS, f"--val-split {args.val_split} must be smaller than the {n_images} training images")
    if args.subset and args.subset > n_train:
        raise Exit(EXIT_BAD_ARGS, f"--subset {args.subset} is larger than the {n_train} training images")
    for cfg in configs:
        if cfg.batch_size > (cfg.subset or n_train):
            what = (f"--batch-size {cfg.batch_size}" if args.batch_size else
                    f"{cfg.model}'s recipe batch size {cfg.batch_size} (set --batch-size)")
            raise Exit(EXIT_BAD_ARGS, f"{what} is larger than the {cfg.subset or n_train} training images")
        if (problem := batch_problem(cfg.batch_size, cfg.devices)) is not None:
            raise Exit(EXIT_BAD_ARGS, problem)
    return n_train


def prepare_runs(args: argparse.Namespace, configs: list[RunConfig]):
    """What every training command checks and loads before its first run: (the backends, GPU
    checked; the verified data; the training images the configs use; the results folder)."""
    backends = args.backend
    check_gpu(backends, args.device, args.precision)
    if args.data_dir is not None and not Path(args.data_dir).expanduser().exists():
        raise Exit(EXIT_DATA, f"--data-dir {args.data_dir} does not exist")
    data = load_data(args.data_dir)
    return backends, data, check_sizes(args, configs, len(data.x_train)), results_folder(args.out)


def train(args: argparse.Namespace) -> int:
    """Every chosen model, each seed, in each chosen backend: its table, and for several seeds or
    models a table over them."""
    variant, models, without = chosen_models(args)
    check_mode(args)
    configs = [resolve(m, args.mode, variant=variant, image_size=args.image_size, weights=args.weights,
                       probe=args.probe, augment=args.augment, crop_padding=args.crop_padding, padding_mode=args.padding_mode,
                       alternating_flip=args.alternating_flip, tta=args.tta, epochs=args.epochs,
                       batch_size=args.batch_size, lr=args.lr, subset=args.subset, val_split=args.val_split, seed=args.seed,
                       device=args.device, devices=args.devices, precision=args.precision, compile=args.compile,
                       data_dir=args.data_dir, out=args.out) for m in models]
    backends, data, n_train, out = prepare_runs(args, configs)
    if without:
        print(f"note: skipped {', '.join(without)} (no {variant} variant, no {args.mode} recipe"
              f"{', or a fixed input size' if args.image_size else ''})", file=sys.stderr)
    seeds = [args.seed + i for i in range(args.seeds)]
    tables, verdicts, failed = [], [], False
    for cfg in configs:
        table, verdict, ok = train_seeds(cfg, seeds, backends, data.source, n_train, out, args.tolerance,
                                         verify=not args.no_verify)
        tables.append(table)
        verdicts.append(f"{cfg.model}: {verdict}" if len(configs) > 1 and verdict else verdict)
        failed |= not ok
    if len(configs) > 1:
        combined = "\n\n".join(filter(None, [table_text(pd.concat(tables, ignore_index=True), cfg.warmup_batches),
                                              *verdicts]))
        seed_label = f"seed{args.seed}" if len(seeds) == 1 else f"seeds{seeds[0]}-{seeds[-1]}"
        path = out / f"{time.strftime('%Y%m%d-%H%M%S')}-all-{args.mode}-{variant}-{seed_label}.md"
        atomic_write_text(path, f"# All models ({variant}, {args.mode})\n\n{combined}\n")
        print(f"\n{combined}\n\nall models: {path}")
    return EXIT_BACKEND_FAILED if failed else 0


def train_seeds(cfg: RunConfig, seeds: list[int], backends: list[str], source: str, n_train: int, out: Path,
                tolerance: float | None, verify: bool = True) -> tuple[pd.DataFrame, str, bool]:
    """One model with each seed (run_model); with several seeds, the table over them. Returns the
    table, the verdict and whether every backend finished every seed."""
    seed_runs: dict[str, list[list[EpochRecord]]] = {b: [] for b in backends}
    ok = True
    for seed in seeds:
        table, verdict, finished_all, runs = run_model(dataclasses.replace(cfg, seed=seed), backends, source,
                                                       n_train, tolerance or DEFAULT_TOLERANCE_POINTS, verify=verify)
        for backend in backends:
            seed_runs[backend].append(runs[backend])
        ok &= finished_all
    if len(seeds) > 1:
        table, verdict = seeds_summary(cfg, seed_runs, seeds, out, tolerance or STATISTICAL_TOLERANCE)
    return table, verdict, ok


def seeds_summary(cfg: RunConfig, runs: dict[str, list[list[EpochRecord]]], seeds: list[int], out: Path,
                  tolerance: float) -> tuple[pd.DataFrame, str]:
    """The table over seeds (mean ± std) and the statistical verdict, printed and saved beside
    the per-seed run folders."""
    rows = seed_rows(runs)
    verdict = seeds_verdict(runs, tolerance) if len(runs) > 1 else ""
    title = f"{cfg.model} ({cfg.variant}, {cfg.mode}), seeds {seeds[0]}–{seeds[-1]}"
    report = "\n\n".join(filter(None, [table_text(rows, cfg.warmup_batches), verdict]))
    path = out / f"{time.strftime('%Y%m%d-%H%M%S')}-{cfg.model}-{cfg.mode}-{cfg.variant}-seeds{seeds[0]}-{seeds[-1]}.md"
    atomic_write_text(path, f"# {title}\n\n{report}\n")
    print(f"\n{title}: mean ± standard deviation over {len(seeds)} seeds\n\n{report}\n\nseeds table: {path}", flush=True)
    return rows, verdict


# --- compare.py --resume RUN_DIR ---------------------------------------------------------------

def resume(args: argparse.Namespace, given: set[str]) -> int:
    """--resume RUN_DIR: run the backends of a stored run that have not finished every epoch;
    each continues after its checkpoint (shared/run.py). Then the run's table, as always."""
    run_dir = Path(args.resume)
    cfg = stored_config(run_dir)
    backends = args.backend if "backend" in given else (started_backends(run_dir) or args.backend)
    given -= {"resume", "backend", "tolerance", "no_verify"}
    if "seeds" in given:
        raise Exit(EXIT_BAD_ARGS, "--resume continues one run: it does not take --seeds")
    if "out" in given and Path(args.out).resolve() != run_dir.resolve().parent:
        raise Exit(EXIT_BAD_ARGS, f"--resume {run_dir}: --out {args.out} is not the folder that holds the run")
    conflicts = [f"--{name.replace('_', '-')} {getattr(args, name)} (the run has {getattr(cfg, name)})"
                 for name in sorted(given - {"out"}) if getattr(args, name) != getattr(cfg, name)]
    if conflicts:
        raise Exit(EXIT_BAD_ARGS, f"--resume {run_dir}: its config does not match {'; '.join(conflicts)}")
    data = load_data(cfg.data_dir)
    cfg.out = str(run_dir.parent)
    _, _, ok, _ = run_model(cfg, backends, data.source,
                            len(data.x_train) - (cfg.val_split or 0), args.tolerance or DEFAULT_TOLERANCE_POINTS,
                            run_dir=run_dir, verify=not args.no_verify)
    return 0 if ok else EXIT_BACKEND_FAILED


def started_backends(run_dir: Path) -> list[str]:
    """The backends a run was started with (BACKENDS_FILE; [] in a folder made before it existed):
    those that --resume continues when --backend is not given."""
    path = run_dir / BACKENDS_FILE
    try:
        return parse_backends(path.read_text().strip()) if path.exists() else []
    except ValueError:
        return []


def stored_config(run_dir: Path) -> RunConfig:
    """The config.json of a training run's folder; exit 2 for anything else."""
    if not (run_dir / "config.json").is_file():
        raise Exit(EXIT_BAD_ARGS, f"--resume {run_dir}: not a run folder (it has no config.json)")
    if is_bench_folder(run_dir):
        raise Exit(EXIT_BAD_ARGS, f"--resume {run_dir}: a bench folder, not a training run (run the bench again)")
    try:
        return RunConfig.load(run_dir / "config.json")
    except (ValueError, TypeError) as err:
        raise Exit(EXIT_BAD_ARGS, f"--resume {run_dir}: config.json is unreadable "
                                  f"({str(err).splitlines()[0]})") from None


# --- One training run: its processes, its records, its table ---------------------------------

def run_model(cfg: RunConfig, backends: list[str], source: str, n_train: int, tolerance: float,
              run_dir: Path | None = None, verify: bool = True) -> tuple[pd.DataFrame, str, bool, dict[str, list[EpochRecord]]]:
    """Train one model in each backend (own processes), print and save its table; with run_dir,
    resume that run instead (backends that finished are left as they are).
    Returns (table rows, parity verdict, whether every backend finished, the records per
    backend); exits (Exit) when the pretrained weights cannot be used (the run folder is then
    removed: nothing ran)."""
    global current_run
    resuming = run_dir is not None
    if not resuming:
        run_dir = new_run_dir(Path(cfg.out), cfg)
        cfg.save(run_dir / "config.json")
        atomic_write_text(run_dir / BACKENDS_FILE, ",".join(backends) + "\n")
    current_run = run_dir
    print(f"{'resume' if resuming else 'run'} {cfg.run_id}: {cfg.model} ({cfg.variant}, {cfg.mode}, {cfg.image_size}×{cfg.image_size}), {count(cfg.epochs, 'epoch')}, "
          f"batch {cfg.batch_size}, {cfg.optimizer}, {cfg.precision}, {cfg.device}"
          f"{f' × {cfg.devices} devices' if cfg.devices > 1 else ''}; data: {source}",
          flush=True)
    if not resuming and installed("torch"):
        make_initial_weights(cfg, run_dir)

    def already_finished(backend: str) -> bool:  # resuming: a backend that finished is left as it is
        path = run_dir / f"{backend}.jsonl"
        if resuming and path.exists() and finished(read_jsonl(path)[0]):
            print(f"[{backend}] already finished all {cfg.epochs} epochs", flush=True)
            return True
        return False

    # Several PyTorch replicas: torchrun starts one process per device (pytorch_impl/launch.py);
    # Keras' replicas are devices of its one process (tensorflow_impl/distributed.py).
    modules = {b: "pytorch_impl.launch" if b == "torch" and cfg.devices > 1 else PACKAGES[b] for b in backends}
    reasons = launch_backends(modules, run_dir, skip=already_finished)
    runs = read_records(run_dir, backends)
    rule_checks = check_rules(run_dir, backends) if verify else {}
    rows, verdict = report_run(cfg, run_dir, runs, reasons, n_train, tolerance, rule_checks)
    current_run = None
    return rows, verdict, all(finished(records) for records in runs.values()) and not reasons, runs


def check_rules(run_dir: Path, backends: list[str]) -> dict[str, dict | None]:
    """The training-rules check of each Keras backend against PyTorch (`compare.py verify` on the
    run's own config), after training so that it never shares the CPU with a timed run: from the
    cache (shared/rules.py), else `python -m crosscheck.rules` once. Saved beside the records.
    {backend: its result, or None where it could not run}."""
    keras_backends = [b for b in backends if b in KERAS_BACKENDS]
    if "torch" not in backends or not keras_backends:
        return {}
    cfg, commit, results = stored_config(run_dir), provenance.git_commit(ROOT), {}
    for backend in keras_backends:
        path, key = run_dir / rules.RESULT_FILE.format(backend=backend), rules.cache_key(cfg, backend, commit)
        cached = rules.load(rules.cache_path(key)) if key else None
        if cached is None and installed("torch") and installed(backend):
            print(f"[{backend}] checking the training rules against PyTorch (compare.py verify; --no-verify skips it)",
                  flush=True)
            subprocess.run([sys.executable, "-m", "crosscheck.rules", "--config", str(run_dir / "config.json"),
                            "--backend", backend, "--json", str(path)], cwd=ROOT, env=backend_env(),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if (checked := rules.load(path)) is not None and key:
                rules.cache_path(key).parent.mkdir(parents=True, exist_ok=True)
                atomic_write_text(rules.cache_path(key), json.dumps(checked, indent=2) + "\n")
        elif cached is not None:
            atomic_write_text(path, json.dumps(cached, indent=2) + "\n")
        results[backend] = rules.load(path)
    return results


def make_initial_weights(cfg: RunConfig, run_dir: Path) -> None:
    """PyTorch's initial weights for both backends (pytorch_impl.init_weights). Its one line of
    failure is printed once, here, with what follows from it: exit 4 (the run folder removed) when
    the pretrained weights are missing or unfit, 1 when they cannot be made otherwise; from scratch,
    a warning, and each backend starts from its own."""
    code, last = run_process(["-m", "pytorch_impl.init_weights", str(run_dir)], echo=False)
    if code == EXIT_WEIGHTS:  # the weights are missing or unfit: nothing ran, nothing to keep
        print(last, file=sys.stderr)
        shutil.rmtree(run_dir, ignore_errors=True)
        raise Exit(EXIT_WEIGHTS, detail=last)
    if code != 0 and cfg.pretrained:  # the run folder keeps the log that the line points to
        print(last, file=sys.stderr)
        raise Exit(EXIT_BACKEND_FAILED, detail=last)
    if code != 0:
        print(f"warning: could not make shared initial weights ({last}); each backend uses its own",
              file=sys.stderr)


def report_run(cfg: RunConfig, run_dir: Path, runs: dict[str, list[EpochRecord]], reasons: dict[str, str],
               n_train: int, tolerance: float, rule_checks: dict[str, dict | None]) -> tuple[pd.DataFrame, str]:
    """The run's table, verdict and settings: printed, saved as table.md, the final records added
    to summary.csv. Returns the table rows and the verdict."""
    out = Path(cfg.out)
    rows = table_rows(runs, cfg.model, reasons)
    finals = {b: (r[-1] if r else None) for b, r in runs.items()}
    verdict = parity_verdict(finals, tolerance, rule_checks) if len(runs) > 1 else ""
    last = [r for r in finals.values() if r is not None]
    report = "\n\n".join(filter(None, [table_text(rows, cfg.warmup_batches), verdict, settings_line(cfg, n_train, last)]))
    print("\n" + report)
    atomic_write_text(run_dir / "table.md", f"# Run {cfg.run_id}\n\n{report}\n")
    if last:
        save_summary(out, last, run_dir)
    print(f"\nresults: {run_dir}  (summary: {out / 'summary.csv'})", flush=True)
    if any(r is not None and r.status == "ok" and r.epoch < r.epochs for r in finals.values()):
        print(f"to continue the unfinished epochs: python compare.py --resume {run_dir}", flush=True)
    return rows, verdict


def settings_line(cfg: RunConfig, n_train: int, last: list[EpochRecord]) -> str:
    parts = [f"{cfg.image_size}×{cfg.image_size} input", count(cfg.epochs, "epoch"), f"batch {cfg.batch_size}",
             f"{cfg.optimizer} lr {cfg.lr:g}", f"augment {describe_augmentation(**vars(cfg))}", cfg.precision,
             "/".join(sorted({r.device for r in last})) or cfg.device, f"seed {cfg.seed}",
             f"train images {cfg.subset or n_train}",
             f"validation {'holdout ' + str(cfg.val_split) if cfg.val_split else 'test set (10,000)'}"]
    parts += ["compiled (torch.compile / jit_compile)"] if cfg.compile else []
    parts += [f"validation also with {cfg.tta} test-time augmentation (in brackets)"] if cfg.tta != "none" else []
    parts += [f"initial weights {init}" for init in sorted({r.init for r in last})]
    parts += [f"GPU math {math}" for math in sorted({r.gpu_math for r in last if r.gpu_math})]
    if cfg.mode == "linear-probe":
        parts.append("head trained on cached features" if cfg.probe == "features" else "whole frozen model run every step")
        rates = [f"{BACKEND_NAMES[r.backend]} {r.feature_images_per_sec:.0f} img/s" for r in last
                 if r.feature_images_per_sec is not None]
        if rates:  # the img/s columns then measure the head alone
            parts.append(f"backbone feature extraction {', '.join(rates)}")
    devices = {f"{BACKEND_NAMES[r.backend]} on {r.device}" for r in last}
    warning = (f" Warning: the backends ran on different devices ({', '.join(sorted(devices))}): their speeds "
               "are not comparable." if len({r.device for r in last}) > 1 else "")
    if len({r.gpu_math for r in last}) > 1:  # shared/precision.py sets them alike; a record from elsewhere may not
        maths = "; ".join(f"{BACKEND_NAMES[r.backend]} {r.gpu_math or 'CPU'}" for r in last)
        warning += f" Warning: the backends ran different float32 math ({maths}): not a like-for-like comparison."
    return "Settings: " + ", ".join(parts) + "." + warning


# --- compare.py bench ---------------------------------------------------------------------------

def bench_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="compare.py bench", description="Throughput, pipeline efficiency, latency and "
                                "memory per model and backend (docs/benchmarks.md has the method).")
    p.add_argument("--model", default="resnet18", choices=(*MODELS, "all"), help="default: resnet18")
    add_backend_option(p)
    p.add_argument("--variant", choices=VARIANTS, default="cifar", help="default: cifar (32×32 models)")
    p.add_argument("--batch-size", type=positive_int, default=128, help="default: 128")
    add_speed_options(p)
    defaults = BenchSettings()
    p.add_argument("--warmup-steps", type=positive_int, default=defaults.warmup_steps,
                   help="untimed steps of each source before the windows (default: %(default)s)")
    p.add_argument("--windows", type=positive_int, default=defaults.windows,
                   help="timed windows of each source (compute, train), alternating; the median counts "
                   "(default: %(default)s)")
    p.add_argument("--window-steps", type=positive_int, default=defaults.window_steps,
                   help="steps per window (default: %(default)s)")
    p.add_argument("--eval-images", type=positive_int, default=defaults.eval_images, help="default: %(default)s")
    p.add_argument("--latency-runs", type=positive_int, default=defaults.latency_runs, help="default: %(default)s")
    p.add_argument("--subset", type=positive_int, help="draw the training batches from this many images")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-dir", help="CIFAR-10 file or folder (default: $CIFAR10_DATA, then the cache)")
    p.add_argument("--out", default="results", help="results folder (default: results/)")
    return p


def bench(argv: list[str]) -> int:
    """`compare.py bench ...`: throughput, pipeline efficiency, latency and memory per model and
    backend (shared/bench.py has the method), each backend in its own process, as in training."""
    args = bench_parser().parse_args(argv)
    defaults = BenchSettings()
    settings = BenchSettings(warmup_steps=args.warmup_steps, windows=args.windows, window_steps=args.window_steps,
                             eval_images=args.eval_images, latency_runs=args.latency_runs,
                             latency_warmup=min(defaults.latency_warmup, args.latency_runs))
    models = [m for m in (MODELS if args.model == "all" else [args.model]) if args.variant in MODEL_VARIANTS[m]]
    if not models:
        raise Exit(EXIT_BAD_ARGS, f"--model {args.model} has no {args.variant!r} variant")
    backends = args.backend
    check_gpu(backends, args.device, args.precision)
    data = load_data(args.data_dir)
    if args.subset and args.subset > len(data.x_train):
        raise Exit(EXIT_BAD_ARGS, f"--subset {args.subset} is larger than the {len(data.x_train)} training images")
    batches = (args.subset or len(data.x_train)) // args.batch_size
    if batches < settings.steps:
        raise Exit(EXIT_BAD_ARGS, f"the training images give {batches} batches of {args.batch_size}; a measurement "
                                  f"needs {settings.steps} (--warmup-steps + --windows × --window-steps)")
    out = results_folder(args.out)
    tables, texts, failed = [], [], False
    for model in models:
        table, text, ok = bench_model(model, args, settings, backends, out)
        tables.append(table)
        texts.append(text)
        failed |= not ok
    if len(models) > 1:
        combined = markdown(pd.concat(tables, ignore_index=True))
        path = out / f"{time.strftime('%Y%m%d-%H%M%S')}-bench-all-{args.variant}.md"
        atomic_write_text(path, f"# Bench, all models ({args.variant})\n\n{combined}\n\n{texts[-1]}\n")
        print(f"{combined}\n\nall models: {path}")
    return EXIT_BACKEND_FAILED if failed else 0


def bench_model(model: str, args: argparse.Namespace, settings: BenchSettings, backends: list[str],
                out: Path) -> tuple[pd.DataFrame, str, bool]:
    """One model's bench in each backend (own processes): its table, printed and saved, and its
    settings line; returns them and whether every backend gave a record."""
    cfg = resolve(model, "scratch", variant=args.variant, batch_size=args.batch_size, epochs=1,
                  subset=args.subset, seed=args.seed, device=args.device, precision=args.precision,
                  compile=args.compile, data_dir=args.data_dir, out=args.out)
    run_dir = new_run_dir(out, cfg, kind="bench")
    cfg.save(run_dir / "config.json")
    settings.save(run_dir)
    print(f"bench {cfg.run_id}: {model} ({args.variant}), batch {cfg.batch_size}, {cfg.precision}, "
          f"{'compiled, ' if cfg.compile else ''}{cfg.device}", flush=True)
    reasons = launch_backends({b: f"{PACKAGES[b]}.bench" for b in backends}, run_dir)
    records = {b: (found[-1] if found and b not in reasons else None)
               for b, found in read_records(run_dir, backends).items()}
    done = [r for r in records.values() if r is not None]
    table, text = bench_rows(records, model, reasons), bench_settings_line(done)
    atomic_write_text(run_dir / "table.md", f"# Bench {cfg.run_id}\n\n{markdown(table)}\n\n{text}\n")
    if done:
        save_summary(out, done, run_dir)
    print(f"\n{markdown(table)}\n\n{text}\n\nresults: {run_dir}\n", flush=True)
    return table, text, len(done) == len(backends)


# --- compare.py table: the original project's table --------------------------------------------

class OneLineParser(argparse.ArgumentParser):
    """argparse whose mistakes are one line (exit 2), without the usage block."""

    def error(self, message: str):
        raise Exit(EXIT_BAD_ARGS, f"{message} (see {self.prog} --help)")


def table_parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="compare.py table", description="The original project's table again: the CNN from "
                      "scratch, AlexNet, MobileNetV2 and ResNet-18 fine-tuned from ImageNet weights, ViT-B/16 as a "
                      "linear probe, each a normal run in each backend, with the original's figures (T4 GPU) "
                      "beside them.", epilog="A model whose ImageNet weights cannot be had is skipped with one line; "
                      "the others still run. Exit codes: 0 every model that could run ran, 1 a backend failed, "
                      "2 bad arguments, 3 dataset missing or corrupt, 4 nothing could run (no weights).")
    p.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS), metavar="MODEL",
                   help=f"the rows to run, of {', '.join(MODELS)} (default: all five)")
    add_backend_option(p)
    p.add_argument("--weights-dir", metavar="DIR", help="a folder of torchvision's checkpoint files under their "
                   f"usual names ({', '.join(original.CHECKPOINTS.values())}); a model whose file is not there is "
                   "skipped (default: torch.hub's cache, downloading what is missing)")
    p.add_argument("--weights", action="append", default=[], metavar="MODEL=SPEC",
                   help="one model's weights, as --weights takes them: a .pth/.safetensors file or an enum member "
                        "(e.g. mobilenet=../shared/weights/FILE.pth); repeatable; wins over --weights-dir")
    p.add_argument("--epochs", type=positive_int, help="training epochs of every model (default: each recipe's)")
    p.add_argument("--batch-size", type=positive_int, help="training batch size (default: each recipe's)")
    p.add_argument("--subset", type=positive_int, help="train on this many training images")
    p.add_argument("--val-split", type=positive_int,
                   help="hold out this many training images for validation instead of the test set")
    p.add_argument("--image-size", type=positive_int,
                   help="side MobileNetV2 and ResNet-18 read (e.g. 128); the others keep theirs (default: 224)")
    p.add_argument("--seed", type=int, default=0, help="seed of the initial weights and batch plan")
    p.add_argument("--seeds", type=positive_int, default=1, help="run N seeds per model (mean ± std)")
    add_speed_options(p)
    p.add_argument("--data-dir", help="CIFAR-10 file or folder (default: $CIFAR10_DATA, then the cache)")
    p.add_argument("--out", default="results", help="results folder (default: results/)")
    p.add_argument("--no-verify", action="store_true", help="skip each run's training-rules check (compare.py verify)")
    return p


def table(argv: list[str]) -> int:
    """`compare.py table ...`: each of the original's models in its original mode, a normal run
    (train_seeds) in each backend, then one table with the original's figures beside them."""
    args = table_parser().parse_args(argv)
    specs, missing = table_weights(args)
    configs = [resolve(m, original.MODES[m], image_size=args.image_size if m in RESIZABLE else None,
                       weights=specs.get(m), epochs=args.epochs, batch_size=args.batch_size, subset=args.subset,
                       val_split=args.val_split, seed=args.seed, device=args.device, precision=args.precision,
                       compile=args.compile, data_dir=args.data_dir, out=args.out)
               for m in MODELS if m in args.models]
    backends, data, n_train, out = prepare_runs(args, configs)
    missing.update(unavailable_weights({m: s for m, s in specs.items()
                                        if m not in missing and not (s and Path(s).is_file())}))
    if len(missing) == len(configs):
        raise Exit(EXIT_WEIGHTS, "nothing to run: " + "; ".join(f"{m}: {line}" for m, line in missing.items()))
    for model, line in missing.items():
        print(f"table: {model} skipped: {line}", file=sys.stderr, flush=True)
    rows, ok = [], True
    for cfg in configs:
        if cfg.model in missing:
            rows.append(original.Row(cfg.model, cfg.mode, cfg.image_size, skipped="no ImageNet weights",
                                     detail=missing[cfg.model]))
            continue
        row, finished_all = table_row(cfg, [args.seed + i for i in range(args.seeds)], backends, data.source,
                                      n_train, out, verify=not args.no_verify)
        rows.append(row)
        ok &= finished_all
    write_table(rows, backends, out, args.seed)
    if all(row.measured is None for row in rows):
        return EXIT_WEIGHTS if all(row.skipped for row in rows) else EXIT_BACKEND_FAILED
    return 0 if ok else EXIT_BACKEND_FAILED


def table_weights(args: argparse.Namespace) -> tuple[dict[str, str | None], dict[str, str]]:
    """Each chosen pretrained model's --weights: its MODEL=SPEC, else its file in --weights-dir,
    else None (torchvision's cache, or a download); and, in one line each, the files that
    --weights-dir lacks. Exit 2 for a malformed flag or --image-size."""
    given = {}
    for item in args.weights:
        model, _, spec = item.partition("=")
        if model not in original.CHECKPOINTS or not spec:
            raise Exit(EXIT_BAD_ARGS, f"--weights {item}: expected MODEL=FILE or MODEL=MEMBER, MODEL one of "
                                      f"{', '.join(original.CHECKPOINTS)}")
        local = Path(spec).expanduser()  # a file, as the backend processes (run in this checkout) will find it
        given[model] = str(local.resolve()) if local.exists() else spec
    folder = Path(args.weights_dir).expanduser().resolve() if args.weights_dir else None
    if folder is not None and not folder.is_dir():
        raise Exit(EXIT_BAD_ARGS, f"--weights-dir {args.weights_dir} is not a folder")
    if args.image_size:
        try:
            input_size(RESIZABLE[0], "imagenet", args.image_size)
        except ValueError as err:
            raise Exit(EXIT_BAD_ARGS, f"--image-size {args.image_size}: {err}") from None
    pretrained = [m for m in args.models if m in original.CHECKPOINTS]
    specs = {m: given.get(m) or (str(folder / original.CHECKPOINTS[m]) if folder else None) for m in pretrained}
    missing = {m: f"{original.CHECKPOINTS[m]} is not in {folder}/; download it from {original.checkpoint_url(m)} "
                  f"into that folder" for m in pretrained
               if folder and m not in given and not (folder / original.CHECKPOINTS[m]).is_file()}
    return specs, missing


def unavailable_weights(specs: dict[str, str | None]) -> dict[str, str]:
    """Why each of these pretrained models cannot run, in one line, asked of PyTorch in its own
    process (python -m pytorch_impl.pretrained), which downloads into torch.hub's cache what
    is missing there; {} when all can. (A file that exists is not asked about: whether it fits
    the model is seen when its run starts.)"""
    if specs and not installed("torch"):
        return {m: "needs PyTorch: torchvision provides the ImageNet weights both backends start from "
                   "(pip install -r requirements.txt)" for m in specs}
    if not specs:
        return {}
    print(f"table: checking the ImageNet weights of {', '.join(specs)} (downloading what is missing)", flush=True)
    found = subprocess.run([sys.executable, "-m", "pytorch_impl.pretrained", *(f"{m}={s or ''}" for m, s in specs.items())],
                           cwd=ROOT, env=backend_env(), capture_output=True, text=True)
    answers = dict(line.split("\t", 1) for line in found.stdout.splitlines() if "\t" in line)
    why = (found.stderr.strip().splitlines() or [f"exit {found.returncode}"])[-1]
    return {m: answers.get(m, why) for m in specs if answers.get(m) != "ok"}


def table_row(cfg: RunConfig, seeds: list[int], backends: list[str], source: str, n_train: int,
              out: Path, verify: bool = True) -> tuple[original.Row, bool]:
    """One model's normal runs (train_seeds) as a row of the table, and whether every backend
    finished; weights that turn out unusable when the run starts skip the row (their one line is
    printed already)."""
    row, first, ok = original.Row(cfg.model, cfg.mode, cfg.image_size), len(run_folders), True
    try:
        row.measured, _, ok = train_seeds(cfg, seeds, backends, source, n_train, out, None, verify=verify)
    except Exit as stop:  # from make_initial_weights
        if stop.code == EXIT_WEIGHTS:
            row.skipped, row.detail = "unusable ImageNet weights", stop.detail
        else:
            row.failed, ok = stop.detail or f"exit {stop.code}", False
    row.runs = [p.name for p in run_folders[first:] if p.exists()]
    row.settings = (f"{count(cfg.epochs, 'epoch')}, batch {cfg.batch_size}, {cfg.subset or n_train} "
                    f"training images, validation on {f'{cfg.val_split} held out' if cfg.val_split else 'the test set'}, "
                    f"{cfg.precision}{', compiled' if cfg.compile else ''}")
    return row, ok


def write_table(rows: list[original.Row], backends: list[str], out: Path, seed: int) -> Path:
    """The combined table, printed and saved (atomically) in --out beside the run folders."""
    frame = original.combined_table(rows, backends)
    notes = [f"- {line}" for line in original.notes(rows)]
    runs = [f"- {original.NAMES[r.model]} ({r.settings}): {', '.join(r.runs)}" for r in rows if r.runs]
    text = "\n\n".join(filter(None, [
        markdown(frame), f"{original.ORIGINAL}: the original project's published figures (T4 GPU).",
        "Not run:\n" + "\n".join(notes) if notes else "",
        f"Run folders (in {out}):\n" + "\n".join(runs) if runs else "",
        "Command: python compare.py " + shlex.join(invocation)]))
    path = out / f"{time.strftime('%Y%m%d-%H%M%S')}-table-seed{seed}.md"
    atomic_write_text(path, f"# The original project's table, PyTorch and TensorFlow/Keras\n\n{text}\n")
    print(f"\n{text}\n\ntable: {path}", flush=True)
    return path


# --- compare.py parity --------------------------------------------------------------------------

def parity(argv: list[str]) -> int:
    """`compare.py parity ...`: python -m crosscheck, which needs both frameworks. Its arguments are
    read here first (crosscheck.command imports no framework): --help and mistakes need neither."""
    from crosscheck.command import parse_args
    args = parse_args(argv)
    missing = [b for b in ("torch", args.backend) if not installed(b)]
    if missing:
        raise Exit(EXIT_BAD_ARGS, f"parity needs PyTorch and Keras on {args.backend}; not installed: "
                                  f"{', '.join('/'.join(FRAMEWORK_MODULES[b]) for b in missing)}")
    code, _ = run_process(["-m", "crosscheck", *argv])
    return code


# --- compare.py verify --------------------------------------------------------------------------

def verify(argv: list[str]) -> int:
    """`compare.py verify ...`: the training-rules check (crosscheck/rules.py), one process per
    Keras backend, each against PyTorch. Its arguments are read here first, without a framework."""
    from crosscheck.command import parse_verify_args
    args = parse_verify_args(argv)
    if args.data_dir is not None and not Path(args.data_dir).expanduser().exists():
        raise Exit(EXIT_DATA, f"--data-dir {args.data_dir} does not exist")
    missing = [b for b in ("torch", *args.backends) if not installed(b)]
    if missing:
        raise Exit(EXIT_BAD_ARGS, f"verify needs PyTorch and Keras on {' and '.join(args.backends)}; not installed: "
                                  f"{', '.join('/'.join(FRAMEWORK_MODULES[b]) for b in missing)}")
    others = [a for i, a in enumerate(argv) if a != "--backend" and (i == 0 or argv[i - 1] != "--backend")
              and not a.startswith("--backend=")]
    codes = []
    for backend in args.backends:
        code, _ = run_process(["-m", "crosscheck.rules", *others, "--backend", backend])
        codes.append(code)
        if code == EXIT_DATA:
            return code
    return next((c for c in codes if c), 0)


# --- The backend processes: how training and bench launch them and read what they wrote --------

# glibc's malloc hands large freed blocks back to the kernel and faults them in again, zeroed, on
# the next step. Keeping them for reuse (what jemalloc and tcmalloc do) is faster and steadier
# (docs/benchmarks.md, "Speed options").
# Both backends get it; values the user set win.
MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": str(32 * 2**20), "MALLOC_TRIM_THRESHOLD_": str(16 * 2**30),
              "MALLOC_TOP_PAD_": str(2**30)}


def launch_backends(modules: dict[str, str], run_dir: Path, skip=lambda backend: False) -> dict[str, str]:
    """Run `python -m <module> RUN_DIR` for each backend in turn ({backend: module}), unless its
    framework is not installed or skip(backend) says so. Returns why each backend that did not run
    or failed has no (complete) records, in a few words for the table."""
    reasons: dict[str, str] = {}
    for backend, module in modules.items():
        if not installed(backend):
            reasons[backend] = (f"failed: {'/'.join(FRAMEWORK_MODULES[backend])} not installed "
                                f"(pip install -r requirements.txt installs both frameworks)")
            print(f"[{backend}] skipped: {reasons[backend]}", file=sys.stderr)
            continue
        if skip(backend):
            continue
        code, last = run_process(["-m", module, str(run_dir)])
        if code != 0:
            reasons[backend] = f"failed (exit {code}): {last}" if last else f"failed (exit {code})"
    return reasons


def read_records(run_dir: Path, backends: list[str]) -> dict[str, list]:
    """Each backend's records in the run folder ([] when it wrote none); a line that fails the
    schema is skipped with a warning."""
    runs = {}
    for backend in backends:
        path = run_dir / f"{backend}.jsonl"
        records, problems = read_jsonl(path) if path.exists() else ([], [])
        for problem in problems:
            print(f"warning: {problem}", file=sys.stderr)
        runs[backend] = records
    return runs


def save_summary(out: Path, records: list, run_dir: Path) -> None:
    """Add the records to out/summary.csv; one that cannot be read is left as it was, with a warning."""
    try:
        append_summary(out / "summary.csv", records)
    except (ValueError, OSError, UnicodeDecodeError) as err:  # pandas' parser errors are ValueErrors
        print(f"warning: {out / 'summary.csv'} left as it was ({type(err).__name__}: "
              f"{str(err).splitlines()[0] if str(err) else ''}); this run's records are in {run_dir}",
              file=sys.stderr)


def backend_env() -> dict[str, str]:
    """The environment of a backend process: MALLOC_ENV under the user's, this checkout importable."""
    return {**MALLOC_ENV, **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}


def run_process(args: list[str], echo: bool = True) -> tuple[int, str]:
    """Run a backend process, echoing its output (unless echo is False: then its stderr is only
    read); return its exit code and last stderr line."""
    proc = subprocess.Popen([sys.executable, *args], cwd=ROOT, env=backend_env(), stderr=subprocess.PIPE, text=True)
    last = ""
    try:
        for line in proc.stderr:
            if echo:
                sys.stderr.write(line)
            if line.strip():
                last = line.strip()
        return proc.wait(), last
    except KeyboardInterrupt:
        stop_backend(proc)
        raise


def stop_backend(proc: subprocess.Popen, grace_s: float = 5.0) -> None:
    """After a Ctrl-C, let the backend process end before compare.py does, so nothing outlives it.

    A terminal's Ctrl-C reaches the backend too (same process group) and it stops on its own; a
    SIGINT sent to compare.py alone is passed on after a grace period; a backend that ignores it
    is killed (its last checkpoint and records are whole either way: both are written atomically).
    """
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    sys.stderr.write(proc.stderr.read())


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:  # the backend processes got the same Ctrl-C and stop on their own
        print("compare.py: interrupted" + (f"; finished epochs are saved, continue with: python compare.py "
                                           f"--resume {current_run}" if current_run else ""), file=sys.stderr)
        raise SystemExit(130) from None
