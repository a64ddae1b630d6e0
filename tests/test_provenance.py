"""provenance.json: every run folder says on which machine, at which commit and with which
command it was made, and the report prints that line beside the figures."""

import subprocess

from shared import provenance

from conftest import compare, squeezed, write_run


def test_cpu_names_the_model_and_only_the_flags_that_decide_precision_speed():
    cpu = provenance.cpu()
    assert cpu["model"] and cpu["cores"] >= 1
    assert set(cpu["flags"]) <= set(provenance.CPU_FLAGS)


def test_git_commit_is_none_outside_a_checkout_and_marks_uncommitted_changes(tmp_path):
    assert provenance.git_commit(tmp_path) is None
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    (tmp_path / "f.py").write_text("a = 1\n")
    subprocess.run([*git, "add", "f.py"], check=True)
    subprocess.run([*git, "commit", "-qm", "one"], check=True)
    head = subprocess.run([*git, "rev-parse", "--short=7", "HEAD"], capture_output=True, text=True).stdout.strip()
    assert provenance.git_commit(tmp_path) == head
    (tmp_path / "f.py").write_text("a = 2\n")
    assert provenance.git_commit(tmp_path) == head + "+dirty"


def test_describe_gives_one_line_and_says_when_nothing_was_recorded():
    made = {"command": "python compare.py --model cnn", "commit": "abc1234", "memory_gib": 23.5,
            "cpu": {"model": "AMD EPYC", "family": "family 25 model 17", "flags": ["avx2", "avx512_bf16"], "cores": 2}}
    assert provenance.describe(made) == ("AMD EPYC (family 25 model 17, avx2, avx512_bf16), 2 cores, 23.5 GiB; "
                                         "commit abc1234; `python compare.py --model cnn`")
    assert "not recorded" in provenance.describe(None)


def test_report_prints_where_each_comparison_was_made_and_its_total_time(tmp_path):
    out = tmp_path / "results"
    made = {"command": "python compare.py --model cnn --epochs 2", "commit": "abc1234",
            "cpu": {"model": "Test CPU", "family": None, "flags": [], "cores": 2}}
    provenance.save(write_run(out, "20261127-100000-cnn-seed0-aaaa", seed=0,
                              val_accs={"torch": 0.8, "tensorflow": 0.8}), made)
    write_run(out, "20261127-100100-cnn-seed0-bbbb", seed=0, epochs=3, val_accs={"torch": 0.8})
    result = compare("report", "--runs", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    report = (out / "REPORT.md").read_text()
    assert "Made on: Test CPU, 2 cores; commit abc1234; `python compare.py --model cnn --epochs 2`." in report
    assert "Made on: machine, commit and command not recorded" in report  # the older folder
    assert "Total min" in report
    # two epochs of 100 s each (the test records'): 3.3 minutes
    assert "| cnn (cifar, scratch) #1 | PyTorch | 500 | 2000 | 100.0 | 3.3 |" in squeezed(report)


def test_seeds_made_on_different_machines_are_named_beside_each_machine(tmp_path):
    from shared.reporting.command import collect, made_on

    zen4 = {"command": "python compare.py --model cnn", "commit": "abc1234",
            "cpu": {"model": "AMD EPYC", "family": None, "flags": ["avx512_bf16"], "cores": 2}}
    xeon = {**zen4, "cpu": {"model": "Intel Xeon", "family": None, "flags": ["amx_bf16"], "cores": 2}}
    for seed, machine in ((0, zen4), (1, zen4), (2, xeon)):
        provenance.save(write_run(tmp_path, f"20261202-10000{seed}-cnn-seed{seed}-aaaa", seed=seed,
                                  val_accs={"torch": 0.8, "tensorflow": 0.8}), machine)
    _, origins, problems = collect(tmp_path)
    [places] = origins.values()
    assert problems == [] and len(places) == 2
    assert [made_on(origin, seeds, len(places) > 1) for origin, seeds in places.items()] == [
        "Made on (seeds 0, 1): AMD EPYC (avx512_bf16), 2 cores; commit abc1234; `python compare.py --model cnn`.",
        "Made on (seed 2): Intel Xeon (amx_bf16), 2 cores; commit abc1234; `python compare.py --model cnn`."]
