"""finetune and linear-probe: ImageNet weights through torchvision's enums, one source for both
backends, the offline message, and the frozen backbone of a linear probe.

The loading code that users run is the code tested: weights are made by the tests and put where
torch.hub looks ($TORCH_HOME/hub/checkpoints), plus a real MobileNetV2 file where one exists: on
the team's own machines, the folder ../shared/weights beside the checkout (users do not have it)."""

import os
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from shared import provenance
from shared.backends import BACKENDS, BOTH
from shared.config import resolve
from shared.metrics import read_jsonl
from shared.run import IMAGENET_MEAN, IMAGENET_STD

from conftest import TEAM_FOLDER, compare

REAL_MOBILENET = TEAM_FOLDER / "weights/mobilenet_v2-qnnpack_v1-dequant-calibbn.pth"
# bf16 is native with AVX512_BF16 or AMX; on a CPU with AVX2 only, each framework emulates it and
# rounds at its own points, so the two backends' bf16 losses agree less closely there
# (docs/reliability.md, "Promises per CPU").
NATIVE_BF16 = bool({"avx512_bf16", "amx_bf16"} & set(provenance.cpu()["flags"]))
BF16_LOSS_TOLERANCE = 1e-3 if NATIVE_BF16 else 5e-3
TINY = ["--epochs", "1", "--subset", "32", "--batch-size", "16", "--val-split", "16"]


@pytest.fixture
def torch_home(tmp_path, monkeypatch):
    """An empty torch.hub folder, and no network: a proxy that refuses at once."""
    home = tmp_path / "torch-home"
    monkeypatch.setenv("TORCH_HOME", str(home))
    for var in ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")
    return home


def place_enum_weights(torch_home: Path, model: str, seed: int = 7) -> Path:
    """A state_dict of torchvision's architecture (1000 classes, seeded) saved under the file name
    the model's default enum member downloads to."""
    import torchvision

    from pytorch_impl.pretrained import DEFAULT_WEIGHTS, TORCHVISION_NAME, weights_enum

    member = weights_enum(model)[DEFAULT_WEIGHTS[model]]
    torch.manual_seed(seed)
    net = torchvision.models.get_model(TORCHVISION_NAME[model], weights=None)
    path = torch_home / "hub" / "checkpoints" / os.path.basename(member.url)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(net.state_dict(), path)
    return path


def test_torchvision_weights_expect_imagenet_statistics():
    from pytorch_impl.pretrained import DEFAULT_WEIGHTS, weights_enum

    for model, member in DEFAULT_WEIGHTS.items():
        transform = weights_enum(model)[member].transforms()
        np.testing.assert_allclose(np.array(transform.mean) * 255, IMAGENET_MEAN)
        np.testing.assert_allclose(np.array(transform.std) * 255, IMAGENET_STD)


def test_offline_without_weights_exits_4_naming_file_url_and_folder(real_data_env, torch_home, tmp_path):
    out = tmp_path / "results"
    result = compare("--model", "resnet18", "--mode", "finetune", *TINY, "--out", str(out))
    assert result.returncode == 4, result.stderr[-2000:]
    [line] = [l for l in result.stderr.splitlines() if l.strip()]
    assert "resnet18-f37072fd.pth" in line
    assert "https://download.pytorch.org/models/resnet18-f37072fd.pth" in line
    assert str(torch_home / "hub" / "checkpoints") in line
    assert not any(p.is_dir() for p in out.iterdir())  # nothing trained, no run folder left


@pytest.mark.parametrize("spec, message", [
    ("IMAGENET1K_V9", "not a member of ResNet18_Weights (known: IMAGENET1K_V1, DEFAULT)"),
    ("missing.pth", "--weights missing.pth: no such file"),
])
def test_bad_weights_argument(spec, message):
    from pytorch_impl.pretrained import WeightsError, resolve_weights

    with pytest.raises(WeightsError, match=re.escape(message)):
        resolve_weights("resnet18", spec)


def test_weights_of_another_architecture_are_refused_in_one_line(torch_home):
    from pytorch_impl.models import build_model
    from pytorch_impl.pretrained import WeightsError, load_backbone, read_state, resolve_weights

    path = place_enum_weights(torch_home, "resnet18")
    state, _ = read_state(resolve_weights("mobilenet", str(path)))
    with pytest.raises(WeightsError, match="do not fit mobilenet's architecture: missing features.0.0.weight"):
        load_backbone(build_model("mobilenet", variant="imagenet"), "mobilenet", state)


def test_enum_weights_from_torch_home_start_both_backends(real_data_env, torch_home, tmp_path):
    """The default enum member, found where torch.hub keeps it: both backends record the same
    source (with the file's hash), and the backbone is the file's, the head the seeded one."""
    from pytorch_impl.pretrained import sha256_prefix
    from shared.weights_io import load_arrays

    path = place_enum_weights(torch_home, "resnet18")
    out = tmp_path / "results"
    result = compare("--model", "resnet18", "--mode", "finetune", *TINY, "--out", str(out))
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    [run_dir] = [p for p in out.iterdir() if p.is_dir()]
    source = f"ResNet18_Weights.IMAGENET1K_V1@sha256:{sha256_prefix(path)}+head-seed0"
    for backend in ("torch", "tensorflow"):
        [record], problems = read_jsonl(run_dir / f"{backend}.jsonl")
        assert problems == [] and record.status == "ok"
        assert (record.mode, record.variant, record.init) == ("finetune", "imagenet", source)
    losses = [read_jsonl(run_dir / f"{b}.jsonl")[0][0].initial_loss for b in ("torch", "tensorflow")]
    assert losses[1] == pytest.approx(losses[0], rel=1e-4) and "Start: SAME" in result.stdout
    initial = load_arrays(run_dir / "initial_weights.npz")
    state = torch.load(path, weights_only=True)
    np.testing.assert_array_equal(initial["layer4.1.conv2.weight"], state["layer4.1.conv2.weight"].numpy())
    assert initial["fc.weight"].shape == (10, 512)
    assert "| resnet18 (imagenet, finetune) | PyTorch" in result.stdout


@pytest.mark.team_folder
@pytest.mark.skipif(not REAL_MOBILENET.exists(), reason="no real MobileNetV2 file (the team's folder beside the checkout)")
def test_real_mobilenet_weights_give_the_same_first_batch_loss(real_data_env, tmp_path):
    """Acceptance 2's check on the real file: from the run's initial weights, the loss of the
    first planned batch (224×224, ImageNet statistics, BatchNorm in training mode, dropout off)
    is the same in both backends within 1e-4."""
    import tensorflow_impl  # noqa: F401
    import keras

    from pytorch_impl.data import to_batch, to_labels
    from pytorch_impl.init_weights import make_initial_weights
    from pytorch_impl.models import build_model as torch_model
    from pytorch_impl.optim import make_loss
    from pytorch_impl.weights import load_torch_state as torch_load_state
    from shared.batch_plan import epoch_plan, train_batch
    from shared.run import load_split, normalization
    from shared.weights_io import load_arrays
    from tensorflow_impl.data import to_batch as keras_batch
    from tensorflow_impl.models import build_model as keras_model
    from tensorflow_impl.optim import make_loss as keras_loss
    from tensorflow_impl.weights import load_torch_state as keras_load_state

    cfg = resolve("mobilenet", "finetune", weights=str(REAL_MOBILENET), subset=64, val_split=16)
    make_initial_weights(cfg, tmp_path)
    assert "file:mobilenet_v2-qnnpack_v1-dequant-calibbn.pth@sha256:2d84bc3298f5" in (tmp_path / "initial_weights.txt").read_text()
    arrays = load_arrays(tmp_path / "initial_weights.npz")
    split = load_split(cfg)
    plan = epoch_plan(cfg.seed, 1, len(split.x_train), crop=cfg.crop, flip=cfg.flip)
    images, labels = train_batch(split.x_train, split.y_train, plan, plan.batch_slices(16)[0])

    net = torch_model("mobilenet", variant="imagenet")
    torch_load_state(net, arrays)
    net.classifier[0].p = 0.0
    with torch.no_grad():
        torch_loss = make_loss(cfg)(net.train()(to_batch(images, "cpu", 224, *normalization(cfg))),
                                    to_labels(labels)).item()
    model = keras_model("mobilenet", variant="imagenet")
    keras_load_state(model, arrays)
    model.get_layer("classifier.0").rate = 0.0
    logits = model(keras_batch(images, 224, *normalization(cfg)), training=True)
    keras_value = float(keras_loss(cfg)(np.eye(10, dtype=np.float32)[labels], logits))
    assert abs(keras_value - torch_loss) <= 1e-4 * abs(torch_loss)


def mobilenet_weights(torch_home: Path) -> str:
    """The real MobileNetV2 file where the team's folder has one, else a seeded stand-in in
    torchvision's layout under $TORCH_HOME (a user's clone, and CI's run as a user has it)."""
    return str(REAL_MOBILENET) if REAL_MOBILENET.exists() else str(place_enum_weights(torch_home, "mobilenet"))


@pytest.mark.team_folder
def test_linear_probe_trains_only_the_head_in_both_backends(real_data_env, torch_home, tmp_path):
    """Frozen backbone (inference mode), a trainable 10-class head, the same in both backends:
    equal trainable counts and, from the same start on the same batches, the same losses; the
    features path gives the full path's result, and a second run takes the features from the
    cache with the same result. Keras on JAX runs the features path too, with PyTorch's losses."""
    weights = mobilenet_weights(torch_home)

    def probe(path, backends=BOTH):
        out = tmp_path / path
        result = compare("--model", "mobilenet", "--mode", "linear-probe", "--weights", weights,
                         "--probe", path.split("-")[0], "--backend", ",".join(backends), "--epochs", "2",
                         "--subset", "32", "--batch-size", "16", "--val-split", "16", "--out", str(out))
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
        [run_dir] = [p for p in out.iterdir() if p.is_dir()]
        return {b: read_jsonl(run_dir / f"{b}.jsonl")[0] for b in backends}, result.stdout

    features, log = probe("features", BACKENDS)  # and Keras on JAX, from the same cached-features code
    assert "[torch] train features extracted: 32 images" in log
    assert "[tensorflow] val features extracted: 16 images" in log
    assert "[jax] train features extracted: 32 images" in log
    assert re.search(r"backbone feature extraction PyTorch \d+ img/s, TensorFlow/Keras \d+ img/s, JAX/Keras \d+ img/s", log)
    assert_same_losses(features["torch"], features.pop("jax"))
    full, _ = probe("full")
    cached, log = probe("features-again")
    assert "[torch] train features from the cache (1280-d)" in log
    assert "[tensorflow] train features from the cache (1280-d)" in log
    assert "backbone feature extraction" not in log

    for runs in (features, full, cached):
        for records in runs.values():
            assert [r.epoch for r in records] == [1, 2]
            assert (records[-1].params_total, records[-1].params_trainable) == (2_236_682, 1280 * 10 + 10)
        assert_same_losses(runs["torch"], runs["tensorflow"])
    for backend in ("torch", "tensorflow"):
        assert_same_losses(features[backend], full[backend])
        assert [r.probe for r in full[backend]] == ["full"] * 2
        assert [r.probe for r in features[backend]] == ["features"] * 2
        assert features[backend][0].feature_images_per_sec > 0 and cached[backend][0].feature_images_per_sec is None
        assert [r.val_loss for r in cached[backend]] == [r.val_loss for r in features[backend]]


def assert_same_losses(want, got):
    for a, b in zip(want, got):
        assert b.train_loss == pytest.approx(a.train_loss, rel=1e-4)
        assert b.val_loss == pytest.approx(a.val_loss, rel=1e-4)
        assert b.train_acc == a.train_acc


def test_feature_cache_is_keyed_by_what_the_features_depend_on(monkeypatch, tmp_path):
    from shared.features import backbone_source, feature_key, load_features, save_features

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    cfg = resolve("resnet18", "linear-probe", subset=100)
    key = lambda **kw: feature_key(**{**dict(cfg=cfg, backend="torch", framework_version="2.14.1",  # noqa: E731
                                            weights="w@sha256:abc", part="train"), **kw})
    assert key() == key()
    others = [key(backend="tensorflow"), key(framework_version="2.15.0"), key(weights="w@sha256:abd"),
              key(part="val"), key(cfg=resolve("resnet18", "linear-probe", subset=200)),
              key(cfg=resolve("mobilenet", "linear-probe", subset=100))]
    assert len({key(), *others}) == 1 + len(others)
    assert backbone_source("f.pth@sha256:abc+head-seed3") == "f.pth@sha256:abc"

    assert load_features(key()) is None
    features = np.arange(12, dtype=np.float32).reshape(3, 4)
    save_features(key(), features)
    np.testing.assert_array_equal(load_features(key()), features)
    (tmp_path / "cifar10-compare" / "features" / f"{key()}.npy").write_bytes(b"truncated")
    assert load_features(key()) is None  # unreadable: extracted again


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_feature_extraction_runs_at_the_runs_precision(precision):
    """PyTorch extracts a linear probe's features under the run's autocast, as its evaluation
    does and as Keras does under its global policy: --precision bf16 is bf16 features, not fp32
    ones that only the head's training sees in bf16."""
    from pytorch_impl.models import build_model
    from pytorch_impl.probe import extract, split_head

    cfg = resolve("resnet18", "linear-probe", image_size=32, precision=precision, eval_batch_size=4)
    torch.manual_seed(0)
    backbone, _ = split_head(build_model("resnet18", variant="imagenet", image_size=32), "resnet18")
    images = np.random.default_rng(0).integers(0, 256, (8, 32, 32, 3), dtype=np.uint8)
    features, rate = extract(backbone, images, cfg, torch.device("cpu"))

    from pytorch_impl.data import to_batch
    from shared.run import normalization
    x = to_batch(images, torch.device("cpu"), 32, *normalization(cfg))
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
        expected = torch.cat([backbone(x[:4]), backbone(x[4:])]).float().numpy()
    assert features.dtype == np.float32 and features.shape == (8, 512) and rate > 0
    np.testing.assert_array_equal(features, expected)
    if precision == "bf16":  # and not fp32's: bf16 keeps 8 bits of mantissa
        with torch.inference_mode():
            assert not np.allclose(features, backbone(x).numpy(), rtol=1e-4, atol=1e-4)


@pytest.mark.team_folder
def test_bf16_linear_probe_gives_the_same_losses_in_both_backends(real_data_env, torch_home, tmp_path):
    """In bf16 both backends extract and fit the head in bf16 (PyTorch under autocast, Keras under
    mixed_bfloat16), end to end: the losses agree within BF16_LOSS_TOLERANCE (the unit test above
    pins the precision of the extraction itself)."""
    weights = mobilenet_weights(torch_home)
    result = compare("--model", "mobilenet", "--mode", "linear-probe", "--weights", weights, "--precision", "bf16",
                     "--image-size", "64", *TINY, "--out", str(tmp_path / "results"))
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    [run_dir] = [p for p in (tmp_path / "results").iterdir() if p.is_dir()]
    torch_run, keras_run = (read_jsonl(run_dir / f"{b}.jsonl")[0] for b in ("torch", "tensorflow"))
    for a, b in zip(torch_run, keras_run):
        assert a.precision == b.precision == "bf16"
        assert b.train_loss == pytest.approx(a.train_loss, rel=BF16_LOSS_TOLERANCE)
        assert b.val_loss == pytest.approx(a.val_loss, rel=BF16_LOSS_TOLERANCE)
