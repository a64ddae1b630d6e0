"""The seeded PyTorch initialisation of a run's model, saved as framework-neutral numpy arrays
so that both backends start from it (DESIGN.md, "same initial weights").

    python -m pytorch_impl.init_weights RUN_DIR     (compare.py does this before training)
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from shared.config import RunConfig
from shared.run import INITIAL_WEIGHTS
from shared.weights_io import save_arrays

from .models import build_model
from .weights import to_numpy


def make_initial_weights(cfg: RunConfig, run_dir: Path) -> Path:
    torch.manual_seed(cfg.seed)
    model = build_model(cfg.model, variant=cfg.variant, num_classes=cfg.num_classes)
    path = Path(run_dir) / INITIAL_WEIGHTS
    save_arrays(path, to_numpy(model))
    return path


if __name__ == "__main__":
    run_dir = Path(sys.argv[1])
    make_initial_weights(RunConfig.load(run_dir / "config.json"), run_dir)
