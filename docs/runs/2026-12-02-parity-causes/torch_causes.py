"""Issue 25: what each of PyTorch's per-step extras in our loop costs, at one model's parameters.

    PYTHONPATH=. python docs/runs/2026-12-02-parity-causes/torch_causes.py MODEL fp32|bf16 REPS

Interleaved with the plain loop's equivalent, the median of REPS calls after two untimed: the
optimizer step over our decay groups against one group with decay on all; the loop's extras
(the learning rate set in Python, the running loss and accuracy sums, the divergence check),
which the plain loop does not do. Both optimizers use torch.optim's default (foreach) kernels."""
import sys

import torch

from timing import interleaved_median_ms  # beside this script
from shared.config import resolve
from pytorch_impl.idiomatic import idiomatic_optimizer
from pytorch_impl.models import build_model
from pytorch_impl.optim import make_optimizer, set_learning_rate

model_name, precision, reps = sys.argv[1], sys.argv[2], int(sys.argv[3])
cfg = resolve(model_name, batch_size=128, precision=precision)
torch.manual_seed(0)
model = build_model(model_name, variant="cifar", num_classes=10)
for p in model.parameters():
    p.grad = torch.randn_like(p) * 1e-3


ours, plain = make_optimizer(model, cfg), idiomatic_optimizer(model, cfg)
figures = interleaved_median_ms({"optimizer, ours (groups)": ours.step, "optimizer, one group": plain.step}, reps)
logits, labels = torch.randn(128, 10), torch.randint(0, 10, (128,))
loss_sum, correct, loss = torch.zeros(()), torch.zeros((), dtype=torch.int64), torch.tensor(2.3)


def extras():
    set_learning_rate(ours, cfg.learning_rate(5, 1000))
    loss_sum.add_(loss.float())
    correct.add_((logits.argmax(1) == labels).sum())
    return torch.isfinite(loss_sum).item()


figures.update(interleaved_median_ms({"loop extras": extras}, reps * 20))
print(f"{model_name} {precision} torch: {len(ours.param_groups)} parameter groups, ms per step:")
for name, ms in figures.items():
    print(f"  {name:26s} {ms:9.3f}")
