"""ImageNet weights for finetune and linear-probe, through torchvision's own weight enums.

`--weights` names an enum member of the model's enum ("IMAGENET1K_V2"), a full enum name
("MobileNet_V2_Weights.IMAGENET1K_V2"), or a local .pth / .pt / .safetensors file holding a
state_dict of torchvision's architecture. Without it the model's default member below is used.

torchvision keeps downloads in $TORCH_HOME/hub/checkpoints/ (torch.hub.get_dir()); a file already
there is used as it is. When it is missing and cannot be downloaded, WeightsError says which file
to put where. The 1000-class ImageNet head is left out: the model keeps its seeded 10-class head.
Keras gets these very tensors through the run's initial_weights.npz and the generic port.

    python -m pytorch_impl.pretrained MODEL[=SPEC] ...

checks, before anything trains (`compare.py table`), that each model's weights (SPEC as for
--weights; the default member without it) are there or can be downloaded: one line per model on
stdout, "MODEL<tab>ok" or "MODEL<tab>the reason".
"""

from __future__ import annotations

if __name__ == "__main__":
    # Imported again as pytorch_impl.pretrained inside the guard, so a torch that is installed but
    # fails to import says so in one line (as shared.run.run_backend does for the backends).
    import sys
    try:
        from pytorch_impl.pretrained import check_main
    except Exception as err:  # noqa: BLE001
        print(f"torch is installed but cannot be imported: {type(err).__name__}: {err}".splitlines()[0], file=sys.stderr)
        raise SystemExit(1) from None
    raise SystemExit(check_main(sys.argv[1:]))

import hashlib
import os
import urllib.error
from pathlib import Path
from urllib.parse import urlparse

import torch
from torch import nn
from torchvision.models import get_model_weights

from shared.architectures import HEAD

# Our model name → torchvision's builder name (for its weight enum) and the default member.
TORCHVISION_NAME = {"alexnet": "alexnet", "mobilenet": "mobilenet_v2", "resnet18": "resnet18", "vit": "vit_b_16"}
DEFAULT_WEIGHTS = {"alexnet": "IMAGENET1K_V1", "mobilenet": "IMAGENET1K_V1", "resnet18": "IMAGENET1K_V1",
                   "vit": "IMAGENET1K_V1"}
FILE_SUFFIXES = (".pth", ".pt", ".safetensors")


class WeightsError(RuntimeError):
    """A one-line, user-facing reason why the pretrained weights cannot be used."""


def weights_enum(model: str):
    if model not in TORCHVISION_NAME:
        raise WeightsError(f"{model} has no ImageNet weights; pretrained modes support: {', '.join(TORCHVISION_NAME)}")
    return get_model_weights(TORCHVISION_NAME[model])


def resolve_weights(model: str, spec: str | None):
    """The enum member (or the local file Path) that `--weights spec` names for this model."""
    enum = weights_enum(model)
    spec = spec or DEFAULT_WEIGHTS[model]
    if spec.endswith(FILE_SUFFIXES) or os.sep in spec:
        path = Path(spec).expanduser()
        if not path.is_file():
            raise WeightsError(f"--weights {spec}: no such file")
        return path
    member = spec.removeprefix(enum.__name__ + ".")
    if member not in enum.__members__:
        raise WeightsError(f"--weights {spec}: not a member of {enum.__name__} (known: "
                           f"{', '.join(enum.__members__)}) nor a {'/'.join(FILE_SUFFIXES)} file")
    return enum[member]


def checkpoint_path(weights) -> Path:
    """Where torch.hub keeps (or would keep) an enum member's file."""
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(urlparse(weights.url).path)


def read_state(weights) -> tuple[dict[str, torch.Tensor], str]:
    """(state_dict, description with the file's SHA-256 prefix) of an enum member or a file."""
    if isinstance(weights, Path):
        path = weights
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file
            state = load_file(path)
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
        name = f"file:{path.name}"
    else:
        path = fetch(weights)
        state = torch.load(path, map_location="cpu", weights_only=True)
        name = repr(weights)
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsError(f"{path}: not a state_dict of tensors")
    return state, f"{name}@sha256:{sha256_prefix(path)}"


def fetch(weights) -> Path:
    """An enum member's file in torch.hub's folder, downloaded there first if it is missing."""
    path = checkpoint_path(weights)
    if not path.exists():
        try:  # torchvision's own download (sha256-prefix checked, into path)
            weights.get_state_dict(progress=True, check_hash=True)
        except (urllib.error.URLError, OSError, RuntimeError) as err:
            raise WeightsError(
                f"{weights!r} is not in {path.parent}/ and could not be downloaded "
                f"({type(err).__name__}); put {path.name} from {weights.url} into {path.parent}/ "
                f"(the folder follows $TORCH_HOME)") from None
    return path


def check_main(args: list[str]) -> int:
    """`python -m pytorch_impl.pretrained MODEL[=SPEC] ...`: whether each model's weights can be
    had (a file there, or an enum member cached or downloaded now), one line per model on stdout."""
    for arg in args:
        model, _, spec = arg.partition("=")
        try:
            weights = resolve_weights(model, spec or None)
            if not isinstance(weights, Path):
                fetch(weights)
            reason = "ok"
        except WeightsError as err:
            reason = str(err)
        print(f"{model}\t{reason}", flush=True)
    return 0


def sha256_prefix(path: Path, length: int = 12) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:length]


def load_backbone(model: nn.Module, name: str, state: dict[str, torch.Tensor]) -> None:
    """Every tensor of the pretrained state except its classifier head, strictly: the model's
    own (seeded, 10-class) head is the only thing not taken from it."""
    head = HEAD[name] + "."
    backbone = {k: v for k, v in state.items() if not k.startswith(head)}
    try:
        result = model.load_state_dict(backbone, strict=False)
    except RuntimeError as err:  # shape mismatches
        detail = next((line.strip() for line in str(err).splitlines() if "size mismatch" in line), str(err))
        raise WeightsError(f"the weights do not fit {name}'s architecture: {detail}") from None
    problems = []
    if missing := [k for k in result.missing_keys if not k.startswith(head)]:
        problems.append(f"missing {', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''}")
    if unexpected := result.unexpected_keys:
        problems.append(f"unexpected {', '.join(unexpected[:3])}{' ...' if len(unexpected) > 3 else ''}")
    if problems:
        raise WeightsError(f"the weights do not fit {name}'s architecture: {'; '.join(problems)}")
