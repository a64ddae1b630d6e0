"""The metric schema, the schedule and the report: round trips, rejection, fixed definitions."""

import json
from dataclasses import asdict

import pytest

from shared.config import MODELS, RunConfig, resolve
from shared.metrics import UNMEASURED, SchemaError, rate_cell, read_jsonl, validate
from shared.reporting.tables import append_summary, markdown, parity_verdict, table_rows
from shared.schedule import learning_rate


from conftest import record


def test_record_round_trip():
    original = record()
    assert validate(json.loads(original.to_json())) == original


@pytest.mark.parametrize("field", ["val_acc", "status", "params_total", "schema_version"])
def test_record_missing_a_field_is_rejected(field):
    data = asdict(record())
    del data[field]
    with pytest.raises(SchemaError, match=f"missing fields: {field}"):
        validate(data)


@pytest.mark.parametrize("changes, message", [
    ({"val_acc": 55.0}, "not a fraction"),           # a percentage where a fraction belongs
    ({"backend": "mxnet"}, "not torch, tensorflow or jax"),
    ({"schema_version": 99}, "expected 1"),
    ({"train_loss": "low"}, "not a number"),
])
def test_record_with_a_bad_value_is_rejected(changes, message):
    with pytest.raises(SchemaError, match=message):
        validate({**asdict(record()), **changes})


def test_jsonl_reader_skips_and_names_bad_lines(tmp_path):
    path = tmp_path / "torch.jsonl"
    good = record().to_json()
    path.write_text(good + "\n" + '{"schema_version": 1, "run_id": "x"}\n' + good[: len(good) // 2])
    records, problems = read_jsonl(path)
    assert records == [record()]
    assert len(problems) == 2 and f"{path}:2" in problems[0] and f"{path}:3" in problems[1]


def test_onecycle_schedule_values():
    lr = lambda step: learning_rate(step, 100, peak_lr=1.0, schedule="onecycle", warmup_fraction=0.2)  # noqa: E731
    assert lr(0) == pytest.approx(0.1)
    assert lr(10) == pytest.approx(0.55)
    assert lr(20) == pytest.approx(1.0)
    assert lr(60) == pytest.approx(0.5)
    assert lr(100) == 0.0


def test_cosine_schedule_values():
    lr = lambda step: learning_rate(step, 110, peak_lr=1.0, schedule="cosine", warmup_fraction=1 / 11)  # noqa: E731
    assert lr(0) == pytest.approx(0.1)
    assert lr(10) == pytest.approx(1.0)
    assert lr(60) == pytest.approx(0.5)            # half-way through the decay
    assert lr(35) == pytest.approx(0.5 + 0.5 * 2 ** -0.5)
    assert lr(110) == pytest.approx(0.0)
    with pytest.raises(ValueError, match="known: constant, onecycle, cosine"):
        learning_rate(0, 10, peak_lr=1.0, schedule="step", warmup_fraction=0.1)


def test_recipes_per_mode():
    """Every model has a scratch recipe; the pretrained modes use the imagenet variant and
    exist for the four torchvision models; the linear probe trains without augmentation."""
    assert all(resolve(m).variant == "cifar" and resolve(m).mode == "scratch" for m in MODELS)
    for mode in ("finetune", "linear-probe"):
        for model in ("alexnet", "mobilenet", "resnet18", "vit"):
            cfg = resolve(model, mode)
            assert (cfg.mode, cfg.variant, cfg.pretrained, cfg.image_size) == (mode, "imagenet", True, 224)
        with pytest.raises(KeyError, match=f"no {mode} recipe for 'cnn'"):
            resolve("cnn", mode)
    assert not resolve("vit", "linear-probe").crop and not resolve("vit", "linear-probe").flip
    assert resolve("vit", "finetune", variant="cifar").variant == "cifar"


def test_eval_batch_follows_the_input_side():
    assert resolve("cnn").eval_batch_size == 500
    assert resolve("mobilenet", "finetune").eval_batch_size == 25
    assert resolve("resnet18", "finetune", image_size=128).eval_batch_size == 76
    assert resolve("resnet18", "finetune", eval_batch_size=64).eval_batch_size == 64


def test_resolve_uses_recipe_then_overrides_and_rejects_unknown_models():
    cfg = resolve("cnn", epochs=3, lr=None)
    assert cfg.epochs == 3 and cfg.lr == resolve("cnn").lr
    assert RunConfig.from_json(cfg.to_json()) == cfg
    with pytest.raises(KeyError, match="known: cnn"):
        resolve("vgg")


def test_table_and_parity_verdict():
    runs = {"torch": [record(val_acc=0.85, epoch=1, epochs=1)],
            "tensorflow": [record(backend="tensorflow", val_acc=0.87, epoch=1, epochs=1)]}
    table = markdown(table_rows(runs, "cnn", {}))
    assert "| cnn (cifar, scratch) | PyTorch" in table and "85.00%" in table and "87.00%" in table
    finals = {b: r[-1] for b, r in runs.items()}
    assert "AGREE" in parity_verdict(finals, 2.5) and "-2.00 points" in parity_verdict(finals, 2.5)
    # Outside ±1.5 points, but within what seed noise gives one run per backend: never DIFFER.
    assert parity_verdict(finals, 1.5).startswith("Parity: UNDECIDED — Δ validation accuracy (PyTorch − Keras) = "
                                                  "-2.00 points: outside ±1.5 points, but within the ±8.6 points")
    assert "seeds per backend (--seeds" in parity_verdict(finals, 1.5) and "DIFFER" not in parity_verdict(finals, 1.5)
    far = {**finals, "tensorflow": record(backend="tensorflow", val_acc=0.70, epoch=1, epochs=1)}
    assert parity_verdict(far, 1.5).startswith("Parity: DIFFER — Δ validation accuracy (PyTorch − Keras) = +15.00 points")
    assert "not assessed" in parity_verdict({"torch": finals["torch"], "tensorflow": None})
    assert "Start:" not in parity_verdict(finals, 2.5)  # records without an initial loss


@pytest.mark.parametrize("keras_loss, verdict", [(2.30259, "Start: SAME"), (2.3029, "Start: DIFFERENT")])
def test_start_line_compares_step0_losses(keras_loss, verdict):
    finals = {"torch": record(initial_loss=2.302585),
              "tensorflow": record(backend="tensorflow", initial_loss=keras_loss)}
    assert verdict in parity_verdict(finals)
    assert "PyTorch 2.302585" in parity_verdict(finals)


def test_failed_backend_row_shows_the_reason():
    table = markdown(table_rows({"torch": [], "tensorflow": [record(backend="tensorflow")]}, "cnn",
                                {"torch": "failed: torch not installed"}))
    assert "failed: torch not installed" in table


def test_summary_csv_appends_rows(tmp_path):
    import pandas as pd
    path = tmp_path / "summary.csv"
    append_summary(path, [record()])
    append_summary(path, [record(run_id="r2"), record(run_id="r2", backend="tensorflow")])
    frame = pd.read_csv(path)
    assert list(frame.run_id) == ["r1", "r2", "r2"] and list(frame.backend) == ["torch", "torch", "tensorflow"]


def test_steady_state_throughput_leaves_out_warm_up_batches():
    import math

    from shared.metrics import steady_images_per_sec
    assert steady_images_per_sec(25, 5, 100, 4.0) == 500.0      # 20 timed batches of 100 in 4 s
    assert math.isnan(steady_images_per_sec(5, 5, 100, 1.0))    # nothing left to time
    assert math.isnan(steady_images_per_sec(25, 5, 100, None))  # the warm-up never ended


@pytest.mark.parametrize("rate, grouped, cell", [
    (1.16, False, "1.16"),     # ViT-B/16 at 224×224 on a CPU: not "1"
    (7.83, True, "7.83"),
    (64.4, False, "64"),
    (1621.4, False, "1621"),   # the training tables' style
    (1621.4, True, "1,621"),   # the bench table's
    (float("nan"), True, UNMEASURED),
])
def test_img_per_sec_cells_keep_three_figures_below_ten(rate, grouped, cell):
    assert rate_cell(rate, grouped) == cell
