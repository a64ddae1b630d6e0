"""Shared test set-up: the real dataset (CIFAR10_DATA, as .ci/run sets it) and a per-session
cache folder, so no test writes to the user's ~/.cache and the real data is converted once."""

from __future__ import annotations

import os
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
REAL_DATA = os.environ.get("CIFAR10_DATA") or str(ROOT.parent / "shared/data/cifar10/cifar10.npz")


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("xdg-cache")


@pytest.fixture
def real_data_env(monkeypatch, session_cache):
    """Environment for code (and subprocesses) that loads the real CIFAR-10."""
    if not Path(REAL_DATA).exists():
        pytest.skip(f"real CIFAR-10 not found at {REAL_DATA}")
    monkeypatch.setenv("CIFAR10_DATA", REAL_DATA)
    monkeypatch.setenv("XDG_CACHE_HOME", str(session_cache))
    return REAL_DATA


@pytest.fixture(scope="module")
def real_data_env_module(session_cache):
    """real_data_env for a module-scoped fixture (one run shared by several tests)."""
    if not Path(REAL_DATA).exists():
        pytest.skip(f"real CIFAR-10 not found at {REAL_DATA}")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CIFAR10_DATA", REAL_DATA)
        patch.setenv("XDG_CACHE_HOME", str(session_cache))
        yield REAL_DATA
