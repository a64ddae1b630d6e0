"""The side-by-side table, the parity verdict (one run, or several seeds with statistics), and
summary.csv (pandas; no framework)."""

from __future__ import annotations

import io
import statistics
from dataclasses import asdict
from pathlib import Path

import pandas as pd

from shared.architectures import INPUT_SIZE
from shared.distributed import scaling_efficiency
from shared.io import atomic_write_text
from shared.metrics import EpochRecord, finished
from shared.stats import STATISTICAL_TOLERANCE, compare_means, describe

BACKEND_NAMES = {"torch": "PyTorch", "tensorflow": "TensorFlow/Keras"}
DEFAULT_TOLERANCE_POINTS = 1.5
# Relative tolerance on the step-0 loss, by the precision both backends ran in: float32 round-off
# of two frameworks' kernels is ~1e-6; bf16 keeps 8 significant bits (~4e-3 per rounding), fp16 11.
START_TOLERANCE = {"fp32": 1e-4, "bf16": 3e-2, "fp16": 5e-3}

COLUMNS = ["Model", "Backend", "Training Accuracy", "Validation Accuracy", "Training Loss",
           "Validation Loss", "Train img/s", "Eval img/s", "Epoch s", "Params", "Status"]


# Added after "Train img/s" when a backend trained on several devices (shared/distributed.py).
SCALING_COLUMNS = ["Devices", "Per-device img/s", "1-device img/s", "Scaling efficiency"]


def scaling_cells(records: list[EpochRecord]) -> dict[str, str]:
    """The scaling columns of one backend's run: its device count, the median over epochs of its
    per-device img/s, the single-device figure measured before training, and their ratio."""
    record = records[-1]
    rates = [r.train_images_per_sec for r in records if r.train_images_per_sec == r.train_images_per_sec]
    rate = statistics.median(rates) if rates else float("nan")
    efficiency = scaling_efficiency(rate, record.world_size, record.single_device_images_per_sec)
    return {"Devices": str(record.world_size),
            "Per-device img/s": f"{rate / record.world_size:.0f}",
            "1-device img/s": "-" if record.single_device_images_per_sec is None else f"{record.single_device_images_per_sec:.0f}",
            "Scaling efficiency": "-" if efficiency is None else f"{efficiency:.3f}"}


def table_rows(runs: dict[str, list[EpochRecord]], model: str, reasons: dict[str, str]) -> pd.DataFrame:
    """One row per backend: the final epoch's numbers, and Epoch s as the mean over its epochs.
    A backend without records shows the reason it has none. Runs on several devices add the
    scaling columns."""
    scaling = any(records and records[-1].world_size > 1 for records in runs.values())
    columns = COLUMNS[:7] + SCALING_COLUMNS + COLUMNS[7:] if scaling else COLUMNS
    rows = []
    for backend, records in runs.items():
        record = records[-1] if records else None
        if record is None:
            rows.append({"Model": model, "Backend": BACKEND_NAMES[backend],
                         **{c: "-" for c in columns[2:-1]}, "Status": reasons.get(backend, "failed")})
            continue
        rows.append({
            "Model": f"{record.model} ({record.variant}, {record.mode}{resolution(record.variant, record.image_size)})",
            "Backend": BACKEND_NAMES[backend],
            "Training Accuracy": f"{100 * record.train_acc:.2f}%",
            "Validation Accuracy": f"{100 * record.val_acc:.2f}%",
            "Training Loss": f"{record.train_loss:.4f}",
            "Validation Loss": f"{record.val_loss:.4f}",
            "Train img/s": f"{record.train_images_per_sec:.0f}",
            **(scaling_cells(records) if scaling else {}),
            "Eval img/s": f"{record.eval_images_per_sec:.0f}",
            "Epoch s": f"{sum(r.epoch_seconds for r in records) / len(records):.1f}",
            "Params": f"{record.params_total:,}",
            # A diverged record says more than the exit code its process ended with.
            "Status": (record.status if record.status != "ok" else reasons.get(backend) or (
                "ok" if record.epoch == record.epochs else f"incomplete ({record.epoch}/{record.epochs} epochs)")),
        })
    return pd.DataFrame(rows, columns=columns)


def seed_rows(runs: dict[str, list[list[EpochRecord]]]) -> pd.DataFrame:
    """One row per backend over its seeds (one record list per seed): mean ± standard deviation of
    the final accuracies and losses, median throughput, mean epoch time. Only finished runs
    count; the Status column says how many of the seeds that is."""
    rows = []
    for backend, seed_runs in runs.items():
        finals = [r[-1] for r in seed_runs if finished(r)]
        status = (f"ok ({len(finals)} seed{'s' if len(finals) > 1 else ''})" if len(finals) == len(seed_runs)
                  else f"{len(finals)}/{len(seed_runs)} seeds finished")
        if not finals:
            rows.append({"Model": "-", "Backend": BACKEND_NAMES[backend], **{c: "-" for c in COLUMNS[2:-1]}, "Status": status})
            continue
        first = finals[0]
        rows.append({
            "Model": f"{first.model} ({first.variant}, {first.mode}{resolution(first.variant, first.image_size)})",
            "Backend": BACKEND_NAMES[backend],
            "Training Accuracy": _mean_std([100 * r.train_acc for r in finals], "{:.2f}", "%"),
            "Validation Accuracy": _mean_std([100 * r.val_acc for r in finals], "{:.2f}", "%"),
            "Training Loss": _mean_std([r.train_loss for r in finals], "{:.4f}"),
            "Validation Loss": _mean_std([r.val_loss for r in finals], "{:.4f}"),
            "Train img/s": f"{statistics.median(r.train_images_per_sec for r in finals):.0f}",
            "Eval img/s": f"{statistics.median(r.eval_images_per_sec for r in finals):.0f}",
            "Epoch s": f"{statistics.mean(x.epoch_seconds for r in seed_runs for x in r):.1f}",
            "Params": f"{first.params_total:,}",
            "Status": status,
        })
    return pd.DataFrame(rows, columns=COLUMNS)


def _mean_std(values: list[float], number: str, unit: str = "") -> str:
    if len(values) == 1:
        return number.format(values[0]) + unit
    return f"{number.format(statistics.mean(values))} ± {number.format(statistics.stdev(values))}{unit}"


def seeds_verdict(runs: dict[str, list[list[EpochRecord]]], tolerance_points: float = STATISTICAL_TOLERANCE) -> str:
    """Welch's interval of Δ mean validation accuracy over the finished seeds (shared.stats)."""
    accuracies = {b: [100 * r[-1].val_acc for r in seed_runs if finished(r)] for b, seed_runs in runs.items()}
    if set(accuracies) != {"torch", "tensorflow"} or not all(accuracies.values()):
        return "Parity: not assessed (needs finished runs of both backends)."
    comparison = compare_means(accuracies["torch"], accuracies["tensorflow"], tolerance_points)
    return describe(comparison, tolerance_points)


def resolution(variant: str, image_size: int | None) -> str:
    """", 128px" when the model read another side than its variant's (--image-size), else ""."""
    return "" if image_size in (None, INPUT_SIZE[variant]) else f", {image_size}px"


def markdown(frame: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table, without needing the optional `tabulate` package."""
    cells = [list(frame.columns)] + frame.astype(str).values.tolist()
    widths = [max(len(row[i]) for row in cells) for i in range(len(frame.columns))]
    line = lambda row: "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |"  # noqa: E731
    return "\n".join([line(cells[0]), "|" + "|".join("-" * (w + 2) for w in widths) + "|",
                      *(line(r) for r in cells[1:])])


def parity_verdict(finals: dict[str, EpochRecord | None], tolerance_points: float = DEFAULT_TOLERANCE_POINTS) -> str:
    """One seed: Δ validation accuracy against the tolerance, plus the parameter-count check.
    (No statistical verdict is possible from one seed per backend.)"""
    torch_rec, tf_rec = finals.get("torch"), finals.get("tensorflow")
    if torch_rec is None or tf_rec is None:
        return "Parity: not assessed (needs both backends to finish)."
    unfinished = [BACKEND_NAMES[b] for b, r in finals.items() if not finished([r])]
    if unfinished:  # a diverged or interrupted run's accuracy says nothing about parity
        start = start_line(torch_rec, tf_rec)
        return "\n".join(filter(None, [f"Parity: not assessed ({' and '.join(unfinished)} did not finish).", start]))
    lines = []
    if (torch_rec.params_total, torch_rec.params_trainable) != (tf_rec.params_total, tf_rec.params_trainable):
        lines.append(f"Parity: DIFFER — parameter counts differ ({torch_rec.params_total:,} vs "
                     f"{tf_rec.params_total:,}): not the same architecture.")
    delta = 100 * (torch_rec.val_acc - tf_rec.val_acc)
    agree = abs(delta) <= tolerance_points
    lines.append(
        f"Parity: {'AGREE' if agree else 'DIFFER'} — Δ validation accuracy (PyTorch − Keras) = "
        f"{delta:+.2f} points, tolerance ±{tolerance_points:g} points; one seed per backend, "
        f"so this is a single-run comparison, not a statistical test.")
    if (start := start_line(torch_rec, tf_rec)) is not None:
        lines.append(start)
    if torch_rec.init != tf_rec.init:
        lines.append(f"Note: the backends started from different initial weights ({torch_rec.init} vs {tf_rec.init}).")
    return "\n".join(lines)


def start_line(torch_rec: EpochRecord, tf_rec: EpochRecord) -> str | None:
    """Did both backends start from the same function? Their step-0 losses (shared.metrics)."""
    a, b = torch_rec.initial_loss, tf_rec.initial_loss
    if a is None or b is None:
        return None
    tolerance = max(START_TOLERANCE.get(r.precision, START_TOLERANCE["fp32"]) for r in (torch_rec, tf_rec))
    same = abs(a - b) <= tolerance * max(abs(a), abs(b))
    return (f"Start: {'SAME' if same else 'DIFFERENT'} — step-0 loss on the first planned batch "
            f"(initial weights, inference mode): PyTorch {a:.6f}, Keras {b:.6f}, |Δ| {abs(a - b):.1e} "
            f"(tolerance {tolerance:g} relative, {tf_rec.precision})"
            + ("." if same else "; the two backends did not start from the same function."))


def append_summary(path: Path, records: list) -> None:
    """Add one row per record (a training run's final epoch per backend, or a bench result) to
    summary.csv, rewriting it atomically; the `kind` column tells training and bench rows apart."""
    path = Path(path)
    new = pd.DataFrame([asdict(r) for r in records])
    if path.exists():
        new = pd.concat([pd.read_csv(path), new], ignore_index=True)
    new["kind"] = new["kind"].fillna("train")  # rows written before bench rows existed
    buffer = io.StringIO()
    new.to_csv(buffer, index=False)
    atomic_write_text(path, buffer.getvalue())
