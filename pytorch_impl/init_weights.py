"""The initial weights of a run's model, saved as framework-neutral numpy arrays so that both
backends start from them (docs/design.md, "Invariants"): PyTorch's seeded initialisation,
and for finetune / linear-probe the ImageNet backbone over that seeded 10-class head.

    python -m pytorch_impl.init_weights RUN_DIR     (compare.py does this before training)

Exit codes: 0 written; 4 the pretrained weights are missing or do not fit; 1 anything else, such
as a torch that is installed but fails to import (one line on stderr each; a traceback goes to
torch.log in the run folder).
"""

from __future__ import annotations

if __name__ == "__main__":
    # run_backend imports torch, then this module (again, as pytorch_impl.init_weights), inside
    # its guard, so an install that fails to import fails in one line.
    from shared.run import run_backend
    raise SystemExit(run_backend("torch", "pytorch_impl.init_weights:write_initial_weights"))

import sys
from pathlib import Path

import torch

from shared.config import RunConfig
from shared.io import atomic_write_text
from shared.run import INITIAL_WEIGHTS, INITIAL_WEIGHTS_SOURCE, load_split, run_whitening_filters
from shared.weights_io import save_arrays

from .models import build_model
from .pretrained import WeightsError, load_backbone, read_state, resolve_weights
from .weights import to_torch_state

EXIT_WEIGHTS = 4


def initial_model(cfg: RunConfig, x_train=None) -> tuple[torch.nn.Module, str]:
    """The run's model with its initial weights, and where they came from. x_train: the run's
    training images, if already loaded (the CNN's whitening filters are computed from them)."""
    torch.manual_seed(cfg.seed)
    model = build_model(cfg.model, variant=cfg.variant, num_classes=cfg.num_classes, image_size=cfg.image_size)
    source = f"torch-seed{cfg.seed}"
    if hasattr(model, "whiten"):  # the CNN's stem: whitening filters of this run's training images
        x_train = load_split(cfg).x_train if x_train is None else x_train
        with torch.no_grad():
            model.whiten.weight.copy_(torch.from_numpy(run_whitening_filters(cfg, x_train)))
        source += "+whitened"
    if cfg.pretrained:
        state, description = read_state(resolve_weights(cfg.model, cfg.weights))
        load_backbone(model, cfg.model, state)
        source = f"{description}+head-seed{cfg.seed}"
    return model, source


def make_initial_weights(cfg: RunConfig, run_dir: Path) -> Path:
    model, source = initial_model(cfg)
    path = Path(run_dir) / INITIAL_WEIGHTS
    save_arrays(path, to_torch_state(model))
    atomic_write_text(Path(run_dir) / INITIAL_WEIGHTS_SOURCE, source + "\n")
    return path


def write_initial_weights(cfg: RunConfig, run_dir: Path) -> int:
    """make_initial_weights as a process's work (shared.run.run_backend): its exit code."""
    try:
        make_initial_weights(cfg, run_dir)
    except WeightsError as err:
        print(f"weights: {err}", file=sys.stderr)
        return EXIT_WEIGHTS
    return 0
