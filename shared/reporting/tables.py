"""The side-by-side table of a run (and over seeds), the parity verdict (one run, or several seeds
with statistics), the bench table, and summary.csv (pandas; no framework)."""

from __future__ import annotations

import io
import math
import statistics
from dataclasses import asdict
from pathlib import Path

import pandas as pd

from shared.architectures import INPUT_SIZE
from shared.backends import BACKEND_NAMES, REFERENCE, VERDICT_NAMES
from shared.batch_plan import steps_per_epoch
from shared.distributed import scaling_efficiency
from shared.io import atomic_write_text
from shared.metrics import UNMEASURED, BenchRecord, EpochRecord, did_not_learn, finished, rate_cell
from shared.reporting.stats import (STATISTICAL_TOLERANCE, compare_means, describe, seed_noise_points,
                                    seeds_to_decide)
from shared.rules import rules_line

DEFAULT_TOLERANCE_POINTS = 1.5
# Relative tolerance on the step-0 loss, by the precision both backends ran in: float32 round-off
# of two frameworks' kernels is ~1e-6; bf16 keeps 8 significant bits (~4e-3 per rounding), fp16 and tf32 11.
START_TOLERANCE = {"fp32": 1e-4, "tf32": 5e-3, "bf16": 3e-2, "fp16": 5e-3}

COLUMNS = ["Model", "Backend", "Training Accuracy", "Validation Accuracy", "Training Loss",
           "Validation Loss", "Train img/s", "Eval img/s", "Epoch s", "Params", "Status"]


# Added after "Train img/s" when a backend trained on several devices (shared/distributed.py).
SCALING_COLUMNS = ["Devices", "Per-device img/s", "1-device img/s", "Scaling efficiency"]
RATE_COLUMNS = ("Train img/s", "Per-device img/s", "Scaling efficiency")


def count(n: int, noun: str) -> str:
    """"1 epoch", "3 epochs": a number and its noun, in the plural when it is not 1."""
    return f"{n} {noun}{'s' if n != 1 else ''}"


def unmeasured_note(frame: pd.DataFrame, warmup_batches: int) -> str | None:
    """The footnote for the table's unmeasured img/s cells (shared.metrics.rate_cell), or None
    when it has none."""
    if not any(column in frame and (frame[column] == UNMEASURED).any() for column in RATE_COLUMNS):
        return None
    return (f"{UNMEASURED} : the epoch had fewer steps than the {warmup_batches} warm-up batches left out of img/s; "
            "train longer to measure throughput.")


def table_text(frame: pd.DataFrame, warmup_batches: int) -> str:
    """The Markdown table, with the footnote on unmeasured img/s under it where it needs one."""
    return "\n\n".join(filter(None, [markdown(frame), unmeasured_note(frame, warmup_batches)]))


def scaling_cells(records: list[EpochRecord]) -> dict[str, str]:
    """The scaling columns of one backend's run: its device count, the median over epochs of its
    per-device img/s, the single-device figure measured before training, and their ratio."""
    record = records[-1]
    rate = median_rate([r.train_images_per_sec for r in records])
    efficiency = scaling_efficiency(rate, record.world_size, record.single_device_images_per_sec)
    return {"Devices": str(record.world_size),
            "Per-device img/s": rate_cell(rate / record.world_size),
            "1-device img/s": "-" if record.single_device_images_per_sec is None else f"{record.single_device_images_per_sec:.0f}",
            "Scaling efficiency": ("-" if efficiency is None else
                                   UNMEASURED if math.isnan(efficiency) else f"{efficiency:.3f}")}


def median_rate(rates: list[float]) -> float:
    """The median of the measured img/s figures (NaN: unmeasured ones left out), NaN if none."""
    measured = [r for r in rates if not math.isnan(r)]
    return statistics.median(measured) if measured else float("nan")


def status_cell(record: EpochRecord, reason: str | None) -> str:
    """A record's status for the table: its own when it diverged, else compare.py's reason (a
    failed exit) or ok / incomplete; a finished run that did not learn says so beside its ok."""
    if record.status != "ok":
        return record.status  # a diverged record says more than the exit code its process ended with
    if reason:
        return reason
    if record.epoch != record.epochs:
        return f"incomplete ({record.epoch}/{record.epochs} epochs)"
    why = did_not_learn(record)
    return f"ok — {why}" if why else "ok"


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
            "Validation Accuracy": f"{100 * record.val_acc:.2f}%" + tta_note([record]),
            "Training Loss": f"{record.train_loss:.4f}",
            "Validation Loss": f"{record.val_loss:.4f}",
            "Train img/s": rate_cell(record.train_images_per_sec),
            **(scaling_cells(records) if scaling else {}),
            "Eval img/s": f"{record.eval_images_per_sec:.0f}",
            "Epoch s": f"{sum(r.epoch_seconds for r in records) / len(records):.1f}",
            "Params": f"{record.params_total:,}",
            "Status": status_cell(record, reasons.get(backend)),
        })
    return pd.DataFrame(rows, columns=columns)


def seed_rows(runs: dict[str, list[list[EpochRecord]]]) -> pd.DataFrame:
    """One row per backend over its seeds (one record list per seed): mean ± standard deviation of
    the final accuracies and losses, median throughput, mean epoch time. Only finished runs
    count; the Status column says how many of the seeds that is."""
    rows = []
    for backend, seed_runs in runs.items():
        finals = [r[-1] for r in seed_runs if finished(r)]
        status = (f"ok ({count(len(finals), 'seed')})" if len(finals) == len(seed_runs)
                  else f"{len(finals)}/{len(seed_runs)} seeds finished") + _seeds_status_note(finals)
        if not finals:
            rows.append({"Model": "-", "Backend": BACKEND_NAMES[backend], **{c: "-" for c in COLUMNS[2:-1]}, "Status": status})
            continue
        first = finals[0]
        rows.append({
            "Model": f"{first.model} ({first.variant}, {first.mode}{resolution(first.variant, first.image_size)})",
            "Backend": BACKEND_NAMES[backend],
            "Training Accuracy": _mean_std([100 * r.train_acc for r in finals], "{:.2f}", "%"),
            "Validation Accuracy": _mean_std([100 * r.val_acc for r in finals], "{:.2f}", "%") + tta_note(finals),
            "Training Loss": _mean_std([r.train_loss for r in finals], "{:.4f}"),
            "Validation Loss": _mean_std([r.val_loss for r in finals], "{:.4f}"),
            "Train img/s": rate_cell(median_rate([r.train_images_per_sec for r in finals])),
            "Eval img/s": f"{statistics.median(r.eval_images_per_sec for r in finals):.0f}",
            "Epoch s": f"{statistics.mean(x.epoch_seconds for r in seed_runs for x in r):.1f}",
            "Params": f"{first.params_total:,}",
            "Status": status,
        })
    return pd.DataFrame(rows, columns=COLUMNS)


def _seeds_status_note(finals: list[EpochRecord]) -> str:
    """" — at chance" (one seed), " — at chance in 2 of 3 seeds": the finished seeds that did not
    learn, for the status cell; "" when all of them learned."""
    reasons = [why for r in finals if (why := did_not_learn(r))]
    if not reasons:
        return ""
    if len(finals) == 1:
        return f" — {reasons[0]}"
    what = "at chance" if all(why.startswith("at chance") for why in reasons) else "did not learn"
    return f" — {what} in {len(reasons)} of {len(finals)} seeds"


def tta_note(finals: list[EpochRecord]) -> str:
    """What follows the plain accuracy of runs evaluated with test-time augmentation, such as
    ' (mirror+translate TTA 94.01%)' (mean ± std over seeds); '' for runs without it."""
    if not finals or finals[0].tta_val_acc is None:
        return ""
    return f" ({finals[0].tta} TTA {_mean_std([100 * r.tta_val_acc for r in finals], '{:.2f}', '%')})"


def _mean_std(values: list[float], number: str, unit: str = "") -> str:
    if len(values) == 1:
        return number.format(values[0]) + unit
    return f"{number.format(statistics.mean(values))} ± {number.format(statistics.stdev(values))}{unit}"


def pairwise(verdict, finals: dict, *args) -> str:
    """Every backend's verdict against PyTorch (REFERENCE), one paragraph each: verdict(finals of
    the pair, *args). With one pair, its lines as they are; with several, each line names its pair."""
    others = [b for b in finals if b != REFERENCE]
    if REFERENCE not in finals:
        return (f"Parity: not assessed (each backend is compared with {BACKEND_NAMES[REFERENCE]}, "
                "which has no runs here).")
    if len(others) == 1:
        return verdict({REFERENCE: finals[REFERENCE], others[0]: finals[others[0]]}, *args)
    return "\n".join(verdict({REFERENCE: finals[REFERENCE], b: finals[b]}, *args).replace(
        "Parity:", f"Parity ({BACKEND_NAMES[REFERENCE]} vs {BACKEND_NAMES[b]}):") for b in others)


def seeds_verdict(runs: dict[str, list[list[EpochRecord]]], tolerance_points: float = STATISTICAL_TOLERANCE) -> str:
    """Welch's interval of Δ mean validation accuracy over the finished seeds (shared.reporting.stats), or
    no verdict where a backend did not learn in some seed (learning_verdict); each backend against PyTorch."""
    return pairwise(_seeds_verdict, runs, tolerance_points)


def _seeds_verdict(runs: dict[str, list[list[EpochRecord]]], tolerance_points: float) -> str:
    finals = {b: [r[-1] for r in seed_runs if finished(r)] for b, seed_runs in runs.items()}
    other = next(b for b in runs if b != REFERENCE)
    if not all(finals.values()):
        return "Parity: not assessed (needs finished runs of both backends)."
    comparison = compare_means([100 * r.val_acc for r in finals[REFERENCE]],
                               [100 * r.val_acc for r in finals[other]], tolerance_points)
    differ = comparison.verdict == "differ"
    return learning_verdict(finals, differ) or "\n".join(
        filter(None, [describe(comparison, tolerance_points,
                               what=f"mean validation accuracy ({VERDICT_NAMES[REFERENCE]} − {VERDICT_NAMES[other]})"), not_learning_note(finals)]))


# What to try when a run did not learn: too few steps, or a learning rate that stalls or blows up.
NOT_LEARNING_ADVICE = "train longer (--epochs, a larger --subset) or try another --lr."


def learning_verdict(finals: dict[str, list[EpochRecord]], differ: bool) -> str | None:
    """The line that replaces the verdict where a backend did not learn (shared.metrics.did_not_learn),
    given each backend's finished records (one per seed); None when there is a verdict to give.

    Two runs at chance agree without meaning it, so there is no verdict; nor when one learned and
    the other did not but their accuracies still lie within the tolerance. A DIFFER between a
    backend that learned and one that did not is a real finding: it stands (with not_learning_note)."""
    stalled = _not_learning(finals)
    if not stalled or (differ and len(stalled) < len(finals)):
        return None
    if len(stalled) == len(finals) and all(did_not_learn(r) == "at chance" for rs in finals.values() for r in rs):
        what = "both backends are at chance (validation accuracy " + " / ".join(
            f"{statistics.mean(100 * r.val_acc for r in records):.1f}%" for records in finals.values()) + ")"
    else:
        what = "; ".join(stalled.values())
    first = next(r for records in finals.values() for r in records if did_not_learn(r))
    steps = _steps_text(first)
    return (f"Parity: no verdict — {what}{', after ' + steps if steps else ''}. Runs that did not learn say "
            f"nothing about parity: {NOT_LEARNING_ADVICE}")


def not_learning_note(finals: dict[str, list[EpochRecord]]) -> str | None:
    """A note under a verdict that stands although a backend did not learn (a DIFFER)."""
    stalled = _not_learning(finals)
    return (f"Note: {'; '.join(stalled.values())}: it did not learn; {NOT_LEARNING_ADVICE}" if stalled
            else None)


def _not_learning(finals: dict[str, list[EpochRecord]]) -> dict[str, str]:
    """{backend: "PyTorch: at chance (validation accuracy 10.0%)"} for each backend with a
    finished record that did not learn ("... in 2 of 3 seeds" over seeds)."""
    stalled = {}
    for backend, records in finals.items():
        reasons = [why for r in records if (why := did_not_learn(r))]
        if reasons:
            several = len(records) > 1
            seeds = f" in {len(reasons)} of {len(records)} seeds" if several else ""
            accuracy = statistics.mean(100 * r.val_acc for r in records)
            stalled[backend] = (f"{BACKEND_NAMES[backend]}: {reasons[0]}{seeds} "
                                f"({'mean ' if several else ''}validation accuracy {accuracy:.1f}%)")
    return stalled


def _steps_text(record: EpochRecord) -> str:
    """"4 training steps (1 epoch × 4)", from what the record says of its run; "" when it does not
    say (records written before train_images and batch_size existed)."""
    if not (record.train_images and record.batch_size):
        return ""
    per_epoch = steps_per_epoch(record.train_images, record.batch_size)
    steps = per_epoch * record.epoch
    return f"{count(steps, 'training step')} ({count(record.epoch, 'epoch')} × {per_epoch})"


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


def parity_verdict(finals: dict[str, EpochRecord | None], tolerance_points: float = DEFAULT_TOLERANCE_POINTS,
                   rules: dict[str, dict | None] | None = None) -> str:
    """One seed: Δ validation accuracy against the tolerance and against seed noise, plus the
    parameter-count check, for each backend against PyTorch; with rules ({backend: the training-rules
    check's result, shared/rules.py}), its line too. One seed per backend allows no statistical
    verdict, so a Δ that seed noise explains is UNDECIDED, never DIFFER."""
    verdict = pairwise(_parity_verdict, finals, tolerance_points)
    if rules is None:
        return verdict
    return "\n".join([verdict, *(rules_line(rules.get(b), b) for b in finals if b != REFERENCE)])


def single_run_line(torch_rec: EpochRecord, other_rec: EpochRecord, tolerance_points: float) -> str:
    """AGREE within the tolerance; beyond it, UNDECIDED where seed noise explains Δ (with the seeds
    that would decide it), DIFFER where it does not."""
    delta = 100 * (torch_rec.val_acc - other_rec.val_acc)
    what = f"Δ validation accuracy ({VERDICT_NAMES[REFERENCE]} − {VERDICT_NAMES[other_rec.backend]}) = {delta:+.2f} points"
    if abs(delta) <= tolerance_points:
        return (f"Parity: AGREE — {what}, within ±{tolerance_points:g} points; one seed per backend, so this is a "
                "single-run comparison, not a statistical test.")
    accuracy = (torch_rec.val_acc + other_rec.val_acc) / 2
    images = torch_rec.val_images or 10_000
    noise = seed_noise_points(accuracy, images)
    if abs(delta) <= noise:
        seeds = seeds_to_decide(delta, accuracy, images)
        decide = (f"about {seeds} seeds per backend (--seeds {seeds}) would decide it to ±{STATISTICAL_TOLERANCE:g} points"
                  if seeds else f"no practical number of seeds decides it to ±{STATISTICAL_TOLERANCE:g} points")
        return (f"Parity: UNDECIDED — {what}: outside ±{tolerance_points:g} points, but within the ±{noise:.1f} points "
                f"that seed noise gives one run per backend at this accuracy on {images:,} validation images; {decide}.")
    return (f"Parity: DIFFER — {what}: outside ±{tolerance_points:g} points and beyond the ±{noise:.1f} points that "
            f"seed noise gives one run per backend at this accuracy on {images:,} validation images.")


def _parity_verdict(finals: dict[str, EpochRecord | None], tolerance_points: float) -> str:
    other = next(b for b in finals if b != REFERENCE)
    torch_rec, other_rec = finals[REFERENCE], finals[other]
    if torch_rec is None or other_rec is None:
        return "Parity: not assessed (needs both backends to finish)."
    unfinished = [BACKEND_NAMES[b] for b, r in finals.items() if not finished([r])]
    if unfinished:  # a diverged or interrupted run's accuracy says nothing about parity
        start = start_line(torch_rec, other_rec)
        return "\n".join(filter(None, [f"Parity: not assessed ({' and '.join(unfinished)} did not finish).", start]))
    lines = []
    if (torch_rec.params_total, torch_rec.params_trainable) != (other_rec.params_total, other_rec.params_trainable):
        lines.append(f"Parity: DIFFER — parameter counts differ ({torch_rec.params_total:,} vs "
                     f"{other_rec.params_total:,}): not the same architecture.")
    outcome = single_run_line(torch_rec, other_rec, tolerance_points)
    learning = {b: [r] for b, r in finals.items()}
    if (no_verdict := learning_verdict(learning, differ=outcome.startswith("Parity: DIFFER"))) is not None:
        lines.append(no_verdict)
    else:
        lines.extend([outcome, not_learning_note(learning)])
    lines.append(start_line(torch_rec, other_rec))
    if torch_rec.init != other_rec.init:
        lines.append(f"Note: the backends started from different initial weights ({torch_rec.init} vs {other_rec.init}).")
    return "\n".join(filter(None, lines))


def start_line(torch_rec: EpochRecord, other_rec: EpochRecord) -> str | None:
    """Did both backends start from the same function? Their step-0 losses (shared.metrics)."""
    a, b = torch_rec.initial_loss, other_rec.initial_loss
    if a is None or b is None:
        return None
    tolerance = max(START_TOLERANCE.get(r.precision, START_TOLERANCE["fp32"]) for r in (torch_rec, other_rec))
    same = abs(a - b) <= tolerance * max(abs(a), abs(b))
    return (f"Start: {'SAME' if same else 'DIFFERENT'} — step-0 loss on the first planned batch "
            f"(initial weights, inference mode): {VERDICT_NAMES[torch_rec.backend]} {a:.6f}, "
            f"{VERDICT_NAMES[other_rec.backend]} {b:.6f}, |Δ| {abs(a - b):.1e} "
            f"(tolerance {tolerance:g} relative, {other_rec.precision})"
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


def bench_rows(records: dict[str, BenchRecord | None], model: str, reasons: dict[str, str]) -> pd.DataFrame:
    """The bench table: one row per backend, what failed marked with its reason."""
    rows = []
    for backend, r in records.items():
        if r is None:
            rows.append({"Model": model, "Backend": BACKEND_NAMES[backend], "Compute img/s": "-",
                         "Idiomatic img/s": "-", "Parity overhead": "-", "Train img/s": "-", "Efficiency": "-",
                         "Pipeline CPU ms/batch": "-", "Eval img/s": "-", "Latency ms (batch 1)": "-",
                         "Peak RSS MB (framework)": "-", "Peak device MB": "-",
                         "Status": reasons.get(backend, "no record")})
            continue
        rows.append({"Model": model, "Backend": BACKEND_NAMES[backend] + (" (XLA)" if backend == "jax" else ""),
                     "Compute img/s": rate_cell(r.compute_images_per_sec, grouped=True),
                     # records made before the idiomatic reference existed have neither figure
                     "Idiomatic img/s": ("–" if r.idiomatic_images_per_sec is None
                                         else rate_cell(r.idiomatic_images_per_sec, grouped=True)),
                     "Parity overhead": "–" if r.parity_overhead is None else f"{r.parity_overhead:.3f}",
                     "Train img/s": rate_cell(r.train_images_per_sec, grouped=True),
                     "Efficiency": f"{r.pipeline_efficiency:.3f}",
                     "Pipeline CPU ms/batch": f"{r.pipeline_cpu_ms_per_batch:.1f}",
                     "Eval img/s": rate_cell(r.eval_images_per_sec, grouped=True),
                     "Latency ms (batch 1)": f"{r.latency_ms_batch1:.2f}",
                     "Peak RSS MB (framework)": f"{r.peak_host_mb:,.0f} ({r.baseline_host_mb:,.0f})",
                     "Peak device MB": "-" if r.peak_device_mb is None else f"{r.peak_device_mb:,.0f}",
                     "Status": r.status})
    return pd.DataFrame(rows)


def bench_settings_line(records: list[BenchRecord]) -> str:
    """What every row shares, and a warning where the rows differ in a setting that moves speed."""
    if not records:
        return ""
    first = records[0]
    # Keras on JAX has no uncompiled mode worth timing (op by op): its row is XLA whatever --compile says.
    chosen = [r for r in records if r.backend != "jax"] or records
    parts = [f"{first.image_size}×{first.image_size} input ({first.variant})", f"batch {first.batch_size}",
             first.precision, "compiled" if chosen[0].compiled else "not compiled", first.layout, first.device,
             ", ".join(sorted({f'{r.backend} {r.framework_version}' for r in records}))]
    if any(r.backend == "jax" for r in records):
        parts.append(f"{BACKEND_NAMES['jax']} always compiled by XLA")
    parts += [f"GPU math {math}" for math in sorted({r.gpu_math for r in records if r.gpu_math})]
    differ = [name for name in ("device", "precision", "gpu_math", "compiled", "batch_size", "layout", "image_size")
              if len({getattr(r, name) for r in (chosen if name == "compiled" else records)}) > 1]
    text = "Settings: " + ", ".join(parts) + f". Timing: {first.timing}."
    if differ:
        text += f" Warning: the rows differ in {', '.join(differ)}: not a like-for-like comparison."
    return text
