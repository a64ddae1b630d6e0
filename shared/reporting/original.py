"""The original project's table (`compare.py table`): its five models, the mode each was trained
in, its published figures, and the combined table that puts both backends' results beside them
(pandas; no framework).

The project this suite grew from published one table, measured on a T4 GPU: the custom CNN
trained from scratch, AlexNet, MobileNet(V2) and ResNet-18 fine-tuned from ImageNet weights, and
ViT-B/16 as a frozen feature extractor (a linear probe).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from shared.backends import BACKEND_NAMES

# The original's row order, the names it gave the models, and the mode each was trained in.
NAMES = {"cnn": "CNN", "alexnet": "AlexNet", "mobilenet": "MobileNet", "resnet18": "ResNet-18", "vit": "ViT"}
MODES = {"cnn": "scratch", "alexnet": "finetune", "mobilenet": "finetune", "resnet18": "finetune",
         "vit": "linear-probe"}
# Its figures: training accuracy %, validation accuracy %, training loss, validation loss.
FIGURES = {"cnn": (80.26, 78.09, 0.6391, 0.5613), "alexnet": (96.14, 83.44, 0.1496, 0.5394),
           "mobilenet": (90.07, 86.24, 0.2960, 0.3962), "resnet18": (87.27, 88.24, 0.3526, 0.3535),
           "vit": (97.98, 96.11, 0.0663, 0.1139)}
ORIGINAL = "original (T4)"  # the Backend cell of the original's rows

# torchvision's checkpoint file of each model's default weights (pytorch_impl.pretrained.DEFAULT_WEIGHTS),
# the name torch.hub saves it under, and where it downloads it from. Written out here so that
# compare.py can look for them without importing torch; tests/test_table.py checks them against
# torchvision's weight enums.
CHECKPOINTS = {"alexnet": "alexnet-owt-7be5be79.pth", "mobilenet": "mobilenet_v2-b0353104.pth",
               "resnet18": "resnet18-f37072fd.pth", "vit": "vit_b_16-c867db91.pth"}
CHECKPOINT_URL = "https://download.pytorch.org/models/"

COLUMNS = ["Model", "Mode", "Backend", "Training Accuracy", "Validation Accuracy", "Training Loss",
           "Validation Loss", "Status"]
MEASURES = COLUMNS[3:7]


def checkpoint_url(model: str) -> str:
    return CHECKPOINT_URL + CHECKPOINTS[model]


@dataclass
class Row:
    """One model of the table: its mode and input side, and either its run's table (one row per
    backend, shared.reporting.tables.table_rows or seed_rows) or why it did not run."""
    model: str
    mode: str
    image_size: int
    measured: pd.DataFrame | None = None
    skipped: str | None = None   # why it did not run, in a few words (its Status cell)
    detail: str | None = None    # and in the one line printed when it was skipped (under the table)
    failed: str | None = None    # the run stopped before its table (its initial weights could not be made)
    runs: list[str] = field(default_factory=list)  # its run folders
    settings: str = ""           # what they ran: epochs, batch, images, precision


def original_row(model: str) -> dict[str, str]:
    train_acc, val_acc, train_loss, val_loss = FIGURES[model]
    return {"Model": NAMES[model], "Mode": MODES[model], "Backend": ORIGINAL,
            "Training Accuracy": f"{train_acc:.2f}%", "Validation Accuracy": f"{val_acc:.2f}%",
            "Training Loss": f"{train_loss:.4f}", "Validation Loss": f"{val_loss:.4f}", "Status": "published"}


def combined_table(rows: list[Row], backends: list[str]) -> pd.DataFrame:
    """The original's columns, one row per model and backend, then the original's figures for that
    model; a model that did not run keeps a row per backend saying why."""
    out = []
    for row in rows:
        mode = f"{row.mode}, {row.image_size}px"
        for backend in backends:
            base = {"Model": NAMES[row.model], "Mode": mode, "Backend": BACKEND_NAMES[backend]}
            found = (row.measured[row.measured["Backend"] == BACKEND_NAMES[backend]]
                     if row.measured is not None else pd.DataFrame())
            if len(found):
                cells = found.iloc[0]
                out.append({**base, **{c: cells[c] for c in MEASURES}, "Status": cells["Status"]})
            else:
                status = f"skipped: {row.skipped}" if row.skipped else f"failed: {row.failed or 'no records'}"
                out.append({**base, **{c: "-" for c in MEASURES}, "Status": status})
        out.append(original_row(row.model))
    return pd.DataFrame(out, columns=COLUMNS)


def notes(rows: list[Row]) -> list[str]:
    """The lines under the table: why each skipped or failed model did not run."""
    return [f"{NAMES[row.model]}: {row.detail or row.failed}" for row in rows
            if row.measured is None and (row.detail or row.failed)]
