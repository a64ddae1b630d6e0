"""Kill a run for real (SIGKILL, mid-epoch), resume it, and get exactly the records of a run that
was never interrupted — in each backend, Keras on JAX included. That is also the same-seed
promise: the killed run's first epoch is trained afresh from the same seed, and must equal the
uninterrupted run's to the last bit."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from shared.backends import BACKENDS
from shared.metrics import read_jsonl

from conftest import ROOT, compare, like_a_terminal

# The recipe's own batch (256) and learning rate, 12 steps an epoch: at batch 64 and lr 0.05 Keras
# was the same twice on an Intel Xeon where the default batch was not (inter-op concurrency).
# Two epochs: a run killed in the second has one trained afresh and one resumed.
SETTINGS = ["--model", "cnn", "--subset", "3072", "--val-split", "256"]
EPOCHS = 2
RUN = [*SETTINGS, "--epochs", str(EPOCHS)]
FIELDS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "initial_loss", "init")


# One worker for the whole module under pytest-xdist (make test), so the uninterrupted run below is made once.
pytestmark = pytest.mark.xdist_group("resume")


@pytest.fixture(scope="module")
def uninterrupted(real_data_env_module, tmp_path_factory):
    out = tmp_path_factory.mktemp("uninterrupted")
    result = compare(*RUN, "--backend", "all", "--out", str(out))
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    [run_dir] = [p for p in out.iterdir() if p.is_dir()]
    return {b: read_jsonl(run_dir / f"{b}.jsonl")[0] for b in BACKENDS}


def start_and_reach_second_epoch(out, backend, stderr=subprocess.DEVNULL, epochs=EPOCHS):
    """Start a run of one backend in its own process group (as a terminal would) and return it,
    with its run folder, once epoch 1 is saved and epoch 2 has begun."""
    proc = subprocess.Popen([sys.executable, str(ROOT / "compare.py"), *SETTINGS, "--epochs", str(epochs),
                             "--backend", backend, "--out", str(out)],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True,
                            preexec_fn=like_a_terminal)
    deadline = time.time() + 600
    while time.time() < deadline:
        runs = [p for p in out.iterdir() if p.is_dir()] if out.exists() else []
        if runs and (runs[0] / f"{backend}.ckpt").exists():
            break
        assert proc.poll() is None, "the run ended before it could be stopped"
        time.sleep(0.05)
    # Into epoch 2: the checkpoint is written after epoch 1's evaluation, and epoch 2 starts at
    # once; an epoch takes about a second on a fast CPU, several on a slow one.
    time.sleep(0.2)
    return proc, runs[0]


def kill_during_second_epoch(out, backend):
    """SIGKILL a run's whole process group during epoch 2; return the run folder."""
    proc, run_dir = start_and_reach_second_epoch(out, backend)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    return run_dir


def processes_naming(text):
    """Command lines of the processes still running that mention text."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:  # it ended while we looked
            continue
        if any(text.encode() in a for a in args):
            found.append(b" ".join(args).decode(errors="replace"))
    return found


@pytest.mark.parametrize("backend", BACKENDS)
def test_killed_run_resumes_to_the_uninterrupted_records(uninterrupted, tmp_path, backend):
    run_dir = kill_during_second_epoch(tmp_path / "results", backend)
    killed, _ = read_jsonl(run_dir / f"{backend}.jsonl")
    assert len(killed) == 1  # killed for real, during the second (last) epoch

    result = compare("--resume", str(run_dir))  # the backend the run was started with, and only it
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert f"[{backend}] resumed after epoch {len(killed)}" in result.stdout
    assert not {f"[{other}]" for other in BACKENDS if other != backend} & set(result.stdout.split())
    resumed, problems = read_jsonl(run_dir / f"{backend}.jsonl")
    assert problems == []
    assert [[getattr(r, f) for f in FIELDS] for r in resumed] == \
           [[getattr(r, f) for f in FIELDS] for r in uninterrupted[backend]], \
        (f"{backend}: the killed and resumed run differs from the uninterrupted one on this CPU ({cpu_name()}); "
         "where epoch 1 differs, the same seed gave different records")

    again = compare("--resume", str(run_dir), "--backend", backend)  # a finished run trains nothing
    assert again.returncode == 0 and f"[{backend}] already finished all {EPOCHS} epochs" in again.stdout
    assert read_jsonl(run_dir / f"{backend}.jsonl")[0] == resumed


def cpu_name() -> str:
    """The CPU's model name, for a failure message: determinism is promised per CPU."""
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown CPU"


@pytest.mark.parametrize("args, message", [
    (["--epochs", "5"], "its config does not match --epochs 5 (the run has 3)"),
    (["--seeds", "2"], "it does not take --seeds"),
])
def test_resume_refuses_arguments_that_contradict_the_run(tmp_path, args, message):
    from shared.config import resolve
    run_dir = tmp_path / "results" / "20261127-000000-cnn-seed0-abcd"
    run_dir.mkdir(parents=True)
    resolve("cnn", epochs=3).save(run_dir / "config.json")
    result = compare("--resume", str(run_dir), *args)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr


def test_resume_of_a_folder_that_is_not_a_run_exits_2(tmp_path):
    result = compare("--resume", str(tmp_path))
    assert result.returncode == 2 and "not a run folder (it has no config.json)" in result.stderr


# A terminal's Ctrl-C signals the whole foreground process group; `kill -INT <pid>` reaches
# compare.py alone, which must then stop its backend itself.
# The run is 10 epochs long, so that the signal's way through compare.py can never lose the race
# with the last epoch (with 3, Keras on an AVX-512 machine finished before Ctrl-C reached it).
@pytest.mark.parametrize("backend, whole_group", [("torch", True), ("tensorflow", False)])
def test_ctrl_c_keeps_the_finished_epochs_and_exits_130(real_data_env, tmp_path, backend, whole_group):
    with open(tmp_path / "stderr.txt", "w") as stderr:
        proc, run_dir = start_and_reach_second_epoch(tmp_path / "results", backend, stderr=stderr, epochs=10)
        (os.killpg if whole_group else os.kill)(proc.pid, signal.SIGINT)
        assert proc.wait(timeout=120) == 130
    message = (tmp_path / "stderr.txt").read_text()
    assert "Traceback" not in message
    assert f"finished epochs are saved, continue with: python compare.py --resume {run_dir}" in message
    assert processes_naming(str(run_dir)) == []  # no backend outlives compare.py
    records, problems = read_jsonl(run_dir / f"{backend}.jsonl")
    assert problems == [] and 1 <= len(records) < 10
    assert [r.epoch for r in records] == list(range(1, len(records) + 1))
    assert (run_dir / f"{backend}.ckpt").exists()
