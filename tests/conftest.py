"""Shared test set-up: the real dataset (CIFAR10_DATA, as .ci/run sets it) and a per-session
cache folder, so no test writes to the user's ~/.cache and the real data is converted once; and
the helpers several test files use (`from conftest import ...`; no test file imports another)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

# Import PyTorch, and the parts it imports lazily (torch._dynamo pulls in triton, e.g. from the
# first optimizer), before TensorFlow in this one process: loading triton after TensorFlow
# crashes with a segmentation fault here. The backends themselves never share a process.
try:
    import torch  # noqa: F401
    import torch._dynamo  # noqa: F401
except ImportError:
    pass

ROOT = Path(__file__).resolve().parents[1]
# The team's folder beside the checkout (the real dataset, MobileNetV2's ImageNet weights). Users
# do not have it: a test that uses it has a path without it too, or skips with a reason, and is
# marked team_folder (.ci/run runs the suite in a clone with nothing beside it, then these again).
TEAM_FOLDER = ROOT.parent / "shared"
REAL_DATA = os.environ.get("CIFAR10_DATA") or str(TEAM_FOLDER / "data/cifar10/cifar10.npz")
NO_REAL_DATA = (f"real CIFAR-10 not found at {REAL_DATA}: set CIFAR10_DATA to cifar10.npz, "
                "cifar-10-python.tar.gz or cifar-10-batches-py/ (README, 'The data')")

from shared.config import resolve  # noqa: E402  (after torch, as above; shared imports no framework)
from shared.metrics import SCHEMA_VERSION, EpochRecord  # noqa: E402


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("xdg-cache")


@pytest.fixture
def real_data_env(monkeypatch, session_cache):
    """Environment for code (and subprocesses) that loads the real CIFAR-10."""
    if not Path(REAL_DATA).exists():
        pytest.skip(NO_REAL_DATA)
    monkeypatch.setenv("CIFAR10_DATA", REAL_DATA)
    monkeypatch.setenv("XDG_CACHE_HOME", str(session_cache))
    return REAL_DATA


@pytest.fixture(scope="module")
def real_data_env_module(session_cache):
    """real_data_env for a module-scoped fixture (one run shared by several tests)."""
    if not Path(REAL_DATA).exists():
        pytest.skip(NO_REAL_DATA)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CIFAR10_DATA", REAL_DATA)
        patch.setenv("XDG_CACHE_HOME", str(session_cache))
        yield REAL_DATA


# compare.py's commands that do not train. The others end with the training-rules check (compare.py
# verify), which the tests skip unless they test it (verify=True): each tiny recipe would be checked anew.
OTHER_COMMANDS = ("parity", "verify", "bench", "report")


def compare(*args, env=None, timeout=900, verify=False) -> subprocess.CompletedProcess:
    """compare.py run as a user runs it, in its own process, output captured."""
    trains = "--help" not in args and (not args or args[0] not in OTHER_COMMANDS)
    extra = ["--no-verify"] if trains and not verify else []
    return subprocess.run([sys.executable, str(ROOT / "compare.py"), *args, *extra], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def squeezed(markdown_table: str) -> str:
    """The table with the column padding removed: '| a    | b |' → '| a | b |'."""
    return "\n".join("| " + " | ".join(c.strip() for c in line.strip("|").split("|")) + " |"
                     for line in markdown_table.splitlines() if line.startswith("|"))


def like_a_terminal() -> None:
    """SIGINT handled by default, as under a terminal: a shell's background job (how CI may run
    the tests) starts with SIGINT ignored, and that would be inherited."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def record(**changes) -> EpochRecord:
    """A valid epoch record, with `changes` to its fields."""
    base = dict(schema_version=SCHEMA_VERSION, run_id="r1", model="cnn", variant="cifar",
                mode="scratch", backend="torch", framework_version="2.14.1", device="cpu", seed=0,
                epoch=1, train_loss=1.5, train_acc=0.45, val_loss=1.2, val_acc=0.55,
                epoch_seconds=100.0, train_images_per_sec=500.0, eval_images_per_sec=2000.0,
                peak_host_mb=900.0, peak_device_mb=None, params_total=10, params_trainable=10,
                status="ok", epochs=1)
    return EpochRecord(**{**base, **changes})


def write_run(out, name, *, seed, val_accs, epochs=2, fields=None, model="cnn", mode="scratch", **changes) -> Path:
    """A run folder as compare.py leaves it: config.json and one JSONL per backend (fields: more
    record fields, the same in every record)."""
    cfg = resolve(model, mode, epochs=epochs, seed=seed, subset=512, **changes)
    cfg.run_id = name
    run_dir = out / name
    run_dir.mkdir(parents=True)
    cfg.save(run_dir / "config.json")
    for backend, val_acc in val_accs.items():
        lines = [record(**{**dict(run_id=name, backend=backend, seed=seed, epoch=e, epochs=epochs, train_acc=0.9,
                                  val_acc=val_acc - 0.1 * (epochs - e), train_images=512, model=model, mode=mode,
                                  variant=cfg.variant, image_size=cfg.image_size),
                           **(fields or {})}).to_json()
                 for e in range(1, epochs + 1)]
        (run_dir / f"{backend}.jsonl").write_text("\n".join(lines) + "\n")
    return run_dir


@pytest.fixture(autouse=True)
def ieee_float32():
    """Every test computes in IEEE float32 whatever the device, as compare.py parity does: TF32
    off in each framework this process has imported (shared/precision.py; PyTorch's cuDNN and
    TensorFlow allow it by default)."""
    if "torch" in sys.modules:
        from pytorch_impl.device import set_precision
        set_precision(torch.device("cpu"), "fp32")
    if "tensorflow" in sys.modules:
        sys.modules["tensorflow"].config.experimental.enable_tensor_float_32_execution(False)


# A test of something only Keras on TensorFlow has (its fused kernels, tf.data, tf.distribute):
# skipped when `make test` runs the parity tests again with KERAS_BACKEND=jax.
tensorflow_only = pytest.mark.skipif(os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow",
                                     reason="TensorFlow's own kernels or input pipeline")


@pytest.fixture
def float64():
    """Keras in float64 (crosscheck.rules.keras_float64: layers, losses and, on JAX, 64-bit arrays)."""
    from crosscheck.rules import keras_float64
    with keras_float64():
        yield


def twin_training_steps(torch_model, keras_model, cfg, dtype: str, lrs, batch):
    """Train twin models (PyTorch's in training mode, in `dtype`) with cfg's optimizer and loss on
    the same batches, batch(step) → (NHWC images in dtype, labels), at the same learning rates.
    Returns the losses of both per step and the final states (PyTorch names) of both."""
    import numpy as np

    from pytorch_impl import weights as torch_weights
    from pytorch_impl.optim import make_loss, make_optimizer, set_learning_rate
    from tensorflow_impl import optim as keras_optim, weights as keras_weights

    torch_model.to(getattr(torch, dtype)).train()
    t_opt, t_loss = make_optimizer(torch_model, cfg), make_loss(cfg)
    keras_model.compile(optimizer=keras_optim.make_optimizer(cfg), loss=keras_optim.make_loss(cfg))
    losses = []
    for step, lr in enumerate(lrs):
        x, y = batch(step)
        set_learning_rate(t_opt, lr)
        loss = t_loss(torch_model(torch.from_numpy(x).permute(0, 3, 1, 2)), torch.from_numpy(y))
        t_opt.zero_grad()
        loss.backward()
        t_opt.step()
        keras_model.optimizer.learning_rate.assign(lr)
        losses.append((loss.item(), float(keras_model.train_on_batch(x, np.eye(10, dtype=dtype)[y]))))
    return losses, torch_weights.to_torch_state(torch_model), keras_weights.to_torch_state(keras_model)
