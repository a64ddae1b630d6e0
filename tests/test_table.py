"""`compare.py table`: the original project's table, every model in its original mode, in both
backends, with the original's figures beside them; a model without ImageNet weights skipped in
one line, the others still run.

Every row's code path runs here, on the fewest images that make a batch, with weights made by
the test in torchvision's layout under torchvision's file names (a --weights-dir). On the team's
2-core machine, sharing it with a training run (nice 19), the file took 3 min 10 s: 2 min 28 s the
five models in both backends (15 processes start: init weights, PyTorch, Keras per model), 21 s
the partial folder, the rest seconds (2026-12-01). Alone on the machine, expect about two thirds."""

from __future__ import annotations

import os
import re

import pytest
import torch

from shared.metrics import read_jsonl
from shared.reporting.original import CHECKPOINTS, FIGURES, NAMES, checkpoint_url

from conftest import compare, squeezed

# 8 training images in one batch of 8, 8 held-out images to validate on, one epoch; MobileNetV2
# and ResNet-18 read 32×32 (AlexNet and ViT-B/16 only read 224×224).
TINY = ["--epochs", "1", "--subset", "8", "--batch-size", "8", "--val-split", "8", "--image-size", "32"]
MEASURED = re.compile(r"\| [\d.]+% \| [\d.]+% \| [\d.]+ \| [\d.]+ \| ok( — [^|]*)? \|$")


@pytest.fixture(scope="module")
def weights_dir(tmp_path_factory):
    """torchvision's four architectures (1000 classes, seeded) saved under the file names their
    default weights download to."""
    import torchvision

    from pytorch_impl.pretrained import TORCHVISION_NAME

    folder = tmp_path_factory.mktemp("weights")
    torch.manual_seed(3)
    for model, name in CHECKPOINTS.items():
        torch.save(torchvision.models.get_model(TORCHVISION_NAME[model], weights=None).state_dict(), folder / name)
    return folder


@pytest.fixture
def offline(tmp_path, monkeypatch):
    """An empty torch.hub folder, and no network: a proxy that refuses at once."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    for var in ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")
    return tmp_path / "torch-home" / "hub" / "checkpoints"


def test_checkpoint_file_names_are_torchvisions():
    from pytorch_impl.pretrained import DEFAULT_WEIGHTS, weights_enum

    assert set(CHECKPOINTS) == set(DEFAULT_WEIGHTS)
    for model, member in DEFAULT_WEIGHTS.items():
        assert checkpoint_url(model) == weights_enum(model)[member].url


def original_line(model: str) -> str:
    train_acc, val_acc, train_loss, val_loss = FIGURES[model]
    return f"| original (T4) | {train_acc:.2f}% | {val_acc:.2f}% | {train_loss:.4f} | {val_loss:.4f} | published |"


def combined(text: str) -> list[str]:
    """The lines of the combined table, the last table printed (each run's comes before it)."""
    lines = squeezed(text).splitlines()
    start = max(i for i, line in enumerate(lines) if line.startswith("| Model | Mode | Backend |"))
    return lines[start:]


def table_lines(text: str) -> dict[str, list[str]]:
    """The combined table's rows by model name."""
    rows: dict[str, list[str]] = {}
    for line in combined(text)[2:]:
        rows.setdefault(line.split(" | ")[0].removeprefix("| "), []).append(line)
    return rows


def test_every_model_in_its_original_mode_in_both_backends(real_data_env, offline, weights_dir, tmp_path):
    out = tmp_path / "results"
    result = compare("table", *TINY, "--weights-dir", str(weights_dir), "--out", str(out))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Traceback" not in result.stderr and "skipped" not in result.stderr
    rows = table_lines(result.stdout)
    assert list(rows) == list(NAMES.values())
    modes = {"CNN": "scratch, 32px", "AlexNet": "finetune, 224px", "MobileNet": "finetune, 32px",
             "ResNet-18": "finetune, 32px", "ViT": "linear-probe, 224px"}
    for model, name in NAMES.items():
        torch_row, keras_row, published = rows[name]
        assert torch_row.startswith(f"| {name} | {modes[name]} | PyTorch |") and MEASURED.search(torch_row)
        assert keras_row.startswith(f"| {name} | {modes[name]} | TensorFlow/Keras |") and MEASURED.search(keras_row)
        assert published.endswith(original_line(model))
    [path] = out.glob("*-table-seed0.md")
    assert combined(path.read_text()) == combined(result.stdout)
    runs = sorted(p for p in out.iterdir() if p.is_dir())
    assert len(runs) == 5 and all((p / "provenance.json").is_file() and (p / "table.md").is_file() for p in runs)
    for run in runs:
        assert run.name in path.read_text()
        for backend in ("torch", "tensorflow"):
            [record], problems = read_jsonl(run / f"{backend}.jsonl")
            assert problems == [] and record.status == "ok"
            assert record.mode == {"cnn": "scratch", "vit": "linear-probe"}.get(record.model, "finetune")
            if record.model != "cnn":
                assert record.init.startswith(f"file:{CHECKPOINTS[record.model]}@sha256:")


def test_weights_missing_from_the_folder_skip_their_rows_in_one_line(real_data_env, offline, weights_dir, tmp_path):
    partial = tmp_path / "partial"
    partial.mkdir()
    os.link(weights_dir / CHECKPOINTS["mobilenet"], partial / CHECKPOINTS["mobilenet"])
    out = tmp_path / "results"
    models = ("alexnet", "mobilenet", "resnet18", "vit")  # the CNN needs no weights (and ran above)
    result = compare("table", *TINY, "--models", *models, "--backend", "torch", "--weights-dir", str(partial),
                     "--out", str(out))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    lines = [line for line in result.stderr.splitlines() if "skipped" in line]
    assert lines == [f"table: {m} skipped: {CHECKPOINTS[m]} is not in {partial}/; download it from "
                     f"{checkpoint_url(m)} into that folder" for m in ("alexnet", "resnet18", "vit")]
    rows = table_lines(result.stdout)
    assert list(rows) == [NAMES[m] for m in models]
    measured, published = rows["MobileNet"]
    assert "| PyTorch |" in measured and MEASURED.search(measured) and published.endswith(original_line("mobilenet"))
    for model in ("alexnet", "resnet18", "vit"):
        skipped, published = rows[NAMES[model]]
        assert skipped.endswith("| PyTorch | - | - | - | - | skipped: no ImageNet weights |")
        assert published.endswith(original_line(model))
        assert f"- {NAMES[model]}: {CHECKPOINTS[model]} is not in {partial}/" in result.stdout
    assert len([p for p in out.iterdir() if p.is_dir()]) == 1 and len(list(out.glob("*-table-seed0.md"))) == 1


def test_weights_that_do_not_fit_skip_their_row_when_its_run_starts(real_data_env, offline, weights_dir, tmp_path):
    """A file under the right name that holds another architecture: seen when the run makes its
    initial weights (one line), the row skipped, its run folder removed; nothing ran: exit 4."""
    wrong = tmp_path / "wrong"
    wrong.mkdir()
    os.link(weights_dir / CHECKPOINTS["resnet18"], wrong / CHECKPOINTS["mobilenet"])
    out = tmp_path / "results"
    result = compare("table", *TINY, "--models", "mobilenet", "--backend", "torch", "--weights-dir", str(wrong),
                     "--out", str(out))
    assert result.returncode == 4, result.stdout[-3000:] + result.stderr[-3000:]
    [line] = [line for line in result.stderr.splitlines() if line.strip()]
    assert line.startswith("weights: the weights do not fit mobilenet's architecture: missing features.0.0.weight")
    assert table_lines(result.stdout)["MobileNet"][0].endswith(
        "| PyTorch | - | - | - | - | skipped: unusable ImageNet weights |")
    assert f"- MobileNet: {line}" in result.stdout
    assert not [p for p in out.iterdir() if p.is_dir()] and len(list(out.glob("*-table-seed0.md"))) == 1


def test_nothing_runnable_exits_4_in_one_line(real_data_env, offline, tmp_path):
    """No weights anywhere and no network (torch.hub's folder empty) for one model, a file that is
    not there for the other: one line naming both, exit 4, nothing trained."""
    out = tmp_path / "results"
    result = compare("table", *TINY, "--models", "alexnet", "vit", "--weights", f"vit={tmp_path / 'vit.pth'}",
                     "--out", str(out))
    assert result.returncode == 4, result.stdout[-3000:] + result.stderr[-3000:]
    [line] = [line for line in result.stderr.splitlines() if line.strip()]
    assert line.startswith("compare.py: error: nothing to run: alexnet: AlexNet_Weights.IMAGENET1K_V1 is not in ")
    assert f"put {CHECKPOINTS['alexnet']} from {checkpoint_url('alexnet')} into {offline}/" in line
    assert line.endswith(f"; vit: --weights {tmp_path / 'vit.pth'}: no such file")
    assert not any(out.iterdir())


@pytest.mark.parametrize("args, message", [
    (["--epochs", "0"], "argument --epochs: '0' must be a positive integer (see compare.py table --help)"),
    (["--models", "vgg"], "argument --models: invalid choice: 'vgg'"),
    (["--weights", "cnn=x.pth"], "--weights cnn=x.pth: expected MODEL=FILE or MODEL=MEMBER, MODEL one of alexnet, "),
    (["--weights-dir", "/nonexistent/weights"], "--weights-dir /nonexistent/weights is not a folder"),
    (["--image-size", "16"], "--image-size 16: image size 16 is below 32"),
])
def test_bad_arguments_exit_2_in_one_line(args, message):
    result = compare("table", *args)
    assert result.returncode == 2
    [line] = [line for line in result.stderr.splitlines() if line.strip()]
    assert line.startswith("compare.py: error: ") and message in line
