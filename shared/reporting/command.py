"""`compare.py report`: re-read every stored run — never re-train — and write REPORT.md, its PNG
figures and a summary.csv regenerated from the records.

    python compare.py report [--runs results/] [--out results/REPORT.md] [--tolerance POINTS]

Runs are grouped into comparisons by everything that makes two runs comparable (model, variant,
mode, input side, epochs, batch size, optimizer, learning rate, augmentation, test-time
augmentation, weights, precision, device, training and validation images); the seeds of a comparison are its samples.
Rows with different settings are never pooled: they form separate comparisons, and when a
model appears in several, the report says which settings differ. Anything unreadable (a folder
without a valid config, a record that fails the schema) is skipped and named.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import asdict
from pathlib import Path

import pandas as pd

from shared.architectures import input_size
from shared.backends import BACKEND_NAMES, BACKENDS
from shared.bench import is_bench_folder
from shared.config import DEFAULT_VARIANT, RunConfig, describe_augmentation
from shared.io import atomic_write_text
from shared import provenance
from shared.metrics import UNMEASURED, BenchRecord, EpochRecord, finished, read_jsonl
from shared.reporting import figures, original
from shared.reporting.stats import STATISTICAL_TOLERANCE
from shared.reporting.tables import (bench_rows, bench_settings_line, count, markdown, pairwise, parity_verdict, resolution,
                                     seed_rows, seeds_verdict, table_text)

# What must be equal for two runs to be seeds of one comparison (RunConfig fields).
SETTINGS = ("model", "variant", "mode", "image_size", "epochs", "batch_size", "optimizer", "lr", "schedule",
            "weight_decay", "label_smoothing", "augment", "probe", "weights", "precision", "device", "compile",
            "subset", "val_split", "crop_padding", "padding_mode", "alternating_flip", "tta")


def parse_args(argv):
    p = argparse.ArgumentParser(prog="compare.py report", description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", default="results", help="folder of run folders (default: results/)")
    p.add_argument("--out", help="the report's path (default: RUNS/REPORT.md); figures go beside it")
    p.add_argument("--tolerance", type=float, default=STATISTICAL_TOLERANCE,
                   help="parity tolerance in accuracy points for the seeds' interval (default: %(default)s)")
    return p.parse_args(argv)


def made_on(origin: str, seeds: set[int], several: bool) -> str:
    """The report's line naming where runs were made; the seeds are named where a comparison's
    seeds were made in more than one place (another machine, commit or command)."""
    which = f" (seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, sorted(seeds)))})" if several else ""
    return f"Made on{which}: {origin}."


def collect(runs_dir: Path) -> tuple[dict[tuple, dict[str, dict[int, list[EpochRecord]]]], dict[tuple, dict[str, set[int]]],
                                    list[str]]:
    """{settings key: {backend: {seed: records of the latest run with that seed}}}, {settings key:
    where its runs were made (shared.provenance), one line per machine/commit/command}, and one
    line per thing skipped."""
    groups: dict[tuple, dict[str, dict[int, list[EpochRecord]]]] = {}
    origins: dict[tuple, dict[str, set[int]]] = {}  # per comparison: machine, commit and command -> seeds
    problems = []
    for run_dir in sorted(p for p in runs_dir.iterdir() if p.is_dir()):
        if is_bench_folder(run_dir):  # bench_results() reads those
            continue
        if not (run_dir / "config.json").exists():
            if any(run_dir.glob("*.jsonl")):
                problems.append(f"{run_dir}: skipped: records without a config.json")
            continue
        try:
            cfg = RunConfig.load(run_dir / "config.json")
        except (ValueError, TypeError, OSError) as err:
            problems.append(f"{run_dir}: skipped: config.json unreadable ({str(err).splitlines()[0]})")
            continue
        key = tuple((name, getattr(cfg, name)) for name in SETTINGS)
        origin = provenance.describe(provenance.load(run_dir))
        for backend in BACKENDS:
            path = run_dir / f"{backend}.jsonl"
            if not path.exists():
                continue
            records, bad = read_jsonl(path)
            problems += bad
            if records:  # sorted folder names start with the time: a later run of a seed replaces it
                groups.setdefault(key, {}).setdefault(backend, {})[cfg.seed] = records
                origins.setdefault(key, {}).setdefault(origin, set()).add(cfg.seed)
    return groups, origins, problems


def bench_results(runs_dir: Path) -> tuple[list[pd.DataFrame], list[BenchRecord], list[str]]:
    """The bench folders' tables (one per folder), their records, and one line per thing skipped."""
    tables, records, problems = [], [], []
    for run_dir in sorted(p for p in runs_dir.iterdir() if p.is_dir() and is_bench_folder(p)):
        found = {}
        for backend in BACKENDS:
            path = run_dir / f"{backend}.jsonl"
            if path.exists():
                rows, bad = read_jsonl(path)
                problems += bad
                found[backend] = next((r for r in reversed(rows) if isinstance(r, BenchRecord)), None)
        done = [r for r in found.values() if r is not None]
        if done:
            tables.append(bench_rows(found, done[0].model, {}))
            records += done
    return tables, records, problems


def label(key: tuple) -> str:
    s = dict(key)
    return f"{s['model']} ({s['variant']}, {s['mode']}{resolution(s['variant'], s['image_size'])})"


def distinguish(keys: list[tuple]) -> tuple[dict[tuple, str], list[str]]:
    """Each comparison's name; where one model label covers several settings, a number and a
    note of what differs, so rows with different settings are never read as one comparison."""
    names, notes = {}, []
    for name in dict.fromkeys(label(k) for k in keys):
        same = [k for k in keys if label(k) == name]
        for i, k in enumerate(same, 1):
            names[k] = name if len(same) == 1 else f"{name} #{i}"
        if len(same) > 1:
            differ = [field for field, _ in same[0] if len({dict(k)[field] for k in same}) > 1]
            notes.append(f"{name} appears in {len(same)} comparisons with different settings ("
                         + "; ".join(f"{field}: " + " vs ".join(str(dict(k)[field]) for k in same) for field in differ)
                         + "): they are not pooled.")
    return names, notes


def settings_text(key: tuple, runs: dict[str, list[list[EpochRecord]]]) -> str:
    s = dict(key)
    finals = [r[-1] for seed_runs in runs.values() for r in seed_runs]
    versions = sorted({f"{BACKEND_NAMES[r.backend]} {r.framework_version}" for r in finals})
    first = finals[0]
    parts = [f"{s['image_size']}×{s['image_size']} input", count(s['epochs'], "epoch"), f"batch {s['batch_size']}",
             f"{s['optimizer']} lr {s['lr']:g}", f"{s['schedule']} schedule", f"augment {describe_augmentation(**s)}",
             f"{s['precision']}", f"{s['device']}", f"train images {first.train_images:,}",
             f"validation {first.validation} ({first.val_images:,})", ", ".join(versions)]
    if s["weights"]:
        parts.append(f"weights {s['weights']}")
    return "Settings: " + ", ".join(parts) + "."


def total_minutes(runs: dict[str, list[list[EpochRecord]]]) -> list[str]:
    """Wall time of the whole run per backend (the epochs' seconds, training and validation, summed;
    median over the finished seeds), in minutes."""
    cells = []
    for seed_runs in runs.values():
        totals = [sum(r.epoch_seconds for r in records) / 60 for records in seed_runs if finished(records)]
        cells.append(f"{pd.Series(totals).median():.1f}" if totals else "-")
    return cells


def gap_rows(runs: dict[str, list[list[EpochRecord]]]) -> list[str]:
    """Generalization gap (training − validation accuracy, points) per backend, mean over seeds."""
    gaps = []
    for backend, seed_runs in runs.items():
        finals = [r[-1] for r in seed_runs if finished(r)]
        gaps.append(f"{sum(100 * (r.train_acc - r.val_acc) for r in finals) / len(finals):+.2f}" if finals else "-")
    return gaps


def original_table(found: list[tuple[tuple, pd.DataFrame]], names: dict[tuple, str]) -> list[str]:
    """The original project's table (shared.reporting.original) from the comparisons that ran one
    of its models in its mode: the report's part of a `compare.py table` run. Only when at least
    one pretrained model is among them (the CNN from scratch alone is the Accuracy table again);
    a model without such a comparison keeps its rows, marked as not among these runs."""
    if not any(dict(key)["model"] != "cnn" for key, _ in found):
        return []
    rows, backends = [], [b for b in BACKENDS if any(BACKEND_NAMES[b] in set(t["Backend"]) for _, t in found)]
    for model, mode in original.MODES.items():
        mine = [(dict(key), table) for key, table in found if dict(key)["model"] == model]
        rows += [original.Row(model, mode, s["image_size"], measured=table) for s, table in mine] or [
            original.Row(model, mode, input_size(model, DEFAULT_VARIANT[mode]), skipped="not among these runs")]
    settings = [f"- {original.NAMES[s['model']]}: {names[key]}, {count(s['epochs'], 'epoch')}, "
                f"{s['precision']}" for key, s in ((key, dict(key)) for key, _ in found)]
    return ["## The original project's table", markdown(original.combined_table(rows, backends)),
            f"{original.ORIGINAL}: the original project's published figures (T4 GPU). Measured rows, from "
            "the comparisons above:\n" + "\n".join(settings)]


def comparison_verdict(seeds: dict[str, dict[int, list[EpochRecord]]], tolerance: float) -> str:
    """The verdict of one comparison ({backend: {seed: records}}), each backend against PyTorch:
    Welch's interval where both have two seeds or more, else the single-run verdict on their
    latest common seed (same initial weights and batches)."""
    if len(seeds) < 2:
        return "Parity: not assessed (only one backend has runs)."

    def pair(finals: dict, tolerance: float) -> str:
        reference, other = (seeds[b] for b in finals)
        if min(len(reference), len(other)) >= 2:
            return seeds_verdict({b: [seeds[b][s] for s in sorted(seeds[b])] for b in finals}, tolerance)
        common = sorted(set(reference) & set(other))
        if not common:
            return "Parity: not assessed (the backends have no seed in common)."
        return parity_verdict({b: seeds[b][common[-1]][-1] for b in finals})
    return pairwise(pair, {b: None for b in BACKENDS if b in seeds}, tolerance)


def write_report(runs_dir: Path, out: Path, tolerance: float) -> tuple[int, list[str]]:
    """Write REPORT.md, figures/ beside it, and RUNS/summary.csv; (comparisons, problems)."""
    groups, origins, problems = collect(runs_dir)
    keys = sorted(groups, key=lambda k: (label(k), str(k)))
    names, notes = distinguish(keys)
    figure_dir = out.parent / "figures"
    accuracy, speed, verdicts, sections, bars, in_original_mode = [], [], [], [], [], []
    for key in keys:
        runs = {b: [groups[key][b][seed] for seed in sorted(groups[key][b])] for b in BACKENDS if b in groups[key]}
        table = seed_rows(runs)
        table.insert(2, "Seeds", [", ".join(str(s) for s in sorted(groups[key][b])) for b in runs])
        table["Generalization gap"] = gap_rows(runs)
        table["Model"] = names[key]
        peak = [max((r[-1].peak_host_mb for r in runs[b] if r), default=float("nan")) for b in runs]
        table["Peak RSS MB"] = [f"{p:,.0f}" for p in peak]
        table["Total min"] = total_minutes(runs)
        if original.MODES.get(dict(key)["model"]) == dict(key)["mode"]:
            in_original_mode.append((key, table))
        accuracy.append(table[["Model", "Backend", "Seeds", "Training Accuracy", "Validation Accuracy",
                               "Training Loss", "Validation Loss", "Generalization gap", "Status"]])
        speed.append(table[["Model", "Backend", "Train img/s", "Eval img/s", "Epoch s", "Total min", "Peak RSS MB"]])
        for backend, train_rate, eval_rate in zip(runs, table["Train img/s"], table["Eval img/s"]):
            # Only backends with finished seeds; a features probe's img/s measure its head alone.
            if train_rate != "-" and not (dict(key)["mode"] == "linear-probe" and dict(key)["probe"] == "features"):
                bars.append(dict(label=names[key], backend=backend, eval=float(eval_rate),
                                 train=float("nan") if train_rate == UNMEASURED else float(train_rate)))
        verdict = comparison_verdict(groups[key], tolerance)
        verdicts.append(f"- **{names[key]}**: " + verdict.replace("\n", " "))
        slug = names[key].replace(" ", "").replace("(", "-").replace(")", "").replace(",", "-").replace("#", "-")
        figures.curves(runs, names[key], figure_dir / f"{slug}.png")
        made = "\n".join(made_on(origin, seeds, len(origins[key]) > 1) for origin, seeds in origins[key].items())
        sections.append(f"### {names[key]}\n\n{settings_text(key, runs)}\n\n{made}\n\n![{names[key]}](figures/{slug}.png)")
    if bars:
        figures.throughput(bars, figure_dir / "throughput.png")

    head = (f"# CIFAR-10 in PyTorch and TensorFlow/Keras: report\n\nWritten by `compare.py report` on "
            f"{time.strftime('%Y-%m-%d %H:%M')} from the {sum(len(g.get(b, {})) for g in groups.values() for b in BACKENDS)} "
            f"backend runs in `{runs_dir}` ({len(keys)} comparisons); nothing was re-trained. Accuracies and losses "
            "are the final epoch's, mean ± standard deviation over seeds; throughput is the median over seeds.")
    parts = [head]
    if notes:
        parts.append("\n".join(f"Note: {n}" for n in notes))
    if accuracy:
        parts += ["## Accuracy", markdown(pd.concat(accuracy, ignore_index=True)),
                  "Generalization gap: training − validation accuracy, in points (training accuracy is over the "
                  "augmented batches as trained).",
                  # No flag changes the warm-up batches: every run left out RunConfig's default.
                  "## Throughput", table_text(pd.concat(speed, ignore_index=True), RunConfig.warmup_batches),
                  "Total min: the whole run, every epoch's training and validation (median over seeds)."]
        if bars:
            parts.append("![throughput](figures/throughput.png)")
        parts += ["## Parity", "Each backend is compared with PyTorch, pair by pair (Keras on TensorFlow and Keras on "
                  "JAX are not compared with each other).", "\n".join(verdicts)]
        parts += original_table(in_original_mode, names)
        parts += ["## Curves and settings", *sections]
    else:
        parts.append("No finished runs found.")
    bench_tables, bench_records, bench_problems = bench_results(runs_dir)
    problems += bench_problems
    if bench_tables:
        parts += ["## Benchmarks (compare.py bench)", markdown(pd.concat(bench_tables, ignore_index=True)),
                  *sorted({bench_settings_line([r]) for r in bench_records})]
    if problems:
        parts += ["## Skipped", "\n".join(f"- {p}" for p in problems)]
    atomic_write_text(out, "\n\n".join(parts) + "\n")
    finals = [r[-1] for g in groups.values() for b in g.values() for r in b.values()] + bench_records
    if finals:
        frame = pd.DataFrame([asdict(r) for r in sorted(finals, key=lambda r: (r.run_id, r.backend))])
        atomic_write_text(runs_dir / "summary.csv", frame.to_csv(index=False))
    return len(keys), problems


def main(argv=None) -> int:
    args = parse_args(argv)
    runs_dir = Path(args.runs)
    if not runs_dir.is_dir():
        print(f"compare.py report: error: --runs {runs_dir} is not a folder", file=sys.stderr)
        return 2
    if not args.tolerance > 0:
        print(f"compare.py report: error: --tolerance {args.tolerance} must be a positive number of points",
              file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else runs_dir / "REPORT.md"
    comparisons, problems = write_report(runs_dir, out, args.tolerance)
    for problem in problems:
        print(f"warning: {problem}", file=sys.stderr)
    print(f"{out}: {comparisons} comparisons, figures in {out.parent / 'figures'}; "
          f"{runs_dir / 'summary.csv'} regenerated")
    return 0
