"""The report's PNG figures (matplotlib, no framework): training curves of one comparison, and
throughput per model and backend. Every figure is FIGSIZE at DPI, so its pixel size is fixed."""

from __future__ import annotations

import io
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display needed, none opened
import matplotlib.pyplot as plt  # noqa: E402

from shared.backends import BACKEND_NAMES  # noqa: E402
from shared.io import atomic_write_bytes  # noqa: E402
from shared.metrics import UNMEASURED, EpochRecord  # noqa: E402

FIGSIZE, DPI = (10, 4), 100   # 1000 × 400 pixels
COLORS = {"torch": "tab:red", "tensorflow": "tab:blue", "jax": "tab:green"}
# Different markers, so that two backends on the very same curve both stay visible.
MARKERS = {"torch": dict(marker="o", markersize=7, markerfacecolor="none"), "tensorflow": dict(marker="x", markersize=6),
           "jax": dict(marker="^", markersize=6, markerfacecolor="none")}


def _save(fig, path: Path) -> None:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())


def curves(runs: dict[str, list[list[EpochRecord]]], title: str, path: Path) -> None:
    """Validation accuracy and loss per epoch, both backends overlaid, one line per seed (training
    accuracy dashed, for the generalisation gap)."""
    fig, (acc, loss) = plt.subplots(1, 2, figsize=FIGSIZE)
    for backend, seed_runs in runs.items():
        for i, records in enumerate(seed_runs):
            epochs = [r.epoch for r in records]
            label = BACKEND_NAMES[backend] if i == 0 else None
            acc.plot(epochs, [100 * r.val_acc for r in records], color=COLORS[backend], label=label, **MARKERS[backend])
            acc.plot(epochs, [100 * r.train_acc for r in records], color=COLORS[backend], linestyle="--", alpha=0.5,
                     label=f"{BACKEND_NAMES[backend]} (training)" if i == 0 else None)
            loss.plot(epochs, [r.val_loss for r in records], color=COLORS[backend], label=label, **MARKERS[backend])
    acc.set(xlabel="epoch", ylabel="accuracy (%)", title="validation (solid) and training (dashed) accuracy")
    loss.set(xlabel="epoch", ylabel="validation loss", title="validation loss")
    for ax in (acc, loss):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        ax.xaxis.get_major_locator().set_params(integer=True)
    fig.suptitle(title)
    fig.tight_layout()
    _save(fig, path)


def throughput(rows: list[dict], path: Path) -> None:
    """Bars of training and evaluation images/s: rows of {label, backend, train, eval}. A NaN
    (unmeasured: shared.metrics.rate_cell) has no bar, and a dash where it would stand."""
    labels = list(dict.fromkeys(r["label"] for r in rows))
    backends = list(dict.fromkeys(r["backend"] for r in rows))
    width = 0.8 / max(1, len(backends))
    fig, axes = plt.subplots(1, 2, figsize=FIGSIZE)
    for ax, key, name in ((axes[0], "train", "training"), (axes[1], "eval", "evaluation")):
        for j, backend in enumerate(backends):
            values = {r["label"]: r[key] for r in rows if r["backend"] == backend}
            heights = [values.get(label, 0.0) for label in labels]
            where = [i + j * width for i in range(len(labels))]
            ax.bar(where, [0.0 if math.isnan(h) else h for h in heights], width, color=COLORS[backend],
                   label=BACKEND_NAMES[backend])
            for x in (x for x, h in zip(where, heights) if math.isnan(h)):
                ax.annotate(UNMEASURED, (x, 0), ha="center", va="bottom", color=COLORS[backend])
        ax.set_xticks([i + width * (len(backends) - 1) / 2 for i in range(len(labels))], labels,
                      rotation=20, ha="right", fontsize=7)
        ax.set(ylabel="images/s", title=f"{name} throughput (median over seeds)")
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    _save(fig, path)
