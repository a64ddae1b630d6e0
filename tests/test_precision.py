"""One precision policy in both backends (shared/precision.py): which framework switches each
--precision sets, read back from the frameworks themselves. A CPU has no TF32, so the GPU is faked
the way the device tests fake it (the switches are process-wide settings either way)."""

from __future__ import annotations

import pytest
import torch

import tensorflow_impl  # noqa: F401  (TensorFlow's environment first)
import keras
import tensorflow as tf

from conftest import compare
from pytorch_impl import device as torch_device
from shared.metrics import BenchRecord
from shared.precision import KERAS_POLICIES, PRECISIONS
from shared.reporting.tables import bench_settings_line
from tensorflow_impl import device as keras_device

H200 = ("NVIDIA H200", (9, 0))
T4 = ("Tesla T4", (7, 5))


@pytest.fixture
def fake_gpu(monkeypatch):
    """Both frameworks see one GPU of the given (name, compute capability)."""
    def install(name, capability):
        monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: name)
        monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
        monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: ["GPU:0"] if kind == "GPU" else [])
        monkeypatch.setattr(tf.config.experimental, "get_device_details",
                            lambda gpu: {"device_name": name, "compute_capability": capability})
    yield install
    keras.mixed_precision.set_global_policy("float32")


@pytest.mark.parametrize("precision", PRECISIONS)
def test_each_precision_sets_the_same_float32_math_in_both_frameworks(fake_gpu, precision):
    fake_gpu(*H200)
    cuda = torch.device("cuda")
    # Each framework's own default first: PyTorch's cuDNN and TensorFlow allow TF32.
    torch.backends.cudnn.allow_tf32 = True
    tf.config.experimental.enable_tensor_float_32_execution(True)

    torch_device.set_precision(cuda, precision)
    keras_device.set_precision("cuda", precision)

    tf32 = precision == "tf32"
    assert torch.backends.cuda.matmul.allow_tf32 is tf32 and torch.backends.cudnn.allow_tf32 is tf32
    assert tf.config.experimental.tensor_float_32_execution_enabled() is tf32
    assert torch.backends.cudnn.benchmark is True
    expected = f"fp32 {'tf32' if tf32 else 'ieee'}, autotune on"
    assert torch_device.gpu_math(cuda) == keras_device.gpu_math("cuda") == expected
    assert keras.mixed_precision.global_policy().name == KERAS_POLICIES[precision]
    # PyTorch applies mixed precision per step: autocast only for bf16 and fp16.
    assert isinstance(torch_device.autocast(torch.device("cpu"), precision), torch.autocast) is (precision in ("bf16", "fp16"))


def test_the_records_name_no_gpu_math_on_the_cpu():
    assert torch_device.gpu_math(torch.device("cpu")) is None and keras_device.gpu_math("cpu") is None


def test_tensorflow_autotunes_as_pytorch_does():
    """TensorFlow reads TF_CUDNN_USE_AUTOTUNE when it starts, so tensorflow_impl sets it on import,
    whatever the user's environment said."""
    import os
    assert os.environ["TF_CUDNN_USE_AUTOTUNE"] == "1"


def test_tf32_is_refused_where_it_does_not_exist(fake_gpu):
    for check in (lambda: torch_device.set_precision(torch.device("cpu"), "tf32"),
                  lambda: keras_device.set_precision("cpu", "tf32")):
        with pytest.raises(RuntimeError, match=r"^--precision tf32 needs a CUDA GPU with TF32 \(Ampere or newer\); "
                                               r"on a CPU use fp32, which is the same math$"):
            check()
    fake_gpu(*T4)  # Turing: TF32 does not exist, and running fp32 under its name would mislead
    for check in (lambda: torch_device.set_precision(torch.device("cuda"), "tf32"),
                  lambda: keras_device.set_precision("cuda", "tf32")):
        with pytest.raises(RuntimeError, match=r"^--precision tf32 needs compute capability 8\.0 or more \(Ampere\); "
                                               r"Tesla T4 has 7\.5 and no TF32: use fp32$"):
            check()
    torch_device.set_precision(torch.device("cuda"), "fp32")  # fp32 itself runs there
    keras_device.set_precision("cuda", "fp32")


def test_the_tests_compute_in_ieee_float32():
    """conftest's autouse fixture, as compare.py parity (crosscheck.layers.ieee_float32): the
    parity tolerances are float32's, so TF32 is off whatever the device."""
    assert not torch.backends.cuda.matmul.allow_tf32 and not torch.backends.cudnn.allow_tf32
    assert not tf.config.experimental.tensor_float_32_execution_enabled()


def test_compare_refuses_tf32_without_a_gpu_in_one_line(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    result = compare("--model", "cnn", "--precision", "tf32", "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "compare.py: error: --precision tf32 needs a CUDA GPU, and PyTorch and TensorFlow/Keras sees none; "
        "use --device cpu with --precision fp32 or bf16"]
    assert not (tmp_path / "out").exists()


def bench_record(backend: str, gpu_math: str | None) -> BenchRecord:
    return BenchRecord(
        schema_version=1, run_id="r", model="cnn", variant="cifar", backend=backend, framework_version="x",
        device="cuda", batch_size=128, precision="fp32", compiled=False, layout="channels_last", image_size=32,
        params_total=1, compute_images_per_sec=1.0, train_images_per_sec=1.0, pipeline_efficiency=1.0,
        eval_images_per_sec=1.0, latency_ms_batch1=1.0, pipeline_cpu_ms_per_batch=1.0, peak_host_mb=1.0,
        baseline_host_mb=1.0, peak_device_mb=1.0, data_load_seconds=1.0, timing="t", status="ok", gpu_math=gpu_math)


def test_the_bench_names_the_gpu_math_and_warns_where_the_backends_differ():
    same = bench_settings_line([bench_record("torch", "fp32 ieee, autotune on"),
                                bench_record("tensorflow", "fp32 ieee, autotune on")])
    assert "GPU math fp32 ieee, autotune on" in same and "Warning" not in same
    differ = bench_settings_line([bench_record("torch", "fp32 ieee, autotune on"),
                                  bench_record("tensorflow", "fp32 tf32, autotune on")])
    assert "Warning: the rows differ in gpu_math: not a like-for-like comparison." in differ
