"""How far apart two backends drift in the first steps of a real run, against how far one backend
drifts from itself: the check behind "is a gap between PyTorch and Keras a difference in the
rules, or rounding that the training amplifies?" (docs/results.md, "Is Keras ahead?").

    python tests/drift_check.py MODEL [--steps N] [--batch-size B] [--dtype float64|float32]

Both runs take the recipe's first N planned batches of the real training set (CIFAR10_DATA,
augmented by the shared plan), its optimizer, loss and learning rates, dropout off (each
framework draws its own masks):
- twins: PyTorch and Keras from the same initial weights (the port);
- control: PyTorch against a copy of itself whose weights differ by a relative 1e-9.
It prints the relative loss gap of each per step. In float64, equal rules keep the twins at
round-off (1e-9 here) until the trajectory reaches a step that amplifies any difference (a
max-pool near-tie, a ReLU at zero, a BatchNorm channel of tiny variance); the control shows where
that happens for this model by itself. Twins that part well before the control would point at a
rule that differs.
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from conftest import twin_training_steps, without_dropout  # noqa: E402  (imports PyTorch before TensorFlow)

import numpy as np  # noqa: E402
import torch  # noqa: E402

import tensorflow_impl  # noqa: E402,F401
import keras  # noqa: E402

from pytorch_impl import models as torch_models, weights as torch_weights  # noqa: E402
from pytorch_impl.optim import make_loss, make_optimizer, set_learning_rate  # noqa: E402
from shared.batch_plan import train_batch  # noqa: E402
from shared.config import MODELS, resolve  # noqa: E402
from shared.run import load_split, normalization, run_whitening_filters  # noqa: E402
from tensorflow_impl import models as keras_models, weights as keras_weights  # noqa: E402

CONTROL_PERTURBATION = 1e-9


def control_losses(model, cfg, dtype: str, lrs, batch) -> list[tuple[float, float]]:
    """The losses of PyTorch's model and of a copy perturbed by CONTROL_PERTURBATION, per step."""
    model = model.to(getattr(torch, dtype)).train()
    twin = copy.deepcopy(model)  # perturbed in `dtype`: in float32 a 1e-9 change would round away
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for param in twin.parameters():
            param.mul_(1 + CONTROL_PERTURBATION * torch.randn(param.shape, generator=generator, dtype=param.dtype))
    pairs = [(m, make_optimizer(m, cfg)) for m in (model, twin)]
    loss_fn, losses = make_loss(cfg), []
    for step, lr in enumerate(lrs):
        x, y = batch(step)
        x, y = torch.from_numpy(x).permute(0, 3, 1, 2), torch.from_numpy(y)
        values = []
        for net, optimizer in pairs:
            set_learning_rate(optimizer, lr)
            loss = loss_fn(net(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            values.append(loss.item())
        losses.append(tuple(values))
    return losses


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", choices=MODELS)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--dtype", choices=("float64", "float32"), default="float64")
    parser.add_argument("--subset", type=int, default=10000, help="the run's training images (its plan)")
    parser.add_argument("--epochs", type=int, default=3, help="the run's length (its schedule)")
    args = parser.parse_args(argv)
    if args.dtype == "float64":
        keras.config.set_dtype_policy("float64")
        keras.config.set_floatx("float64")
    cfg = resolve(args.model, batch_size=args.batch_size, subset=args.subset, epochs=args.epochs,
                  data_dir=os.environ.get("CIFAR10_DATA"))
    split = load_split(cfg)
    mean, std = (np.asarray(v, dtype=args.dtype) for v in normalization(cfg))
    plan = cfg.plan(1, len(split.x_train))
    slices = plan.batch_slices(cfg.batch_size)
    if args.steps > len(slices):
        parser.error(f"--steps {args.steps}: the first epoch has {len(slices)} batches of {cfg.batch_size}")
    lrs = [cfg.learning_rate(step, len(slices) * cfg.epochs) for step in range(args.steps)]

    def batch(step):
        images, labels = train_batch(split.x_train, split.y_train, plan, slices[step])
        return (images.astype(args.dtype) - mean) / std, labels

    torch.manual_seed(cfg.seed)
    torch_model = torch_models.build_model(args.model, variant=cfg.variant)
    if hasattr(torch_model, "whiten"):  # the CNN: whitened from the run's images, as init_weights does
        with torch.no_grad():
            torch_model.whiten.weight.copy_(torch.from_numpy(run_whitening_filters(cfg, split.x_train)))
    keras_model = keras_models.build_model(args.model, variant=cfg.variant)
    keras_weights.load_torch_state(keras_model, torch_weights.to_torch_state(torch_model))
    without_dropout(torch_model, keras_model)
    control_model = copy.deepcopy(torch_model)
    twins, _, _ = twin_training_steps(torch_model, keras_model, cfg, args.dtype, lrs, batch)
    control = control_losses(control_model, cfg, args.dtype, lrs, batch)
    print(f"{args.model} ({cfg.variant}), {args.dtype}, batch {cfg.batch_size}, the first {args.steps} planned "
          f"batches of {len(split.x_train):,} images; relative loss gap per step:")
    print("step  lr       PyTorch loss    twins (Keras)  control (PyTorch, weights × (1 ± 1e-9))")
    for step, (lr, (torch_loss, keras_loss), (a, b)) in enumerate(zip(lrs, twins, control), 1):
        print(f"{step:4d}  {lr:.4f}  {torch_loss:.10f}  {abs(keras_loss - torch_loss) / abs(torch_loss):.1e}"
              f"        {abs(b - a) / abs(a):.1e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
