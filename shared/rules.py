"""The training-rules check's result, framework-free: the JSON that `python -m crosscheck.rules
--json` writes (crosscheck/rules.py, `compare.py verify`), its cache, and its line in a run's
verdict.

A training run asks the check once per model, variant, recipe and commit: the rules do not depend
on the seed, where the results go or how fast they are made (NOT_RULES), and a clean commit pins
the code. A checkout with uncommitted changes (or none at all) is checked again every time.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path

from shared.backends import VERDICT_NAMES

# RunConfig fields that change nothing the rules check compares.
NOT_RULES = ("run_id", "out", "data_dir", "seed", "device", "devices", "compile", "precision", "tta",
             "eval_batch_size", "warmup_batches", "probe")
RESULT_FILE = "rules-{backend}.json"   # beside a run's records


def cache_key(cfg, backend: str, commit: str | None) -> str | None:
    """The cache's name for this check, or None where nothing may be cached (no commit, or
    uncommitted changes)."""
    if not commit or commit.endswith("+dirty"):
        return None
    rules = {k: v for k, v in sorted(asdict(cfg).items()) if k not in NOT_RULES}
    text = json.dumps(dict(rules=rules, backend=backend, commit=commit), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def cache_path(key: str) -> Path:
    from shared.data import default_cache_dir
    return default_cache_dir() / "rules" / f"{key}.json"


def load(path: Path) -> dict | None:
    """A stored result, or None where there is none (or it cannot be read: checked again)."""
    try:
        result = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return result if isinstance(result, dict) and result.get("verdict") in ("same", "different") else None


def rules_line(result: dict | None, backend: str) -> str:
    """The verdict block's line: what the check found, against PyTorch."""
    name = VERDICT_NAMES[backend]
    if result is None:
        return (f"Rules ({name}): not checked (--no-verify, or the check could not run); "
                f"`compare.py verify` checks them in minutes.")
    where = f"{result['dtype']} twins, batch {result['batch_size']}"
    commit = f"checked at commit {result['commit']}" if result.get("commit") else "checked on a copy outside git"
    if result["verdict"] == "different":
        place = result["place"]
        if place["kind"] == "dropout":
            return f"Rules ({name}): DIFFERENT — dropout: {place['tensor']}; {commit}."
        return (f"Rules ({name}): DIFFERENT — {where}: from step {place['step']}, {place['kind']} {place['tensor']} "
                f"differs by {place['gap']:.1e}, the control by {place['control']:.1e}; {commit}. "
                "`compare.py verify` shows the steps.")
    def at(step):
        return f"at step {step}" if step else "not within them"
    twins, control = result.get("twins_parted"), result.get("control_parted")
    parted = (f"the twins part {at(twins)}, the control (PyTorch on reversed batches) {at(control)}" if twins or control
              else "neither the twins nor the control (PyTorch on reversed batches) part within them")
    return (f"Rules ({name}): SAME — {where}, at round-off through step {result['steps']} and in eval mode after it; "
            f"{parted}; {commit}.")
