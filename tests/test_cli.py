"""compare.py end to end, as a user runs it: real processes, real (subset of the) data."""

import json
import math
import os
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from shared.backends import BACKEND_NAMES
from shared.config import MODELS, RunConfig
from shared.metrics import did_not_learn, read_jsonl

from conftest import ROOT, compare, squeezed


def test_help_imports_no_framework():
    code = ("import sys; sys.argv = ['compare.py', '--help']; import compare\n"
            "try:\n    compare.main()\nexcept SystemExit as e:\n    assert e.code == 0\n"
            "print(sorted(m for m in ('torch', 'tensorflow', 'keras', 'jax') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "--backend BACKEND" in result.stdout and "torch, tensorflow, jax" in " ".join(result.stdout.split())
    assert result.stdout.strip().endswith("[]")


@pytest.mark.parametrize("command", ["parity", "bench", "report", "table"])
def test_subcommand_help_imports_no_framework(command):
    code = (f"import sys; sys.argv = ['compare.py', {command!r}, '--help']; import compare\n"
            "try:\n    compare.main()\nexcept SystemExit as e:\n    assert e.code == 0\n"
            "print(sorted(m for m in ('torch', 'tensorflow', 'keras') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert f"usage: compare.py {command}" in result.stdout
    assert result.stdout.strip().endswith("[]")


# What TensorFlow's libraries log on import (absl, before it is set up) looks like this; none of it
# may reach compare.py's console (shared.run.framework_logs_kept).
FRAMEWORK_LOG_WORDS = ("cudart_stub", "oneDNN", "absl", "I0000", "W0000", "E0000")


def test_framework_logs_are_held_back_and_other_lines_pass(tmp_path):
    code = ("import os, sys\nfrom shared.run import framework_logs_kept\nkept = []\n"
            "with framework_logs_kept(kept):\n"
            "    os.write(2, b'WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\\n'\n"
            "                b'I0000 00:00:1796112796.436920   24411 cudart_stub.cc:31] Could not find cuda drivers\\n'\n"
            "                b'a line of its own\\n')\n"
            "    print('from Python', file=sys.stderr)\n"
            "print(len(kept))\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "2\n" and result.stderr == "a line of its own\nfrom Python\n"


@pytest.mark.parametrize("args, message", [
    (["--model", "vgg"], "invalid choice: 'vgg' (choose from 'cnn', 'alexnet', 'mobilenet', 'resnet18', 'vit', 'all')"),
    (["--variant", "tiny"], "invalid choice: 'tiny' (choose from 'cifar', 'imagenet', 'airbench')"),
    (["--model", "cnn", "--variant", "imagenet"], "--model cnn has no 'imagenet' variant; it has: cifar, airbench"),
    (["--backend", "mxnet"], "argument --backend: unknown backend 'mxnet'; choose from torch, tensorflow, jax, "
                             "a comma list of them, both or all"),
    (["--mode", "linear"], "invalid choice: 'linear' (choose from 'scratch', 'finetune', 'linear-probe')"),
    (["--epochs", "0"], "'0' must be a positive integer"),
    (["--batch-size", "-3"], "'-3' must be a positive integer"),
    (["--lr", "abc"], "'abc' is not a number"),
    (["--lr", "-0.1"], "'-0.1' must be a positive, finite number"),
    (["--lr", "nan"], "'nan' must be a positive, finite number"),
    (["--model", "vit", "--variant", "imagenet", "--image-size", "128"],
     "--image-size 128: vit reads 224×224 images only; --image-size works for mobilenet, resnet18"),
    (["--model", "resnet18", "--image-size", "16"], "--image-size 16: image size 16 is below 32"),
    (["--tta", "rotate"], "invalid choice: 'rotate' (choose from 'none', 'mirror', 'mirror+translate')"),
    (["--crop-padding", "32"], "argument --crop-padding: '32' must be 0 to 31 pixels"),
    (["--padding-mode", "wrap"], "invalid choice: 'wrap' (choose from 'zeros', 'reflect')"),
])
def test_bad_arguments_exit_2_with_one_line(args, message):
    result = compare(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("args, message", [
    (["--subset", "60000"], "--subset 60000 is larger than the 50000 training images"),
    (["--batch-size", "600", "--subset", "500"], "--batch-size 600 is larger than the 500 training images"),
    (["--val-split", "50000"], "--val-split 50000 must be smaller than the 50000 training images"),
    (["--model", "all", "--subset", "100"], "cnn's recipe batch size 256 (set --batch-size) is larger than the 100 training images"),
])
def test_arguments_checked_against_the_data_exit_2(real_data_env, tmp_path, args, message):
    result = compare(*args, "--out", str(tmp_path / "out"))
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_unwritable_out_exits_2(real_data_env, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = compare("--out", str(blocker / "results"))
    assert result.returncode == 2 and f"--out {blocker / 'results'} is not writable" in result.stderr


def test_missing_data_exits_3_and_lists_places(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "empty-cache"))
    monkeypatch.setenv("CIFAR10_DATA", str(tmp_path / "nowhere.npz"))
    # Offline by construction: a proxy that refuses, so the download attempt fails at once.
    monkeypatch.setenv("https_proxy", "http://127.0.0.1:9")
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    result = compare("--out", str(tmp_path / "out"))
    assert result.returncode == 3
    line = result.stderr.strip()
    assert "\n" not in line and "Traceback" not in line
    assert "nowhere.npz" in line and "empty-cache" in line and "CIFAR10_DATA" in line


def not_a_zip(path):
    path.write_bytes(b"PK\x03\x04 this is not really a zip file")
    return path


def user_npz(path, **change):
    """A small npz in CIFAR-10's layout, with some arrays replaced."""
    arrays = {"x_train": np.zeros((20, 32, 32, 3), np.uint8), "y_train": np.arange(20, dtype=np.uint8) % 10,
              "x_test": np.zeros((10, 32, 32, 3), np.uint8), "y_test": np.arange(10, dtype=np.uint8)}
    np.savez(path, **{**arrays, **change})
    return path


@pytest.mark.parametrize("make, message", [
    (not_a_zip, "not a valid npz file (truncated or corrupt"),
    (lambda p: user_npz(p, y_train=np.full(20, 10, "uint8")), "y_train has labels up to 10, expected 0..9"),
    (lambda p: user_npz(p, x_test=np.zeros((10, 3, 32, 32), "uint8")),
     "x_test has shape (10, 3, 32, 32), expected (N, 32, 32, 3)"),
    (lambda p: user_npz(p, x_train=np.zeros((20, 32, 32, 3), "float32")),
     "x_train has dtype float32, expected uint8"),
])
def test_corrupt_or_malformed_data_exits_3_in_one_line(tmp_path, monkeypatch, make, message):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    bad = make(tmp_path / "cifar10.npz")
    result = compare("--data-dir", str(bad), "--out", str(tmp_path / "out"))
    assert result.returncode == 3 and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1 and str(bad) in result.stderr and message in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("missing, present", [("tensorflow", "torch"), ("torch", "tensorflow")])
def test_a_missing_framework_fails_its_row_and_the_other_backend_still_runs(real_data_env, tmp_path, monkeypatch,
                                                                            missing, present):
    # None in sys.modules is how Python itself spells "not installed", for find_spec and import
    # alike; a sitecustomize on PYTHONPATH sets it in compare.py and in every process it starts.
    hidden = {"torch": ["torch", "torchvision"], "tensorflow": ["tensorflow", "keras"]}[missing]
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "sitecustomize.py").write_text(
        "import sys\n" + "".join(f"sys.modules[{m!r}] = None\n" for m in hidden))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "site"))
    out = tmp_path / "results"
    result = compare("--model", "cnn", "--backend", "both", "--epochs", "1", "--subset", "256",
                     "--batch-size", "64", "--lr", "0.05", "--val-split", "100", "--out", str(out))
    reason = {"torch": "failed: torch not installed", "tensorflow": "failed: tensorflow/keras not installed"}[missing]
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"[{missing}] skipped: {reason} (pip install -r requirements.txt installs both frameworks)" in result.stderr
    rows = [line for line in result.stdout.splitlines() if line.startswith("| cnn")]
    assert len(rows) == 2 and any(re.search(r"\| ok( — [^|]*)? +\|$", line) for line in rows)
    assert any(reason in line for line in rows)
    [run_dir] = [p for p in out.iterdir() if p.is_dir()]
    records, problems = read_jsonl(run_dir / f"{present}.jsonl")
    assert problems == [] and [r.status for r in records] == ["ok"]
    assert not (run_dir / f"{missing}.jsonl").exists()


def test_divergence_stops_each_backend_at_its_step_and_exits_1(real_data_env, tmp_path):
    """--lr 1e12: each backend stops at the step where its own loss turned non-finite (checked every
    step on the CPU), says so, keeps no checkpoint of the diverged state, and no verdict is given.
    Which step that is depends on the CPU's rounding (on an Intel CPU PyTorch diverged at step 4 and
    Keras at step 3), so the backends' steps are not compared with each other."""
    out = tmp_path / "results"
    result = compare("--model", "cnn", "--backend", "both", "--epochs", "2", "--subset", "512",
                     "--batch-size", "64", "--lr", "1e12", "--val-split", "100", "--out", str(out))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    [run_dir] = [p for p in out.iterdir() if p.is_dir()]
    rows = [line for line in result.stdout.splitlines() if line.startswith("| cnn")]
    assert len(rows) == 2
    for backend, label in (("torch", "PyTorch"), ("tensorflow", "TensorFlow/Keras")):
        line = re.search(rf"^\[{backend}\] diverged: train loss (nan|inf|-inf) at epoch 1, step (\d+)/8$",
                         result.stderr, re.M)
        assert line, result.stderr[-2000:]
        loss, step = line[1], int(line[2])
        assert 1 <= step < 8  # the epoch stopped at that step, before its end
        records, problems = read_jsonl(run_dir / f"{backend}.jsonl")
        assert problems == [] and len(records) == 1  # the run stopped in epoch 1: epoch 2 never began
        [record] = records
        assert record.status == f"diverged: train loss {loss} at epoch 1, step {step}/8"
        assert not math.isfinite(record.train_loss)
        # The epoch's figures cover exactly its `step` steps of 64 images: a whole number of them were right.
        correct = record.train_acc * step * 64
        assert correct == pytest.approx(round(correct), abs=1e-3)
        assert not (run_dir / f"{backend}.ckpt").exists()  # a diverged state is nothing to resume from
        [row] = [r for r in rows if f"| {label} " in r]
        assert f"| diverged: train loss {loss} at epoch 1, step {step}/8" in row
    assert "Parity: not assessed (PyTorch and TensorFlow/Keras did not finish)." in result.stdout
    assert "AGREE" not in result.stdout and "DIFFER" not in result.stdout


def test_a_run_that_cannot_learn_is_flagged_and_gets_no_verdict(real_data_env, tmp_path):
    """--lr 1e-9: both backends finish, at chance. Their rows say so beside the ok, and there is no
    parity verdict (two runs that did not learn agree about nothing), but the steps they had and
    what to try. 4 steps per epoch are fewer than the 5 warm-up batches: img/s is a dash with a
    footnote, never nan."""
    out = tmp_path / "results"
    result = compare("--model", "cnn", "--backend", "both", "--epochs", "1", "--subset", "256",
                     "--batch-size", "64", "--lr", "1e-9", "--val-split", "100", "--out", str(out))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    [run_dir] = [p for p in out.iterdir() if p.is_dir()]
    table = (run_dir / "table.md").read_text()
    for text in (result.stdout, table):
        assert "AGREE" not in text and "DIFFER" not in text and "nan" not in text
        [verdict] = [line for line in text.splitlines() if line.startswith("Parity:")]
        assert verdict.startswith("Parity: no verdict — ") and "after 4 training steps (1 epoch × 4)" in verdict
        assert verdict.endswith("train longer (--epochs, a larger --subset) or try another --lr.")
        assert "– : the epoch had fewer steps than the 5 warm-up batches left out of img/s" in text
    for backend, label in (("torch", "PyTorch"), ("tensorflow", "TensorFlow/Keras")):
        [record], problems = read_jsonl(run_dir / f"{backend}.jsonl")
        assert problems == [] and record.status == "ok" and math.isnan(record.train_images_per_sec)
        why = did_not_learn(record)
        assert why is not None and why.startswith("at chance")  # 1e-9 leaves the initial weights as they were
        [row] = [line for line in squeezed(table).splitlines() if f"| {label} |" in line]
        assert f"| {100 * record.val_acc:.2f}% |" in row and "| – |" in row and row.endswith(f"| ok — {why} |")


def broken_framework(folder, module: str, error: str):
    """A folder for PYTHONPATH with a package `module` whose import raises `error`: what an installed
    framework with a broken wheel or a missing shared library looks like to Python (found, not importable)."""
    (folder / module).mkdir(parents=True)
    (folder / module / "__init__.py").write_text(f"raise {error}\n")
    return folder


def run_with_broken_framework(tmp_path, monkeypatch, module: str, error: str):
    """A short run of both backends with `module` failing to import: exit 1 and no traceback on
    the console. Returns the result and the run folder."""
    monkeypatch.setenv("PYTHONPATH", str(broken_framework(tmp_path / "site", module, error)))
    out = tmp_path / "results"
    result = compare("--model", "cnn", "--backend", "both", "--epochs", "1", "--subset", "256",
                     "--batch-size", "64", "--lr", "0.05", "--val-split", "100", "--out", str(out))
    assert result.returncode == 1
    assert "Traceback" not in result.stdout and "Traceback" not in result.stderr
    [run_dir] = [p for p in out.iterdir() if p.is_dir()]
    return result, run_dir


def test_a_framework_that_fails_to_import_fails_its_row_in_one_line(real_data_env, tmp_path, monkeypatch):
    result, run_dir = run_with_broken_framework(tmp_path, monkeypatch, "tensorflow",
                                                'ImportError("libfoo.so: cannot open shared object file")')
    log = run_dir / "tensorflow.log"
    line = (f"[tensorflow] failed: tensorflow is installed but cannot be imported: ImportError: libfoo.so: "
            f"cannot open shared object file (traceback in {log})")
    assert [x for x in result.stderr.splitlines() if "libfoo.so" in x] == [line]
    assert "Traceback" in log.read_text() and "libfoo.so" in log.read_text()
    rows = [x for x in squeezed(result.stdout).splitlines() if x.startswith("| cnn")]
    assert len(rows) == 2 and re.search(r"\| PyTorch \|.*\| ok( — [^|]*)? \|$", rows[0])
    assert rows[1].endswith(f"| failed (exit 1): {line} |")
    [record], _ = read_jsonl(run_dir / "torch.jsonl")
    assert record.status == "ok" and not (run_dir / "tensorflow.jsonl").exists()


def test_a_torch_that_fails_to_import_leaves_keras_its_own_init(real_data_env, tmp_path, monkeypatch):
    """Without PyTorch's initial weights Keras starts from its own (one warning line), and the
    PyTorch row fails in one line."""
    result, run_dir = run_with_broken_framework(tmp_path, monkeypatch, "torch",
                                                'OSError("libtorch_cpu.so: cannot open shared object file")')
    failure = (f"[torch] failed: torch is installed but cannot be imported: OSError: libtorch_cpu.so: "
               f"cannot open shared object file (traceback in {run_dir / 'torch.log'})")
    assert [x for x in result.stderr.splitlines() if "libtorch_cpu.so" in x] == [
        f"warning: could not make shared initial weights ({failure}); each backend uses its own", failure]
    [record], _ = read_jsonl(run_dir / "tensorflow.jsonl")
    assert record.status == "ok" and record.init == "keras-seed0+whitened"
    assert not (run_dir / "torch.jsonl").exists() and "Traceback" in (run_dir / "torch.log").read_text()


@pytest.mark.parametrize("backend, error", [("tensorflow", 'ImportError("libfoo.so: cannot open shared object file")'),
                                            ("torch", 'OSError("libtorch_cpu.so: cannot open shared object file")')])
def test_bench_reports_a_framework_that_fails_to_import_in_one_line(real_data_env, tmp_path, monkeypatch,
                                                                     backend, error):
    monkeypatch.setenv("PYTHONPATH", str(broken_framework(tmp_path / "site", backend, error)))
    out = tmp_path / "results"
    result = compare("bench", "--model", "cnn", "--backend", backend, "--subset", "512", "--batch-size", "32",
                     "--warmup-steps", "1", "--windows", "2", "--window-steps", "2", "--out", str(out))
    assert result.returncode == 1
    assert "Traceback" not in result.stdout and "Traceback" not in result.stderr
    [run_dir] = [p for p in out.iterdir() if p.is_dir()]
    [line] = [x for x in result.stderr.splitlines() if x.strip()]
    error_type = error.split("(")[0]
    assert line.startswith(f"[{backend}] failed: {backend} is installed but cannot be imported: {error_type}: ")
    assert line.endswith(f"(traceback in {run_dir / f'{backend}.log'})")


@pytest.mark.parametrize("backend, error", [("tensorflow", 'ImportError("libfoo.so: cannot open shared object file")'),
                                            ("torch", 'OSError("libtorch_cpu.so: cannot open shared object file")')])
def test_parity_reports_a_framework_that_fails_to_import_in_one_line(tmp_path, monkeypatch, backend, error):
    monkeypatch.setenv("PYTHONPATH", str(broken_framework(tmp_path / "site", backend, error)))
    result = compare("parity", "--model", "cnn")
    assert result.returncode == 1
    assert "Traceback" not in result.stdout and "Traceback" not in result.stderr
    error_type, message = error.split("(")[0], error.split('"')[1]
    assert result.stderr.splitlines() == [
        f"compare.py parity: {backend} is installed but cannot be imported: {error_type}: {message}"]


def test_airbench_augmentation_and_test_time_augmentation_end_to_end(real_data_env, tmp_path):
    """airbench's augmentation flags reach the config and the settings line. --tta: both backends
    record the averaged views' loss and accuracy as tta_val_*, keep the plain pass in val_*, and
    the table shows the TTA accuracy in brackets. The features probe, which evaluates cached
    features of the plain images, refuses --tta."""
    out = tmp_path / "results"
    result = compare("--model", "cnn", "--backend", "both", "--epochs", "2", "--subset", "256", "--batch-size", "64",
                     "--lr", "0.05", "--val-split", "100", "--crop-padding", "2", "--padding-mode", "reflect",
                     "--alternating-flip", "--tta", "mirror+translate", "--out", str(out))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "augment crop+flip (padding 2 reflect, alternating flip)" in result.stdout
    [run_dir] = [p for p in out.iterdir() if p.is_dir()]
    cfg = RunConfig.load(run_dir / "config.json")
    assert (cfg.crop_padding, cfg.padding_mode, cfg.alternating_flip, cfg.tta) == (2, "reflect", True, "mirror+translate")
    for backend in ("torch", "tensorflow"):
        records, _ = read_jsonl(run_dir / f"{backend}.jsonl")  # two epochs: Keras' TTA pass is made once, used twice
        assert [r.epoch for r in records] == [1, 2]
        for record in records:
            assert record.tta == "mirror+translate" and 0 <= record.tta_val_acc <= 1 and record.tta_val_loss > 0
            assert 100 * record.tta_val_acc == pytest.approx(round(100 * record.tta_val_acc))  # whole images of 100
        cell = f"{100 * record.val_acc:.2f}% (mirror+translate TTA {100 * record.tta_val_acc:.2f}%)"
        assert re.search(rf"\| {BACKEND_NAMES[backend]} +\| [^|]+\| {re.escape(cell)} +\|", result.stdout)
    probe = compare("--model", "mobilenet", "--mode", "linear-probe", "--tta", "mirror", "--out", str(out))
    assert probe.returncode == 2 and "--tta mirror: the features probe" in probe.stderr


def test_both_backends_end_to_end(real_data_env, tmp_path):
    """Two epochs on 512 images, validation on 500 held-out ones: both rows, valid files."""
    out = tmp_path / "results"
    # A shell's KERAS_BACKEND=jax must not move the TensorFlow backend onto JAX (it failed there).
    result = compare("--model", "cnn", "--backend", "both", "--epochs", "2", "--subset", "512",
                     "--batch-size", "64", "--lr", "0.05", "--val-split", "500", "--out", str(out),
                     env={**os.environ, "KERAS_BACKEND": "jax"})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "| cnn (cifar, scratch) | PyTorch" in result.stdout
    assert "| cnn (cifar, scratch) | TensorFlow/Keras" in result.stdout
    assert "Parity:" in result.stdout
    assert [w for w in FRAMEWORK_LOG_WORDS if w in result.stdout + result.stderr] == []
    for backend in ("torch", "tensorflow"):  # a progress line per epoch, with an ETA until the last
        assert re.search(rf"\[{backend}\] epoch 1/2  train loss .* img/s  [\d.]+ s  ETA \d+:\d\d:\d\d\n", result.stdout)
        assert re.search(rf"\[{backend}\] epoch 2/2  train loss .* img/s  [\d.]+ s\n", result.stdout)

    [run_dir] = [p for p in out.iterdir() if p.is_dir()]
    cfg = RunConfig.load(run_dir / "config.json")
    assert (cfg.epochs, cfg.subset, cfg.batch_size, cfg.val_split, cfg.run_id) == (2, 512, 64, 500, run_dir.name)
    finals = {}
    for backend in ("torch", "tensorflow"):
        records, problems = read_jsonl(run_dir / f"{backend}.jsonl")
        assert problems == [] and [r.epoch for r in records] == [1, 2]
        finals[backend] = records[-1]
        assert all(r.status == "ok" and r.init == "torch-seed0+whitened" and r.validation == "holdout500"
                   and r.train_images == 512 and r.val_images == 500 for r in records)
    assert finals["torch"].params_total == finals["tensorflow"].params_total == 1_161_282
    summary = pd.read_csv(out / "summary.csv")
    assert sorted(summary.backend) == ["tensorflow", "torch"] and set(summary.run_id) == {cfg.run_id}
    assert (run_dir / "table.md").read_text().count("| cnn (cifar, scratch) |") == 2
    assert json.loads((run_dir / "config.json").read_text())["model"] == "cnn"
    made = json.loads((run_dir / "provenance.json").read_text())  # where, at which commit, with what command
    assert made["command"] == ("python compare.py --model cnn --backend both --epochs 2 --subset 512 --batch-size 64 "
                               f"--lr 0.05 --val-split 500 --out {out} --no-verify")  # conftest's compare adds it
    assert made["cpu"]["model"] and made["cpu"]["cores"] >= 1 and "commit" in made


def test_every_model_end_to_end_with_model_all(real_data_env, tmp_path):
    """`--model all`: each model's recipe, one run folder per model, and one combined table whose
    numbers are the records'. PyTorch alone, to keep CI short: every model trains in both
    backends in tests/test_table.py, and the parity tests hold each cifar variant's logits and
    optimizer steps to PyTorch's in Keras."""
    out = tmp_path / "results"
    result = compare("--model", "all", "--backend", "torch", "--epochs", "1", "--subset", "96",
                     "--batch-size", "32", "--val-split", "64", "--out", str(out))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    run_dirs = sorted(p for p in out.iterdir() if p.is_dir())
    configs = {RunConfig.load(d / "config.json").model: (d, RunConfig.load(d / "config.json")) for d in run_dirs}
    assert sorted(configs) == sorted(MODELS)
    assert configs["vit"][1].optimizer == "adamw" and configs["resnet18"][1].optimizer == "sgd"
    [combined] = out.glob("*-all-scratch-cifar-seed0.md")
    table = squeezed(combined.read_text())
    for model, (run_dir, cfg) in configs.items():
        [record], problems = read_jsonl(run_dir / "torch.jsonl")
        assert problems == [] and record.status == "ok" and record.model == model
        assert (record.variant, record.train_images, record.val_images) == ("cifar", 96, 64)
        row = f"| {model} (cifar, scratch) | PyTorch | {100 * record.train_acc:.2f}% | {100 * record.val_acc:.2f}% |"
        assert row in table
        assert not (run_dir / "tensorflow.jsonl").exists()
    assert len(pd.read_csv(out / "summary.csv")) == len(MODELS)


def test_imagenet_variant_trains_at_224(real_data_env, tmp_path):
    """--variant imagenet: torchvision's MobileNetV2 architecture, fed the 32×32 batches resized
    to 224×224, in both backends from the same initial weights."""
    out = tmp_path / "results"
    result = compare("--model", "mobilenet", "--variant", "imagenet", "--backend", "both",
                     "--epochs", "1", "--subset", "32", "--batch-size", "16", "--val-split", "16",
                     "--out", str(out))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    [run_dir] = [p for p in out.iterdir() if p.is_dir()]
    for backend in ("torch", "tensorflow"):
        [record], problems = read_jsonl(run_dir / f"{backend}.jsonl")
        assert problems == [] and record.status == "ok" and record.init == "torch-seed0"
        assert (record.model, record.variant, record.params_total) == ("mobilenet", "imagenet", 2_236_682)
    assert "| mobilenet (imagenet, scratch) | PyTorch" in result.stdout


def test_image_size_trains_both_backends_at_that_side(real_data_env, tmp_path):
    """--image-size 64: both backends read 64×64 batches (resized alike) from the same start."""
    out = tmp_path / "results"
    result = compare("--model", "resnet18", "--variant", "imagenet", "--image-size", "64", "--epochs", "1",
                     "--subset", "32", "--batch-size", "16", "--val-split", "16", "--out", str(out))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    [run_dir] = [p for p in out.iterdir() if p.is_dir()]
    assert RunConfig.load(run_dir / "config.json").image_size == 64
    records = [read_jsonl(run_dir / f"{b}.jsonl")[0][0] for b in ("torch", "tensorflow")]
    assert [r.image_size for r in records] == [64, 64]
    assert records[1].initial_loss == pytest.approx(records[0].initial_loss, rel=1e-4)
    assert "| resnet18 (imagenet, scratch, 64px) | PyTorch" in squeezed(result.stdout)
    assert "Start: SAME" in result.stdout and "64×64 input" in result.stdout


def test_seeds_give_mean_and_std_and_a_welch_verdict(real_data_env, tmp_path):
    """--seeds 2: one run folder per seed (seeds 5 and 6), then a table over seeds whose numbers
    are the records' mean ± std, and the verdict's interval."""
    out = tmp_path / "results"
    result = compare("--model", "cnn", "--seeds", "2", "--seed", "5", "--epochs", "1", "--subset", "64",
                     "--batch-size", "32", "--val-split", "64", "--out", str(out))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    run_dirs = sorted(p for p in out.iterdir() if p.is_dir())
    assert [RunConfig.load(p / "config.json").seed for p in run_dirs] == [5, 6]
    accuracies = [100 * read_jsonl(p / "torch.jsonl")[0][-1].val_acc for p in run_dirs]
    mean, std = sum(accuracies) / 2, abs(accuracies[0] - accuracies[1]) / 2 ** 0.5
    [seeds_file] = out.glob("*-cnn-scratch-cifar-seeds5-6.md")
    table = squeezed(seeds_file.read_text())
    assert "| cnn (cifar, scratch) | PyTorch | " in table and f"| {mean:.2f} ± {std:.2f}% |" in table
    assert re.search(r"\| ok \(2 seeds\)( — [^|]*)? \|", table)
    assert "mean ± standard deviation over 2 seeds" in result.stdout
    # Two steps per seed may leave a backend at chance (shared.metrics.did_not_learn): then no interval is given.
    finals = [read_jsonl(p / f"{backend}.jsonl")[0][-1] for p in run_dirs for backend in ("torch", "tensorflow")]
    text = seeds_file.read_text()
    if any(did_not_learn(r) for r in finals):
        assert "Parity: no verdict — " in text and "AGREE" not in text
    else:
        assert "Welch's t, 2 vs 2 seeds" in text
