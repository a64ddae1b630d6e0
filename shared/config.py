"""RunConfig, the model catalogue and the recipe table: one source of truth for both backends.

compare.py resolves one RunConfig from the recipe of the chosen model plus the user's flags, saves
it as config.json in the run folder, and each backend process reads it back from there.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

from shared.architectures import INPUT_SIZE, input_size
from shared.batch_plan import PAD, PADDING_MODES, EpochPlan, epoch_plan
from shared.precision import PRECISIONS  # noqa: F401  (what --precision takes, and what each means)
from shared.schedule import learning_rate

# scratch: random initial weights. finetune: ImageNet weights, every layer trained.
# linear-probe: ImageNet weights, the backbone frozen (inference mode), only a new head trained.
MODES = ("scratch", "finetune", "linear-probe")
VARIANTS = tuple(INPUT_SIZE)    # ("cifar", "imagenet", "airbench")
# Every architecture both backends can build (pytorch_impl.models / tensorflow_impl.models), and
# its variants: the custom CNN exists at CIFAR's resolution only, in two designs (ours and
# airbench's, shared/architectures.py); torchvision's models as CIFAR ports and as themselves.
MODEL_NAMES = ("cnn", "alexnet", "mobilenet", "resnet18", "vit")
MODEL_VARIANTS = {name: ("cifar", "airbench") if name == "cnn" else ("cifar", "imagenet") for name in MODEL_NAMES}
# auto: CUDA when the backend's framework sees a GPU, else the CPU (each backend decides for itself
# and records what it used).
DEVICES = ("auto", "cpu", "cuda")

# Per-model defaults (airbench style: one readable dict per model); flags override them.
# The CNN's recipe is sized to finish on a 2-core CPU within about half an hour per backend
# (--precision bf16 where the CPU has native bf16; docs/results.md). The others are full
# from-scratch recipes in the usual CIFAR style (SGD + one-cycle for the convolutional networks,
# AdamW for the transformer), meant for a GPU; on a CPU they run shorter with --epochs N, and the
# one-cycle schedule stretches to whatever length is chosen (docs/results.md gives the lengths).
_SGD = dict(optimizer="sgd", momentum=0.9, nesterov=True, schedule="onecycle", augment="crop+flip",
            precision="fp32")
SCRATCH: dict[str, dict] = {
    # airbench's crop (2 pixels, the border reflected): with the whitening stem, the one epoch of
    # 5,000 images reached 43.0 % against 35.6 % with a 4-pixel zero-padded crop (docs/results.md).
    "cnn": dict(_SGD, epochs=15, batch_size=256, lr=0.2, weight_decay=5e-4, warmup_fraction=0.2,
                label_smoothing=0.2, crop_padding=2, padding_mode="reflect"),
    # No BatchNorm: a smaller peak learning rate than the BatchNorm networks tolerate.
    "alexnet": dict(_SGD, epochs=30, batch_size=256, lr=0.04, weight_decay=5e-4,
                    warmup_fraction=0.2, label_smoothing=0.1),
    "mobilenet": dict(_SGD, epochs=30, batch_size=256, lr=0.2, weight_decay=5e-4,
                      warmup_fraction=0.2, label_smoothing=0.1),
    "resnet18": dict(_SGD, epochs=20, batch_size=256, lr=0.2, weight_decay=5e-4,
                     warmup_fraction=0.2, label_smoothing=0.1),
    # Transformers want Adam-type updates and decoupled weight decay (timm/DeiT practice).
    "vit": dict(optimizer="adamw", beta1=0.9, beta2=0.999, eps=1e-8, epochs=50, batch_size=256,
                lr=1e-3, weight_decay=0.05, schedule="onecycle", warmup_fraction=0.1,
                label_smoothing=0.1, augment="crop+flip", precision="fp32"),
}
# Fine-tuning from ImageNet weights at 224×224: SGD with momentum, a short linear warm-up, then
# cosine decay, small batches and few epochs — the transfer recipe of the ViT paper (Dosovitskiy
# et al. 2021, appendix B.1.1: SGD 0.9, no weight decay, cosine, lr 0.001–0.03) and BiT (Kolesnikov
# et al. 2020: SGD 0.9, lr 0.003), applied to every model; the CNNs keep a light L2.
_FINETUNE = dict(optimizer="sgd", momentum=0.9, nesterov=False, schedule="cosine", warmup_fraction=0.1,
                 epochs=3, batch_size=128, label_smoothing=0.1, augment="crop+flip", precision="fp32")
FINETUNE: dict[str, dict] = {
    "alexnet": dict(_FINETUNE, lr=0.003, weight_decay=1e-4),
    "mobilenet": dict(_FINETUNE, lr=0.01, weight_decay=1e-4),
    "resnet18": dict(_FINETUNE, lr=0.01, weight_decay=1e-4),
    "vit": dict(_FINETUNE, lr=0.003, weight_decay=0.0),
}
# Linear probe: only the head learns, on features of un-augmented images (which is what lets the
# fast path extract them once); AdamW, because the scale of the features differs per backbone.
_PROBE = dict(optimizer="adamw", beta1=0.9, beta2=0.999, eps=1e-8, lr=1e-3, weight_decay=1e-4,
              schedule="cosine", warmup_fraction=0.1, epochs=10, batch_size=256, label_smoothing=0.0,
              augment="none", precision="fp32")
PROBE: dict[str, dict] = {name: dict(_PROBE) for name in ("alexnet", "mobilenet", "resnet18", "vit")}

RECIPES: dict[str, dict[str, dict]] = {"scratch": SCRATCH, "finetune": FINETUNE, "linear-probe": PROBE}
# A variant with a recipe of its own, over its model's (mode, model, variant): the CNN's airbench
# design trains as airbench94 does (Jordan 2024), in our conventions. airbench sums the loss over
# the batch and states its rates per 1,024 images with momentum folded in (lr 11.5, weight decay
# 0.0153, "kilostep scale" 1024·(1 + 1/(1 − 0.85))); with a mean loss, PyTorch SGD's rule and its
# batch of 1,024 that is a peak lr of 11.5·1024/7850.7 = 1.5 and an L2 of 0.0153/11.5 on every
# tensor, BatchNorm biases at 64× the rate (and 1/64 of the L2, so the same decay per step). It
# trains 9.9 epochs (10 here: epochs are whole) and warms up over 23 % of the steps from 0.2× the
# peak (0.1× here, shared.schedule's warm-up). Not taken: lookahead (the airbench variant without
# it still reaches 93.97 %, "clean_airbench") and freezing the whitening bias after 3 epochs.
VARIANT_RECIPES: dict[tuple[str, str, str], dict] = {
    ("scratch", "cnn", "airbench"): dict(
        _SGD, epochs=10, batch_size=1024, lr=11.5 * 1024 / (1024 * (1 + 1 / (1 - 0.85))), momentum=0.85,
        weight_decay=0.0153 / 11.5, decay_all=True, norm_bias_lr_scale=64.0, warmup_fraction=0.23,
        label_smoothing=0.2, crop_padding=2, padding_mode="reflect", alternating_flip=True, tta="mirror+translate"),
}
OPTIMIZERS = ("sgd", "adamw")
AUGMENTS = ("crop+flip", "crop", "flip", "none")
PROBES = ("features", "full")
# The models compare.py trains: those with a recipe.
MODELS = tuple(SCRATCH)
# The variant each mode uses unless --variant says otherwise: ImageNet weights need torchvision's
# architectures.
DEFAULT_VARIANT = {"scratch": "cifar", "finetune": "imagenet", "linear-probe": "imagenet"}


@dataclass
class RunConfig:
    model: str = "cnn"
    variant: str = "cifar"
    mode: str = "scratch"
    epochs: int = 10
    batch_size: int = 256
    optimizer: str = "sgd"         # "sgd" (PyTorch's rule) or "adamw"
    lr: float = 0.2
    momentum: float = 0.9          # SGD
    nesterov: bool = True          # SGD
    beta1: float = 0.9             # AdamW
    beta2: float = 0.999           # AdamW
    eps: float = 1e-8              # AdamW
    # SGD: L2 added to the gradient (PyTorch SGD's rule); AdamW: decoupled decay (w -= lr·wd·w).
    # Either way only on weight matrices and kernels (see shared.config.decays), in both backends.
    weight_decay: float = 5e-4
    decay_all: bool = False        # the decay on every trained tensor (airbench), not only kernels
    # SGD: BatchNorm and LayerNorm biases train at this multiple of the learning rate, with the
    # L2 divided by it (the same decay per step): airbench's 64.
    norm_bias_lr_scale: float = 1.0
    schedule: str = "onecycle"
    warmup_fraction: float = 0.2
    label_smoothing: float = 0.2
    augment: str = "crop+flip"
    # The crop's padding (pixels on each side; zeros, or the border reflected) and the flip's
    # order (random per epoch, or alternating: shared/batch_plan.py).
    crop_padding: int = PAD
    padding_mode: str = "zeros"
    alternating_flip: bool = False
    # linear-probe: "features" extracts the frozen backbone's features once (cached on disk) and
    # trains the head on them, without augmentation; "full" runs the whole model every step.
    probe: str = "features"
    # Test-time augmentation of the validation pass (shared/tta.py): records keep the plain
    # figures in val_loss / val_acc and add the averaged ones as tta_val_loss / tta_val_acc.
    tta: str = "none"
    seed: int = 0
    precision: str = "fp32"
    device: str = "cpu"
    devices: int = 1               # data-parallel replicas (shared/distributed.py)
    # torch.compile / Keras jit_compile (XLA): same setting in both backends (docs/benchmarks.md, "Speed options on a CPU").
    compile: bool = False
    weights: str | None = None       # finetune/linear-probe: torchvision enum member or a local file
    image_size: int | None = None    # side the model reads; None: the variant's (32 or 224)
    subset: int | None = None        # train on this many training images (deterministic subset)
    val_split: int | None = None     # hold out this many training images instead of the test set
    data_dir: str | None = None
    out: str = "results"
    run_id: str = ""
    num_classes: int = 10
    warmup_batches: int = 5          # first batches of each epoch left out of img/s (docs/benchmarks.md)
    eval_batch_size: int | None = None  # None: by input side (eval_batch_for)

    def __post_init__(self):
        # Every image size in a saved config is explicit; a bad one fails here (ValueError).
        self.image_size = input_size(self.model, self.variant, self.image_size)
        if self.padding_mode not in PADDING_MODES:
            raise ValueError(f"unknown padding mode {self.padding_mode!r}; known: {', '.join(PADDING_MODES)}")
        if self.norm_bias_lr_scale != 1.0 and self.optimizer != "sgd":
            raise ValueError(f"norm_bias_lr_scale {self.norm_bias_lr_scale:g} is an SGD setting ({self.optimizer} has none)")
        if not 0 <= self.crop_padding < 32:  # reflection needs a border wider than the padding
            raise ValueError(f"crop padding {self.crop_padding} is not in 0..31 pixels")
        self.eval_batch_size = self.eval_batch_size or eval_batch_for(self.image_size)

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

    def learning_rate(self, step: int, total_steps: int) -> float:
        """The recipe's schedule at this optimizer step (shared.schedule), as both backends set it."""
        return learning_rate(step, total_steps, peak_lr=self.lr, schedule=self.schedule,
                             warmup_fraction=self.warmup_fraction)

    def plan(self, epoch: int, n: int) -> EpochPlan:
        """Epoch `epoch`'s batch plan over n training images with this config's augmentation."""
        return epoch_plan(self.seed, epoch, n, crop=self.crop, flip=self.flip, pad=self.crop_padding,
                          padding_mode=self.padding_mode, alternating_flip=self.alternating_flip)

    @property
    def pretrained(self) -> bool:
        return self.mode != "scratch"

    @property
    def crop(self) -> bool:
        return "crop" in self.augment

    @property
    def flip(self) -> bool:
        return "flip" in self.augment


# Evaluation (and feature extraction) batches of about this many pixels: 25 images at 224×224.
# A large batch at 224 is slower, not faster, and holds GBs: its activations are fresh
# allocations that the kernel must zero page by page (the measurement: docs/benchmarks.md,
# "Memory and start-up").
EVAL_BATCH_PIXELS = 25 * 224 * 224


def eval_batch_for(image_size: int) -> int:
    """500 images at 32×32, 25 at 224×224: about EVAL_BATCH_PIXELS, within [25, 500]."""
    return max(25, min(500, EVAL_BATCH_PIXELS // image_size ** 2))


def describe_augmentation(augment: str, crop_padding: int = PAD, padding_mode: str = "zeros",
                          alternating_flip: bool = False, **_) -> str:
    """The augment setting for settings lines, with the crop's padding and the flip's order where
    they are not the defaults: "crop+flip (padding 2 reflect, alternating flip)"."""
    details = ([f"padding {crop_padding} {padding_mode}"]
               if "crop" in augment and (crop_padding, padding_mode) != (PAD, "zeros") else [])
    details += ["alternating flip"] if "flip" in augment and alternating_flip else []
    return augment + (f" ({', '.join(details)})" if details else "")


def decays(torch_name: str, ndim: int) -> bool:
    """Whether weight decay applies to a parameter, by its PyTorch name and rank: weight matrices
    and kernels (conv, linear, attention projections) yes; biases, norm scales, ViT's class token
    and position embedding no. Keras applies the same rule to the same tensors (its kernels),
    and a test checks that through the port."""
    return torch_name.endswith("weight") and ndim > 1


def resolve(model: str, mode: str = "scratch", **overrides) -> RunConfig:
    """The recipe of the model in this mode, then every override that is not None."""
    if mode not in RECIPES:
        raise KeyError(f"unknown mode {mode!r}; known: {', '.join(MODES)}")
    if model not in RECIPES[mode]:
        raise KeyError(f"no {mode} recipe for {model!r}; known: {', '.join(RECIPES[mode])}")
    variant = overrides.get("variant") or DEFAULT_VARIANT[mode]
    values = dict(RECIPES[mode][model], **VARIANT_RECIPES.get((mode, model, variant), {}),
                  model=model, mode=mode, variant=variant)
    values.update({k: v for k, v in overrides.items() if v is not None})
    return RunConfig(**values)
