"""`compare.py report` on stored runs written by the test: the tables' numbers are the records',
the figures are real PNGs of the promised size, and anything invalid is skipped and named."""

import math
import re
import statistics

import matplotlib.image
import pandas as pd
import pytest

from shared.reporting import figures
from shared.reporting.figures import DPI, FIGSIZE
from shared.metrics import LOSS_CEILING_LN_CLASSES, NUM_CLASSES, chance_ceiling, did_not_learn, read_jsonl
from shared.reporting.tables import markdown, parity_verdict, seed_rows, seeds_verdict, table_rows, table_text

from conftest import compare, record, squeezed, write_run


@pytest.fixture
def runs(tmp_path):
    out = tmp_path / "results"
    seeds = {0: (0.861, 0.859), 1: (0.865, 0.866), 2: (0.858, 0.862)}
    for seed, (a, b) in seeds.items():
        write_run(out, f"20261127-1000{seed}0-cnn-seed{seed}-aaaa", seed=seed, val_accs={"torch": a, "tensorflow": b})
    write_run(out, "20261127-110000-cnn-seed0-bbbb", seed=0, epochs=1, val_accs={"torch": 0.70, "tensorflow": 0.69})
    bad = write_run(out, "20261127-120000-cnn-seed9-cccc", seed=9, val_accs={})
    (bad / "torch.jsonl").write_text('{"schema_version": 1, "run_id": "half a line')
    (out / "20261127-130000-broken").mkdir()
    (out / "20261127-130000-broken" / "config.json").write_text("{not json")
    return out, seeds


def test_report_tables_equal_the_records(runs):
    out, seeds = runs
    result = compare("report", "--runs", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    report = (out / "REPORT.md").read_text()
    table = squeezed(report)
    for i, backend in enumerate(("PyTorch", "TensorFlow/Keras")):
        accs = [100 * v[i] for v in seeds.values()]
        gap = statistics.mean(90 - a for a in accs)
        row = (f"| {backend} | 0, 1, 2 | 90.00 ± 0.00% | {statistics.mean(accs):.2f} ± {statistics.stdev(accs):.2f}% | "
               f"1.5000 ± 0.0000 | 1.2000 ± 0.0000 | {gap:+.2f} | ok (3 seeds) |")
        assert row in table, table
    assert re.search(r"\| cnn \(cifar, scratch\) #\d \| PyTorch \| 0 \| 90.00% \| 70.00% \|", table)
    # different settings are never pooled, and the report says why there are two comparisons
    assert re.search(r"cnn \(cifar, scratch\) appears in 2 comparisons with different settings \(epochs: (1 vs 2|2 vs 1)\): "
                     "they are not pooled", report)
    assert "Welch's t, 3 vs 3 seeds" in report and "one seed per backend" in report


def test_a_single_seed_verdict_compares_the_same_seed(tmp_path):
    """A run still going (seed 1 of PyTorch only) must not be paired with Keras' seed 0."""
    out = tmp_path / "results"
    write_run(out, "20261127-100000-cnn-seed0-aaaa", seed=0, val_accs={"torch": 0.80, "tensorflow": 0.79})
    write_run(out, "20261127-100100-cnn-seed1-aaaa", seed=1, val_accs={"torch": 0.50})
    write_run(out, "20261127-100200-cnn-seed2-aaaa", seed=2, epochs=3, val_accs={"torch": 0.5})
    write_run(out, "20261127-100300-cnn-seed3-aaaa", seed=3, epochs=3, val_accs={"tensorflow": 0.5})
    assert compare("report", "--runs", str(out)).returncode == 0
    report = (out / "REPORT.md").read_text()
    assert "Δ validation accuracy (PyTorch − Keras) = +1.00 points" in report
    assert "Parity: not assessed (the backends have no seed in common)." in report


def test_report_gives_the_original_projects_table_when_a_pretrained_model_ran(runs):
    out, _ = runs
    write_run(out, "20261127-140000-mobilenet-seed0-dddd", seed=0, epochs=1, model="mobilenet", mode="finetune",
              image_size=128, val_accs={"torch": 0.9012, "tensorflow": 0.8934})
    assert compare("report", "--runs", str(out)).returncode == 0
    report = (out / "REPORT.md").read_text()
    text = report.split("## The original project's table")[1].split("## Curves and settings")[0]
    section = squeezed(text)
    assert "| MobileNet | finetune, 128px | PyTorch | 90.00% | 90.12% | 1.5000 | 1.2000 | ok (1 seed) |" in section
    assert "| MobileNet | finetune, 128px | TensorFlow/Keras | 90.00% | 89.34% | 1.5000 | 1.2000 | ok (1 seed) |" in section
    assert "| MobileNet | finetune | original (T4) | 90.07% | 86.24% | 0.2960 | 0.3962 | published |" in section
    for name, mode in (("AlexNet", "finetune, 224px"), ("ResNet-18", "finetune, 224px"), ("ViT", "linear-probe, 224px")):
        assert f"| {name} | {mode} | PyTorch | - | - | - | - | skipped: not among these runs |" in section
    assert section.count("| CNN | scratch, 32px | PyTorch |") == 2  # both CNN comparisons, each named below
    assert "- MobileNet: mobilenet (imagenet, finetune, 128px), 1 epoch, fp32" in text


def test_report_has_no_original_table_without_a_pretrained_model(runs):
    out, _ = runs
    assert compare("report", "--runs", str(out)).returncode == 0
    assert "original project" not in (out / "REPORT.md").read_text()


def test_report_skips_and_names_what_it_cannot_read(runs):
    out, _ = runs
    result = compare("report", "--runs", str(out))
    assert "20261127-120000-cnn-seed9-cccc/torch.jsonl:1: skipped" in result.stderr
    assert "20261127-130000-broken: skipped: config.json unreadable" in result.stderr
    assert "20261127-130000-broken: skipped" in (out / "REPORT.md").read_text()
    assert "Traceback" not in result.stderr


def test_report_figures_are_pngs_of_the_promised_size(runs):
    out, _ = runs
    compare("report", "--runs", str(out), "--out", str(out / "docs" / "REPORT.md"))
    pngs = sorted((out / "docs" / "figures").glob("*.png"))
    assert [p.name for p in pngs] == ["cnn-cifar-scratch-1.png", "cnn-cifar-scratch-2.png", "throughput.png"]
    for png in pngs:
        assert matplotlib.image.imread(png).shape[:2] == (FIGSIZE[1] * DPI, FIGSIZE[0] * DPI)
        assert f"(figures/{png.name})" in (out / "docs" / "REPORT.md").read_text()


def test_report_regenerates_summary_csv_from_the_runs(runs):
    out, _ = runs
    (out / "summary.csv").write_text("stale,rows\n1,2\n")
    compare("report", "--runs", str(out))
    frame = pd.read_csv(out / "summary.csv")
    assert len(frame) == 3 * 2 + 2  # 3 seeds × 2 backends, the 1-epoch run's two
    assert set(frame.columns) >= {"run_id", "backend", "val_acc"} and (frame.epoch == frame.epochs).all()


@pytest.mark.parametrize("args, message", [
    (["--runs", "nowhere"], "--runs nowhere is not a folder"),
    (["--tolerance", "-1"], "--tolerance -1.0 must be a positive number of points"),
])
def test_report_bad_arguments_exit_2(tmp_path, args, message):
    result = compare("report", "--runs", str(tmp_path), *args)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr


# --- runs that did not learn, and throughput that could not be measured ---------------------------

LOSS_CEILING = LOSS_CEILING_LN_CLASSES * math.log(NUM_CLASSES)


def finished_record(backend="torch", **changes):
    """A finished one-epoch record of 4 steps (256 images, batch 64), validated on 100 images."""
    return record(**{**dict(backend=backend, epoch=1, epochs=1, train_images=256, batch_size=64, val_images=100),
                     **changes})


def test_chance_band_narrows_with_the_validation_images():
    # 3 binomial standard deviations above 1/C: wide on 100 images, narrow on the 10,000 test images
    assert chance_ceiling(100) == pytest.approx(0.1 + 3 * math.sqrt(0.1 * 0.9 / 100))
    assert chance_ceiling(10_000) < chance_ceiling(500) < chance_ceiling(100)
    assert chance_ceiling(0) == chance_ceiling(10_000)  # records that do not say: the test set


@pytest.mark.parametrize("changes, reason", [
    (dict(val_acc=0.10, val_loss=2.30), "at chance"),
    (dict(val_acc=chance_ceiling(100), val_loss=2.30), "at chance"),                 # on the band's edge
    (dict(val_acc=chance_ceiling(100) + 0.01, val_loss=2.30), None),
    (dict(val_acc=0.12, val_loss=2.30, val_images=10_000), None),                   # narrow band: learned
    (dict(val_acc=0.55, val_loss=LOSS_CEILING + 0.01), f"val loss {LOSS_CEILING + 0.01:.1f} ≫ ln 10"),
    (dict(val_acc=0.55, val_loss=LOSS_CEILING - 0.01), None),
    (dict(val_acc=0.55, val_loss=float("nan")), "val loss nan"),
    (dict(val_acc=0.10, val_loss=8864.8), "at chance, val loss 8864.8 ≫ ln 10"),
])
def test_did_not_learn(changes, reason):
    assert did_not_learn(finished_record(**changes)) == reason


def test_table_warns_beside_ok_and_the_verdict_is_no_agree():
    runs = {"torch": [finished_record(val_acc=0.10, val_loss=8864.8)],
            "tensorflow": [finished_record("tensorflow", val_acc=0.10, val_loss=2.30)]}
    table = squeezed(markdown(table_rows(runs, "cnn", {})))
    assert "| 10.00% | 1.5000 | 8864.8000 | 500 | 2000 | 100.0 | 10 | ok — at chance, val loss 8864.8 ≫ ln 10 |" \
        in table
    assert table.endswith("| ok — at chance |")
    verdict = parity_verdict({b: r[-1] for b, r in runs.items()})
    assert "AGREE" not in verdict and "DIFFER" not in verdict
    [line] = [line for line in verdict.splitlines() if line.startswith("Parity:")]
    assert line.startswith("Parity: no verdict — PyTorch: at chance, val loss 8864.8 ≫ ln 10 (validation accuracy "
                           "10.0%); TensorFlow/Keras: at chance (validation accuracy 10.0%), after 4 training steps "
                           "(1 epoch × 4).")
    assert line.endswith("train longer (--epochs, a larger --subset) or try another --lr.")


def test_both_at_chance_in_one_phrase_with_the_steps_of_all_epochs():
    finals = {"torch": finished_record(val_acc=0.10, epoch=3, epochs=3),
              "tensorflow": finished_record("tensorflow", val_acc=0.11, epoch=3, epochs=3)}
    assert parity_verdict(finals).startswith(
        "Parity: no verdict — both backends are at chance (validation accuracy 10.0% / 11.0%), after 12 training "
        "steps (3 epochs × 4).")


def test_one_backend_at_chance_gives_no_agree_but_a_differ_stands():
    edge = chance_ceiling(100)  # 19%: PyTorch just above it learned, Keras on it did not
    learned, stalled = finished_record(val_acc=edge + 0.01), finished_record("tensorflow", val_acc=edge)
    close = parity_verdict({"torch": learned, "tensorflow": stalled}, tolerance_points=1.5)  # Δ 1 point
    assert "AGREE" not in close and close.startswith("Parity: no verdict — TensorFlow/Keras: at chance")
    far = parity_verdict({"torch": finished_record(val_acc=0.55), "tensorflow": stalled})
    assert far.startswith("Parity: DIFFER — Δ validation accuracy (PyTorch − Keras) = +36.00 points")
    assert "Note: TensorFlow/Keras: at chance (validation accuracy 19.0%): it did not learn" in far


def test_seeds_at_chance_give_no_agree():
    runs = {b: [[finished_record(b, val_acc=0.10, seed=s)] for s in range(3)] for b in ("torch", "tensorflow")}
    verdict = seeds_verdict(runs)
    assert "AGREE" not in verdict and verdict.startswith("Parity: no verdict — both backends are at chance")
    assert (seed_rows(runs)["Status"] == "ok (3 seeds) — at chance in 3 of 3 seeds").all()
    learned = {b: [[finished_record(b, val_acc=0.55 + 0.01 * s, seed=s)] for s in range(3)]
               for b in ("torch", "tensorflow")}
    learned["torch"][1] = [finished_record(val_acc=0.10, seed=1)]  # one seed of PyTorch did not learn
    verdict = seeds_verdict(learned)
    assert "AGREE" not in verdict and verdict.startswith("Parity: no verdict — PyTorch: at chance in 1 of 3 seeds")


def test_report_gives_no_agree_for_runs_at_chance(tmp_path):
    out = tmp_path / "results"
    at_chance = dict(val_accs={"torch": 0.10, "tensorflow": 0.10}, fields=dict(val_images=100, batch_size=64))
    for seed in (0, 1):  # a comparison over two seeds (Welch's interval) ...
        write_run(out, f"20261127-10000{seed}-cnn-seed{seed}-aaaa", seed=seed, epochs=1, **at_chance)
    write_run(out, "20261127-100002-cnn-seed0-bbbb", seed=0, epochs=2, **at_chance)  # ... and one of one seed
    assert compare("report", "--runs", str(out)).returncode == 0
    report = (out / "REPORT.md").read_text()
    assert "AGREE" not in report and report.count("Parity: no verdict — both backends are at chance") == 2
    assert "after 8 training steps (1 epoch × 8)" in report and "after 16 training steps (2 epochs × 8)" in report
    assert "| ok (2 seeds) — at chance in 2 of 2 seeds |" in squeezed(report)


def test_unmeasured_throughput_is_a_dash_with_a_footnote_never_nan():
    nan = float("nan")
    runs = {"torch": [finished_record(train_images_per_sec=nan)], "tensorflow": [finished_record("tensorflow")]}
    text = table_text(table_rows(runs, "cnn", {}), warmup_batches=5)
    assert "nan" not in text
    assert "| PyTorch | 45.00% | 55.00% | 1.5000 | 1.2000 | – | 2000 |" in squeezed(text)
    assert text.endswith("\n\n– : the epoch had fewer steps than the 5 warm-up batches left out of img/s; "
                         "train longer to measure throughput.")
    measured = {"torch": [finished_record()], "tensorflow": [finished_record("tensorflow")]}
    assert "warm-up" not in table_text(table_rows(measured, "cnn", {}), warmup_batches=5)
    # several devices: the per-device column and the efficiency are unmeasured too
    parallel = {"torch": [finished_record(train_images_per_sec=nan, world_size=2, single_device_images_per_sec=300.0)]}
    text = table_text(table_rows(parallel, "cnn", {}), warmup_batches=5)
    assert "| – | 2 | – | 300 | – |" in squeezed(text) and "nan" not in text and "warm-up" in text
    # over seeds: the median of the measured ones, a dash when none was measured
    seeds = {"torch": [[finished_record(train_images_per_sec=nan)], [finished_record(train_images_per_sec=400.0)]],
             "tensorflow": [[finished_record("tensorflow", train_images_per_sec=nan)]]}
    assert list(seed_rows(seeds)["Train img/s"]) == ["400", "–"]


def test_report_shows_unmeasured_throughput_as_a_dash_with_a_footnote(tmp_path):
    out = tmp_path / "results"
    write_run(out, "20261127-100000-cnn-seed0-aaaa", seed=0, epochs=1, val_accs={"torch": 0.6, "tensorflow": 0.6},
              fields=dict(train_images_per_sec=float("nan")))
    result = compare("report", "--runs", str(out))
    assert result.returncode == 0 and "Traceback" not in result.stderr
    report = (out / "REPORT.md").read_text()
    assert "nan" not in report.split("## Curves")[0]
    assert "| PyTorch | – | 2000 |" in squeezed(report) and "left out of img/s; train longer" in report
    assert matplotlib.image.imread(out / "figures" / "throughput.png").shape[:2] == (FIGSIZE[1] * DPI, FIGSIZE[0] * DPI)


def test_throughput_figure_draws_no_bar_for_nan(tmp_path, monkeypatch):
    drawn = []
    real_bar = figures.plt.Axes.bar
    monkeypatch.setattr(figures.plt.Axes, "bar", lambda ax, x, heights, *a, **k: drawn.append(list(heights))
                        or real_bar(ax, x, heights, *a, **k))
    figures.throughput([dict(label="cnn", backend="torch", train=float("nan"), eval=2000.0),
                        dict(label="cnn", backend="tensorflow", train=500.0, eval=1500.0)], tmp_path / "t.png")
    assert drawn == [[0.0], [500.0], [2000.0], [1500.0]]
    assert (tmp_path / "t.png").exists()


def test_three_backends_each_get_a_verdict_against_pytorch(tmp_path):
    """With Keras on JAX beside TensorFlow: one row each, and each Keras backend is compared with
    PyTorch on its own terms — Welch's interval where it has seeds enough, one run where it has one."""
    out = tmp_path / "results"
    for seed, accs in {0: (0.861, 0.859, 0.850), 1: (0.865, 0.866, None), 2: (0.858, 0.862, None)}.items():
        val_accs = dict(zip(("torch", "tensorflow", "jax"), accs))
        write_run(out, f"20261127-1000{seed}0-cnn-seed{seed}-aaaa", seed=seed,
                  val_accs={b: a for b, a in val_accs.items() if a is not None})
    result = compare("report", "--runs", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    report = (out / "REPORT.md").read_text()
    assert "| JAX/Keras | 0 | 90.00% | 85.00% |" in squeezed(report)
    [line] = [line for line in report.splitlines() if line.startswith("- **cnn")]
    assert "Parity (PyTorch vs TensorFlow/Keras): INCONCLUSIVE" in line and "Welch's t, 3 vs 3 seeds" in line
    assert ("Parity (PyTorch vs JAX/Keras): AGREE — Δ validation accuracy (PyTorch − Keras on JAX) = +1.10 points"
            in line)
    assert "Each backend is compared with PyTorch, pair by pair" in report


def test_a_verdict_needs_pytorch():
    finals = {"tensorflow": finished_record("tensorflow"), "jax": finished_record("jax")}
    assert parity_verdict(finals) == ("Parity: not assessed (each backend is compared with PyTorch, "
                                      "which has no runs here).")


def test_no_stored_single_seed_run_is_called_differ():
    """Issue 39: the stored short seeds of MobileNetV2 and ResNet-18 (docs/results.md, "Is Keras
    ahead?") had single-seed Δ of −2.31, +1.79 and −1.85 points with no rule differing: re-read one
    seed at a time, none is DIFFER; those outside ±1.5 points are UNDECIDED."""
    from conftest import ROOT
    runs = sorted((ROOT / "docs/runs/2026-12-01-seeds").glob("*-seed[0-9]-*"))
    verdicts = [parity_verdict({b: read_jsonl(run / f"{b}.jsonl")[0][-1] for b in ("torch", "tensorflow")})
                for run in runs]
    assert len(verdicts) == 6 and not any("DIFFER" in v for v in verdicts)
    assert sum(v.startswith("Parity: UNDECIDED") for v in verdicts) == 3
