"""RunConfig, the model catalogue and the recipe table: one source of truth for both backends.

compare.py resolves one RunConfig from the recipe of the chosen model plus the user's flags, saves
it as config.json in the run folder, and each backend process reads it back from there.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

BACKENDS = ("torch", "tensorflow")
MODES = ("scratch",)
VARIANTS = ("cifar", "imagenet")
# Every architecture both backends can build (pytorch_impl.models / tensorflow_impl.models).
MODEL_NAMES = ("cnn", "alexnet", "mobilenet", "resnet18", "vit")
PRECISIONS = ("fp32",)  # bf16 is slower than fp32 on CPUs without AVX512-BF16 (measured here)
DEVICES = ("cpu", "cuda")

# Per-model defaults (airbench style: one readable dict). Designed for the 2-core CPU budget of
# the acceptance run: about 30 minutes of training per backend; see README "Recipe".
RECIPES: dict[str, dict] = {
    "cnn": dict(
        epochs=6, batch_size=256, optimizer="sgd", lr=0.2, momentum=0.9, nesterov=True,
        weight_decay=5e-4, schedule="onecycle", warmup_fraction=0.2, label_smoothing=0.2,
        augment="crop+flip", precision="fp32",
    ),
}
# The models compare.py trains: those with a recipe.
MODELS = tuple(RECIPES)


@dataclass
class RunConfig:
    model: str = "cnn"
    variant: str = "cifar"
    mode: str = "scratch"
    epochs: int = 10
    batch_size: int = 256
    optimizer: str = "sgd"
    lr: float = 0.2
    momentum: float = 0.9
    nesterov: bool = True
    # L2 added to the gradient (PyTorch SGD's rule), on conv/dense kernels only, in both backends.
    weight_decay: float = 5e-4
    schedule: str = "onecycle"
    warmup_fraction: float = 0.2
    label_smoothing: float = 0.2
    augment: str = "crop+flip"
    seed: int = 0
    precision: str = "fp32"
    device: str = "cpu"
    subset: int | None = None        # train on this many training images (deterministic subset)
    val_split: int | None = None     # hold out this many training images instead of the test set
    data_dir: str | None = None
    out: str = "results"
    run_id: str = ""
    num_classes: int = 10
    warmup_batches: int = 5          # first batches of each epoch left out of img/s (see README)
    eval_batch_size: int = 500

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "RunConfig":
        data = json.loads(text)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown config fields: {sorted(unknown)}")
        return cls(**data)

    def save(self, path: Path) -> None:
        from shared.io import atomic_write_text
        atomic_write_text(path, self.to_json() + "\n")

    @classmethod
    def load(cls, path: Path) -> "RunConfig":
        return cls.from_json(Path(path).read_text())

    @property
    def crop(self) -> bool:
        return "crop" in self.augment

    @property
    def flip(self) -> bool:
        return "flip" in self.augment


def resolve(model: str, **overrides) -> RunConfig:
    """The model's recipe, then every override that is not None."""
    if model not in RECIPES:
        raise KeyError(f"unknown model {model!r}; known: {', '.join(MODELS)}")
    values = dict(RECIPES[model], model=model)
    values.update({k: v for k, v in overrides.items() if v is not None})
    return RunConfig(**values)
