"""Where a run was made: the machine, the code and the command, saved as provenance.json in
every run folder, so that a table made from the records later can say on which CPU, at which
commit and with which command its figures were measured (docs/results.md).

The CPU matters as much as the code: speed, bf16 support and even floating-point determinism
differ between CPU models (docs/reliability.md), so the record names it rather than "a CPU".
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import subprocess
import time
from pathlib import Path

from shared.io import atomic_write_text

FILE = "provenance.json"
# The instruction-set flags that decide which precisions are fast (bf16 is native with
# avx512_bf16 or AMX, emulated and about 10x slower on AVX2 only).
CPU_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16")


def cpu() -> dict:
    """The CPU's model name, its speed-relevant flags and the logical cores this process may use."""
    name, flags, info = None, set(), {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = (part.strip() for part in line.partition(":"))
            if key == "model name" and name is None:
                name = value
            elif key in ("cpu family", "model"):  # a vague name ("AMD EPYC") still names its generation
                info.setdefault(key, value)
            elif key == "flags":
                flags = set(value.split())
                break
    except OSError:  # not Linux: the model name from platform, no flags
        pass
    name = name or platform.processor() or platform.machine()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    family = f"family {info['cpu family']} model {info['model']}" if len(info) == 2 else None
    return {"model": name, "family": family, "flags": [f for f in CPU_FLAGS if f in flags], "cores": cores}


def memory_gib() -> float | None:
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2 ** 30, 1)
    except (ValueError, OSError, AttributeError):
        return None


def git_commit(root: Path) -> str | None:
    """HEAD of the checkout the code runs from, with "+dirty" when tracked files differ from it;
    None outside a git checkout (an unpacked copy)."""
    def git(*args):
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10)
    try:
        head = git("rev-parse", "--short=7", "HEAD")
        if head.returncode:
            return None
        dirty = git("status", "--porcelain", "--untracked-files=no").stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return None
    return head.stdout.strip() + ("+dirty" if dirty else "")


def collect(argv: list[str], root: Path) -> dict:
    return {
        "command": shlex.join(["python", "compare.py", *argv]),
        "commit": git_commit(root),
        "cpu": cpu(),
        "memory_gib": memory_gib(),
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }


def save(run_dir: Path, provenance: dict) -> None:
    atomic_write_text(run_dir / FILE, json.dumps(provenance, indent=2) + "\n")


def load(run_dir: Path) -> dict | None:
    """The run's provenance, or None for a folder made before it was recorded (or unreadable)."""
    try:
        return json.loads((Path(run_dir) / FILE).read_text())
    except (OSError, ValueError):
        return None


def describe(provenance: dict | None) -> str:
    """One line for a report: 'AMD EPYC (family 25 model 17, avx2, avx512f, avx512_bf16), 2 cores,
    23.5 GiB; commit abc1234; `python compare.py ...`'."""
    if not provenance:
        return "machine, commit and command not recorded (a run made before provenance.json)"
    cpu_ = provenance.get("cpu") or {}
    details = [cpu_["family"]] if cpu_.get("family") else []
    details += cpu_.get("flags") or []
    flags = f" ({', '.join(details)})" if details else ""
    memory = f", {provenance['memory_gib']:g} GiB" if provenance.get("memory_gib") else ""
    parts = [f"{cpu_.get('model', 'unknown CPU')}{flags}, {cpu_.get('cores', '?')} cores{memory}",
             f"commit {provenance.get('commit') or 'unknown'}"]
    if provenance.get("note"):
        parts.append(provenance["note"])
    return "; ".join(parts) + f"; `{provenance.get('command', '?')}`"
