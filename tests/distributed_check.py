"""One epoch of a small check model on N devices through the project's data-parallel path, its
final weights saved: tests/test_distributed.py compares N = 2 with N = 1.

    python tests/distributed_check.py torch DEVICES OUT.npz        (under torchrun when DEVICES > 1)
    python tests/distributed_check.py tensorflow DEVICES OUT.npz
    python tests/distributed_check.py batchnorm 2 OUT.npz           (under torchrun)

The saved arrays: "final/<name>" and "initial/<name>" per weight; for batchnorm, the largest
differences between GlooSyncBatchNorm over the replicas and nn.BatchNorm2d over the global batch.

Why a check model and not the CNN: the CNN's first steps amplify float32 rounding, through its
max-pools (a near-tie picks the other element) and BatchNorm, to 1e-3 in the weights within
4 steps, with no distribution involved (measured: one process, 1 thread against 2). Equality
within 1e-5 can only be asked of a model whose training is not that sensitive: convolutions,
ReLU, average pooling, no BatchNorm ("a BN-free check model", issue 8). Synchronised BatchNorm
is checked apart, layer against layer (test_gloo_sync_batch_norm_is_batch_norm_of_the_global_batch).
Everything else is the product's: the shared plan on real data, the replica slicing, DDP /
MirroredStrategy, the optimizer, the loss, the schedule.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from shared.batch_plan import steps_per_epoch  # noqa: E402
from shared.config import resolve  # noqa: E402
from shared.run import load_split  # noqa: E402

CHECK = dict(subset=512, batch_size=64, epochs=1, lr=0.05, device="cpu")  # 8 steps


def torch_check(cfg, out: Path) -> None:
    import torch
    from torch import nn

    from pytorch_impl.distributed import data_parallel, join, leave
    from pytorch_impl.device import grad_scaler
    from pytorch_impl.optim import make_loss, make_optimizer
    from pytorch_impl.train import train_epoch

    replica = join(cfg)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 32, 3, stride=2, padding=1),
                          nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10))
    model.to(memory_format=torch.channels_last)
    initial = {name: value.numpy().copy() for name, value in model.state_dict().items()}
    optimizer = make_optimizer(model, cfg)
    train_epoch(data_parallel(model, replica), optimizer, grad_scaler(replica.device, "fp32"), make_loss(cfg),
                load_split(cfg), cfg, 1, replica.device, replica=replica)
    if replica.is_main:
        np.savez(out, **{f"final/{name}": value.numpy() for name, value in model.state_dict().items()},
                 **{f"initial/{name}": value for name, value in initial.items()})
    leave(replica)


def batchnorm_check(cfg, out: Path) -> None:
    """GlooSyncBatchNorm on each replica's half of a batch against nn.BatchNorm2d on all of it:
    outputs, input gradients, weight and bias gradients (summed over the replicas, as DDP's
    average of the per-replica losses' gradients times N), running statistics."""
    import torch
    import torch.distributed as dist
    from torch import nn

    from pytorch_impl.distributed import join, leave, sync_batch_norm

    replica = join(cfg)
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(64, 16, 8, 8, generator=generator) * 2 + 3  # an offset mean, as after a ReLU
    upstream = torch.randn(64, 16, 8, 8, generator=generator)
    full = nn.BatchNorm2d(16)
    with torch.no_grad():
        full.weight.uniform_(0.5, 1.5, generator=generator)
        full.bias.normal_(generator=generator)
    synced = sync_batch_norm(nn.Sequential(nn.BatchNorm2d(16)), replica.device)[0]
    synced.load_state_dict(full.state_dict())
    everything = x.clone().requires_grad_()
    expected = full(everything)
    expected.backward(upstream)
    part = replica.shard(slice(0, 64))
    mine = x[part].clone().requires_grad_()
    y = synced(mine)
    y.backward(upstream[part])
    grads = [synced.weight.grad.clone(), synced.bias.grad.clone()]
    for grad in grads:
        dist.all_reduce(grad)
    # relative where the figures are sums over the whole batch (gradients of scale and shift)
    diffs = {"output": (y - expected[part]).abs().max(), "input_grad": (mine.grad - everything.grad[part]).abs().max(),
             "weight_grad": ((grads[0] - full.weight.grad).abs() / full.weight.grad.abs()).max(),
             "bias_grad": ((grads[1] - full.bias.grad).abs() / full.bias.grad.abs()).max(),
             "running_mean": (synced.running_mean - full.running_mean).abs().max(),
             "running_var": (synced.running_var - full.running_var).abs().max()}
    if replica.is_main:
        np.savez(out, **{name: value.detach().numpy() for name, value in diffs.items()})
    leave(replica)


def tensorflow_check(cfg, out: Path) -> None:
    import tensorflow_impl  # noqa: F401 — TensorFlow's environment, before it is imported
    import keras

    from tensorflow_impl.callbacks import FollowSchedule
    from tensorflow_impl.device import resolve_device
    from tensorflow_impl.distributed import distributed_training_batches, replicate
    from tensorflow_impl.optim import make_loss, make_optimizer

    strategy = replicate(cfg, resolve_device("cpu"))
    keras.utils.set_random_seed(0)
    split = load_split(cfg)
    with strategy.scope():
        model = keras.Sequential([
            keras.Input((32, 32, 3)), keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
            keras.layers.Conv2D(32, 3, strides=2, padding="same", activation="relu"),
            keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(10)])
        model.compile(optimizer=make_optimizer(cfg), loss=make_loss(cfg))
    steps = steps_per_epoch(len(split.x_train), cfg.batch_size)
    initial = model.get_weights()
    model.fit(distributed_training_batches(strategy, split, cfg), epochs=1, steps_per_epoch=steps,
              callbacks=[FollowSchedule(cfg, steps)], shuffle=False, verbose=0)
    np.savez(out, **{f"final/{i}": np.asarray(w) for i, w in enumerate(model.get_weights())},
             **{f"initial/{i}": np.asarray(w) for i, w in enumerate(initial)})


if __name__ == "__main__":
    backend, devices, out = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
    cfg = resolve("cnn", devices=devices, **CHECK)
    {"torch": torch_check, "tensorflow": tensorflow_check, "batchnorm": batchnorm_check}[backend](cfg, out)
