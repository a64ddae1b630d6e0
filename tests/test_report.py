"""`compare.py report` on stored runs written by the test: the tables' numbers are the records',
the figures are real PNGs of the promised size, and anything invalid is skipped and named."""

import re
import statistics

import matplotlib.image
import pandas as pd
import pytest

from shared.config import resolve
from shared.figures import DPI, FIGSIZE

from test_cli import _squeezed, compare
from test_schema import record


def write_run(out, name, *, seed, val_accs, epochs=2, **changes):
    """A run folder as compare.py leaves it: config.json and one JSONL per backend."""
    cfg = resolve("cnn", epochs=epochs, seed=seed, subset=512, **changes)
    cfg.run_id = name
    run_dir = out / name
    run_dir.mkdir(parents=True)
    cfg.save(run_dir / "config.json")
    for backend, val_acc in val_accs.items():
        lines = [record(run_id=name, backend=backend, seed=seed, epoch=e, epochs=epochs, train_acc=0.9,
                        val_acc=val_acc - 0.1 * (epochs - e), train_images=512, image_size=32).to_json()
                 for e in range(1, epochs + 1)]
        (run_dir / f"{backend}.jsonl").write_text("\n".join(lines) + "\n")
    return run_dir


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
    table = _squeezed(report)
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
