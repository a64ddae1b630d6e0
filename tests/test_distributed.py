"""Data-parallel training on the frameworks' engines (shared/distributed.py): 2 gloo processes
(torchrun + DDP) and MirroredStrategy over 2 logical CPUs train the weights that one device
trains on the same global batches; a rank that dies ends the run in one line with the finished
epochs kept; the table shows scaling efficiency."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from shared.distributed import batch_problem, scaling_efficiency, scaling_settings, shard
from shared.metrics import EpochRecord, read_jsonl
from shared.reporting.tables import table_rows

from conftest import ROOT, compare, like_a_terminal

# 8 steps of 64 images per epoch; BatchNorm everywhere in the CNN, no dropout. lr 0.01: at 0.05 its
# loss climbs to 4.5 in the first epoch, where float32 rounding is amplified most.
RUN = ["--model", "cnn", "--subset", "512", "--batch-size", "64", "--lr", "0.01", "--val-split", "256",
       "--device", "cpu"]


def test_the_replicas_slices_are_the_global_batch_in_order():
    where = slice(128, 192)
    parts = [shard(where, rank, 4) for rank in range(4)]
    assert [(p.start, p.stop) for p in parts] == [(128, 144), (144, 160), (160, 176), (176, 192)]


def test_a_batch_that_does_not_split_over_the_devices_is_refused(real_data_env, tmp_path):
    assert batch_problem(128, 2) is None
    result = compare(*RUN, "--devices", "3", "--out", str(tmp_path / "results"))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "compare.py: error: --batch-size 64 does not split over --devices 3: the global batch must be a multiple "
        "of the device count (each device trains batch_size ÷ devices images per step)"]
    assert not (tmp_path / "results").exists() or not any((tmp_path / "results").iterdir())


def test_scaling_efficiency_divides_by_n_single_devices():
    assert scaling_efficiency(300.0, 2, 200.0) == 0.75
    assert scaling_efficiency(300.0, 1, 200.0) is None  # one device: nothing to scale
    assert scaling_efficiency(300.0, 2, None) is None   # not measured (an epoch too short to time)
    assert scaling_settings(4) is None
    assert scaling_settings(8).steps <= 8 and scaling_settings(1000).steps == 12


def record(backend: str, epoch: int, images_per_sec: float, world_size: int, single: float | None) -> EpochRecord:
    return EpochRecord(
        schema_version=1, run_id="r", model="cnn", variant="cifar", mode="scratch", backend=backend,
        framework_version="x", device="cuda", seed=0, epoch=epoch, train_loss=1.0, train_acc=0.5, val_loss=1.0,
        val_acc=0.5, epoch_seconds=10.0, train_images_per_sec=images_per_sec, eval_images_per_sec=1000.0,
        peak_host_mb=1.0, peak_device_mb=1.0, params_total=1, params_trainable=1, status="ok", epochs=2,
        world_size=world_size, train_images_per_sec_per_device=images_per_sec / world_size,
        single_device_images_per_sec=single)


def test_the_table_shows_scaling_for_runs_on_several_devices():
    runs = {"torch": [record("torch", 1, 700.0, 4, 250.0), record("torch", 2, 760.0, 4, 250.0)],
            "tensorflow": [record("tensorflow", 1, 500.0, 4, 200.0), record("tensorflow", 2, 540.0, 4, 200.0)]}
    rows = table_rows(runs, "cnn", {}).set_index("Backend")
    assert rows.loc["PyTorch", "Devices"] == "4"
    assert rows.loc["PyTorch", "Per-device img/s"] == "182"        # median over epochs (730) ÷ 4
    assert rows.loc["PyTorch", "1-device img/s"] == "250"
    assert rows.loc["PyTorch", "Scaling efficiency"] == "0.730"    # 730 ÷ (4 × 250)
    assert rows.loc["TensorFlow/Keras", "Scaling efficiency"] == "0.650"
    one_device = {"torch": [record("torch", 1, 700.0, 1, None)]}
    assert "Scaling efficiency" not in table_rows(one_device, "cnn", {}).columns


def check(backend: str, devices: int, tmp_path: Path) -> dict[str, np.ndarray]:
    """tests/distributed_check.py's arrays, run on `devices` devices (torchrun for PyTorch)."""
    out = tmp_path / f"{backend}-{devices}.npz"
    torchrun = (["-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={devices}"]
                if backend != "tensorflow" and devices > 1 else [])
    result = subprocess.run([sys.executable, *torchrun, str(ROOT / "tests" / "distributed_check.py"), backend,
                             str(devices), str(out)], cwd=ROOT, capture_output=True, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"} if torchrun else None)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    with np.load(out) as data:
        return dict(data)


@pytest.mark.parametrize("backend", ["torch", "tensorflow"])
def test_two_devices_train_the_weights_of_one(real_data_env, tmp_path, backend):
    """PyTorch: 2 gloo processes under torchrun, DistributedDataParallel. Keras: MirroredStrategy
    over 2 logical CPU devices. Each against one device, 8 steps of the same global batches."""
    one, two = check(backend, 1, tmp_path), check(backend, 2, tmp_path)
    assert one.keys() == two.keys()
    finals = [name for name in one if name.startswith("final/")]
    assert len(finals) == 6
    for name in finals:
        np.testing.assert_allclose(two[name], one[name], rtol=0, atol=1e-5, err_msg=name)
        assert np.abs(one[name] - one[name.replace("final/", "initial/")]).max() > 1e-3, name  # they trained


def test_gloo_sync_batch_norm_is_batch_norm_of_the_global_batch(tmp_path):
    diffs = check("batchnorm", 2, tmp_path)
    assert set(diffs) == {"output", "input_grad", "weight_grad", "bias_grad", "running_mean", "running_var"}
    for name, diff in diffs.items():
        assert diff < 1e-5, (name, float(diff))


def run_folder(out: Path) -> Path:
    [run_dir] = [p for p in out.iterdir() if p.is_dir()]
    return run_dir


# One worker for the whole module under pytest-xdist (make test), so the one- and two-device runs
# below are made once.
pytestmark = pytest.mark.xdist_group("distributed")


@pytest.fixture(scope="module")
def one_and_two_devices(real_data_env_module, tmp_path_factory):
    """The CNN, one epoch (8 steps), both backends, on one device and on two."""
    runs = {}
    for devices in (1, 2):
        out = tmp_path_factory.mktemp(f"devices{devices}")
        result = compare(*RUN, "--epochs", "1", "--backend", "both", "--devices", str(devices), "--out", str(out))
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        runs[devices] = (run_folder(out), result)
    return runs


@pytest.mark.parametrize("backend", ["torch", "tensorflow"])
def test_the_cnn_on_two_devices_records_its_scaling(one_and_two_devices, backend):
    run_dir, result = one_and_two_devices[2]
    [one] = read_jsonl(one_and_two_devices[1][0] / f"{backend}.jsonl")[0]
    [two] = read_jsonl(run_dir / f"{backend}.jsonl")[0]
    assert (one.world_size, two.world_size) == (1, 2) and two.status == "ok"
    assert one.single_device_images_per_sec is None and two.single_device_images_per_sec > 0
    assert two.train_images_per_sec_per_device == pytest.approx(two.train_images_per_sec / 2)
    # The same start and the same batches. The CNN's first steps amplify float32 rounding (see
    # tests/distributed_check.py), so the epoch's mean loss agrees to about 0.2 %, not to 1e-5.
    assert two.initial_loss == one.initial_loss
    assert two.train_loss == pytest.approx(one.train_loss, rel=0.01)
    assert "Scaling efficiency" in result.stdout and "× 2 devices" in result.stdout
    assert not list(run_dir.glob("*.log"))  # no rank crashed


def processes_with(environ_entry: bytes, text: str) -> list[int]:
    pids = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if text.encode() in (proc / "cmdline").read_bytes() and environ_entry in (proc / "environ").read_bytes().split(b"\0"):
                pids.append(int(proc.name))
        except OSError:
            continue
    return pids


def test_a_rank_that_dies_ends_the_run_in_one_line_with_the_finished_epochs_kept(real_data_env, tmp_path):
    out = tmp_path / "results"
    proc = subprocess.Popen([sys.executable, str(ROOT / "compare.py"), *RUN, "--epochs", "30", "--backend", "torch",
                             "--devices", "2", "--out", str(out)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True, preexec_fn=like_a_terminal)
    deadline = time.time() + 600
    while time.time() < deadline:
        runs = [p for p in out.iterdir() if p.is_dir()] if out.exists() else []
        if runs and (runs[0] / "torch.ckpt").exists():
            break
        assert proc.poll() is None, "the run ended before a rank could be killed"
        time.sleep(0.05)
    [rank1] = processes_with(b"RANK=1", str(runs[0]))
    os.kill(rank1, signal.SIGKILL)
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 1
    assert "[torch] rank 1 of the data-parallel run failed (killed by SIGKILL); the other ranks were stopped" in stderr
    assert "Traceback" not in stderr
    records, problems = read_jsonl(runs[0] / "torch.jsonl")
    assert problems == [] and 1 <= len(records) < 30 and records[-1].status == "ok"
    assert "rank 1 of the data-parallel run failed" in stdout  # the table's status column
    assert processes_with(b"RANK=0", str(runs[0])) == []  # no rank outlives the run
