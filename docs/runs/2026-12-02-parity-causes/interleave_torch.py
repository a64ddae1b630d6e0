"""Issue 25: ours and the idiomatic reference in alternating windows of the same staged batch.

    PYTHONPATH=. python docs/runs/2026-12-02-parity-causes/interleave_torch.py MODEL fp32|bf16 ROUNDS

The bench times the reference after everything else, in a stream of its own; here the two
alternate window by window (3 steps each, after 5 untimed of each), so drift and the state of the
caches reach both alike. Ours is train.py's step with the loop's per-step extras."""
import copy
import statistics
import sys
import time

import torch
import torch.nn.functional as F

from shared.config import resolve
from pytorch_impl.device import autocast
from pytorch_impl.idiomatic import idiomatic_optimizer
from pytorch_impl.models import build_model
from pytorch_impl.optim import make_loss, make_optimizer, set_learning_rate
from pytorch_impl.train import train_step

model_name, precision, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
cfg = resolve(model_name, batch_size=128, precision=precision)
device = torch.device("cpu")
torch.manual_seed(0)
model = build_model(model_name, variant="cifar", num_classes=10).to(memory_format=torch.channels_last)
reference = copy.deepcopy(model)
x = torch.randn(128, 3, 32, 32).contiguous(memory_format=torch.channels_last)
y = torch.randint(0, 10, (128,))
ours_opt, loss_fn, scaler = make_optimizer(model, cfg), make_loss(cfg), torch.amp.GradScaler("cpu", enabled=False)
ref_opt = idiomatic_optimizer(reference, cfg)
model.train(), reference.train()
loss_sum, correct, step = torch.zeros(()), torch.zeros((), dtype=torch.int64), [0]


def ours():
    set_learning_rate(ours_opt, cfg.learning_rate(step[0], 10**6))
    loss, logits = train_step(model, ours_opt, scaler, loss_fn, x, y, cfg, device)
    loss_sum.add_(loss.float())
    correct.add_((logits.argmax(1) == y).sum())
    step[0] += 1
    if step[0] % 10 == 0:
        torch.isfinite(loss_sum).item()


def idiomatic():
    with autocast(device, cfg.precision):
        loss = F.cross_entropy(reference(x), y, label_smoothing=cfg.label_smoothing)
    ref_opt.zero_grad(set_to_none=True)
    loss.backward()
    ref_opt.step()


def window(step_fn, steps):
    start = time.perf_counter()
    for _ in range(steps):
        step_fn()
    return 128 * steps / (time.perf_counter() - start)


window(ours, 5), window(idiomatic, 5)
pairs = [(window(ours, 3), window(idiomatic, 3)) for _ in range(rounds)]
o, i = statistics.median(p[0] for p in pairs), statistics.median(p[1] for p in pairs)
ratios = statistics.quantiles([a / b for a, b in pairs], n=4)  # the pair ratios' quartiles
print(f"{model_name} {precision} torch interleaved, {rounds} pairs: ours {o:.1f} img/s, idiomatic {i:.1f} img/s, "
      f"ratio of medians {o / i:.3f}, median pair ratio {ratios[1]:.3f} (quartiles {ratios[0]:.3f}–{ratios[2]:.3f})")
