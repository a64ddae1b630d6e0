"""Architecture tables that both backends build from (framework-free), so a width or a stride
can never differ between the PyTorch and the Keras model."""

from __future__ import annotations

# Input side of each variant: native CIFAR resolution, or ImageNet's for torchvision's models;
# airbench is the CNN's second design (below), at CIFAR's resolution.
INPUT_SIZE = {"cifar": 32, "imagenet": 224, "airbench": 32}

# Models that read any input side (--image-size, e.g. a cheaper 128 or 160 for the imagenet
# variants): their classifier sits behind a global average pool. AlexNet's classifier reads a fixed
# 6×6 map (torchvision gets it from an adaptive pool, which Keras has no layer for) and ViT-B/16's
# position embeddings are those of a 14×14 patch grid (another side would need them interpolated):
# those two keep their variant's side.
RESIZABLE = ("mobilenet", "resnet18")
SMALLEST_SIDE = 32   # ResNet-18 and MobileNetV2 downsample 32×: below this the last map is empty


def input_size(model: str, variant: str, image_size: int | None = None) -> int:
    """The side the model reads: its variant's, or image_size where the model allows it
    (ValueError with a one-line reason otherwise)."""
    native = INPUT_SIZE[variant]
    if image_size is None or image_size == native:
        return native
    if model not in RESIZABLE:
        raise ValueError(f"{model} reads {native}×{native} images only; --image-size works for "
                         f"{', '.join(RESIZABLE)}")
    if image_size < SMALLEST_SIDE:
        raise ValueError(f"image size {image_size} is below {SMALLEST_SIDE}, where {model}'s last feature map is empty")
    return image_size

# MobileNetV2 inverted-residual stages: (expansion t, output channels c, repeats n, stride s).
# imagenet: torchvision's table. cifar: the well-known CIFAR ports' change — stride 1 in the
# stem and in the first stride-2 stage (the 24-channel one) — so a 32×32 image reaches the last
# stage at 4×4 instead of 1×1. Parameter counts do not change (strides carry no weights).
MOBILENET_V2_STAGES = {
    "imagenet": ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                 (6, 160, 3, 2), (6, 320, 1, 1)),
    "cifar": ((1, 16, 1, 1), (6, 24, 2, 1), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
              (6, 160, 3, 2), (6, 320, 1, 1)),
}
MOBILENET_V2_STEM_STRIDE = {"imagenet": 2, "cifar": 1}
MOBILENET_V2_STEM, MOBILENET_V2_LAST = 32, 1280

# AlexNet: torchvision's five convolutions and three-layer classifier, keeping torchvision's
# module indices (features.0/3/6/8/10, classifier.1/4/6) in both variants.
# Each conv: (out channels, kernel, stride, padding, max-pool after it as (kernel, stride) or None).
ALEXNET_FEATURES = {
    "imagenet": ((64, 11, 4, 2, (3, 2)), (192, 5, 1, 2, (3, 2)), (384, 3, 1, 1, None),
                 (256, 3, 1, 1, None), (256, 3, 1, 1, (3, 2))),
    # 32×32: 3×3 stride-1 convolutions throughout (an 11×11 stride-4 first layer would leave
    # 8×8 after one layer) and 2×2 pools, so the map goes 32 → 16 → 8 → 4 before the classifier.
    "cifar": ((64, 3, 1, 1, (2, 2)), (192, 3, 1, 1, (2, 2)), (384, 3, 1, 1, None),
              (256, 3, 1, 1, None), (256, 3, 1, 1, (2, 2))),
}
# Feature-map side the classifier reads (torchvision: AdaptiveAvgPool2d((6, 6)) at 224 → 6×6),
# and the classifier's hidden width.
ALEXNET_POOLED_SIDE = {"imagenet": 6, "cifar": 4}
ALEXNET_HIDDEN = {"imagenet": 4096, "cifar": 1024}

# Vision Transformer. imagenet: torchvision's vit_b_16. cifar: patch 4 on 32×32 (64 patches + a
# class token), 6 layers of width 192 with 3 heads and an MLP of 384 — ViT-Tiny's width and heads
# at half its depth and half its MLP ratio, about 125 M multiply-adds per image, so one epoch on
# a 2-core CPU takes minutes rather than hours. LayerNorm eps 1e-6 and exact GELU, as torchvision.
VIT = {
    "imagenet": dict(image_size=224, patch_size=16, num_layers=12, num_heads=12, hidden_dim=768, mlp_dim=3072),
    "cifar": dict(image_size=32, patch_size=4, num_layers=6, num_heads=3, hidden_dim=192, mlp_dim=384),
}
VIT_LAYER_NORM_EPS = 1e-6

# The classifier layer of each model (PyTorch module path = Keras layer name): what a pretrained
# model replaces for 10 classes, and the only layer a linear probe trains.
HEAD = {"cnn": "head", "alexnet": "classifier.6", "mobilenet": "classifier.1", "resnet18": "fc",
        "vit": "heads.head"}

# The cifar variants of the BatchNorm networks train from scratch with SGD at a peak learning rate
# of 0.2, and must learn in runs of a few dozen steps as well as in full recipes. Two settings in
# the spirit of airbench's network (Jordan 2024) make that so; both backends' registries apply them:
# - the head's logits are multiplied by a fixed scale (airbench: 1/9): without it the first
#   high-rate steps blew the logits up (training loss 4.6-7.1 after one epoch of 5,000 images,
#   where ln 10 is 2.3);
# - BatchNorm momentum 0.6 (PyTorch's convention, the weight of the new batch; Keras 0.4, as in
#   airbench): with 0.1 the running statistics lag the fast-changing weights of a short run and
#   evaluation fell to chance.
# The measurement behind the two values: docs/results.md, "The short-run settings".
# The imagenet variants stay torchvision's. The ViT has no BatchNorm and trains with AdamW, which
# is invariant to the gradient's scale; AlexNet has no BatchNorm (its fix is its initialisation).
CIFAR_LOGIT_SCALE = {"cnn": 1 / 3, "mobilenet": 1 / 3, "resnet18": 1 / 3}
CIFAR_BATCHNORM_MOMENTUM = 0.6

# Both designs of the custom CNN start with airbench's whitening stem: a frozen 2×2 convolution
# whose filters whiten the training set's 2×2 patches (shared/whitening.py: 2·3·2² = 24 of them,
# each eigenvector and its negative), with a trained bias. In a run of a few dozen steps it is what
# lets the network learn from the first step: the cifar CNN's one epoch of 5,000 images went from
# 33.3 % to 43.0 % with it and airbench's crop (docs/results.md, "The whitening stem").
WHITEN_KERNEL = 2
WHITEN_WIDTH = 2 * 3 * WHITEN_KERNEL ** 2

# The custom CNN's `airbench` variant: the network of airbench94 (Jordan 2024, arXiv 2404.00498;
# KellerJordan/cifar10-airbench), written from the paper's description. A frozen 2×2 convolution
# initialised to whiten the training set's 2×2 patches (shared/whitening.py; its bias trains), GELU,
# then three blocks of conv3×3 → max-pool 2 → BatchNorm → GELU → conv3×3 → BatchNorm → GELU, widths
# 64-256-256 (31 → 15 → 7 → 3), a global max-pool, a Linear layer without bias and its logits × 1/9.
# BatchNorm: no learned scale (the weight stays 1), eps 1e-12, momentum 0.6 (PyTorch's convention).
# Every 3×3 convolution starts as a partial identity (its first in-channels filters are Dirac
# deltas). About 1.97 M parameters and 118 M multiply-adds per image (the cifar CNN: 1.16 M, 65 M).
AIRBENCH = dict(widths=(64, 256, 256), logit_scale=1 / 9,
                batchnorm_eps=1e-12, batchnorm_momentum=0.6)
