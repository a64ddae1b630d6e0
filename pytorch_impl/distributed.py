"""Data-parallel PyTorch on its own engine: torchrun starts one process per device (compare.py
--devices N), each joins the process group (NCCL on GPUs, gloo on the CPU), wraps the model in
DistributedDataParallel and trains on its slice of every global batch (shared/distributed.py has
the contract; tensorflow_impl/distributed.py is the Keras side).

BatchNorm is synchronised across the replicas (nn.SyncBatchNorm on GPUs, GlooSyncBatchNorm on the
CPU): the statistics of the whole global batch, as in a one-device run and as Keras'
synchronized BatchNormalization computes them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from shared.config import RunConfig
from shared.distributed import shard, threads_per_device

from .device import DeviceError, resolve_device


@dataclass
class Replica:
    """This process's place in the run: its rank among world_size replicas, and its device."""
    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        """The replica that writes records and checkpoints, evaluates, and measures alone."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def shard(self, where: slice) -> slice:
        return shard(where, self.rank, self.world_size)

    def sum(self, tensor: torch.Tensor) -> torch.Tensor:
        """The sum of `tensor` over the replicas (itself on one device)."""
        return all_reduce_sum(tensor.clone()) if self.distributed else tensor

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()


def join(cfg: RunConfig) -> Replica:
    """This process's replica: joins the process group torchrun set up (RANK, WORLD_SIZE,
    LOCAL_RANK, MASTER_ADDR/PORT in the environment), or a single replica without torchrun."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size != cfg.devices:
        raise DeviceError(f"the run wants {cfg.devices} devices but {world_size} processes were started "
                          f"(compare.py starts them through torchrun)")
    device = resolve_device(cfg.device)
    if world_size == 1:
        return Replica(0, 1, device)
    rank, local_rank = int(os.environ["RANK"]), int(os.environ["LOCAL_RANK"])
    if device.type == "cuda":
        if local_rank >= torch.cuda.device_count():
            raise DeviceError(f"--devices {cfg.devices}: this machine has {torch.cuda.device_count()} GPU(s)")
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
        dist.init_process_group("nccl", device_id=device)
    else:
        torch.set_num_threads(threads_per_device(world_size))
        dist.init_process_group("gloo")
    return Replica(rank, world_size, device)


def leave(replica: Replica) -> None:
    if replica.distributed and dist.is_initialized():
        dist.destroy_process_group()


def all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    """`tensor`, summed in place over the replicas."""
    dist.all_reduce(tensor)
    return tensor


class SyncBatchNormFunction(torch.autograd.Function):
    """Batch norm over the global batch, on the CPU: what torch's SyncBatchNorm computes with its
    CUDA kernels, in tensor ops. Forward: the global mean, then the global sum of squared
    deviations (two passes, as a one-device batch norm, rather than E[x²] - E[x]², which cancels
    digits when the mean is large). Backward: batch norm's closed-form gradient, as torch's
    SyncBatchNorm computes it, with the global sums of dy and dy·(x - mean) all-reduced; the
    weight and bias gradients stay local, for DDP to average as any other. Tested against
    nn.BatchNorm2d over the whole batch (tests/distributed_check.py): within 1e-6."""

    @staticmethod
    def forward(ctx, x, weight, bias, eps: float):
        channels, dims = x.shape[1], [0, *range(2, x.dim())]
        shape = (1, channels, *[1] * (x.dim() - 2))
        totals = all_reduce_sum(torch.cat([x.sum(dims), x.new_tensor([x.numel() / channels])]))
        n = totals[-1]
        mean = totals[:channels] / n
        centred = x - mean.view(shape)
        variance = all_reduce_sum((centred * centred).sum(dims)) / n
        invstd = torch.rsqrt(variance + eps)
        ctx.save_for_backward(centred, weight, invstd)
        ctx.n, ctx.dims, ctx.shape = n, dims, shape
        ctx.mark_non_differentiable(mean, variance)
        return centred * (invstd * weight).view(shape) + bias.view(shape), mean, variance, n

    @staticmethod
    def backward(ctx, grad, _mean, _variance, _n):
        centred, weight, invstd = ctx.saved_tensors
        dims, shape, channels = ctx.dims, ctx.shape, weight.shape[0]
        sum_dy, sum_dy_centred = grad.sum(dims), (grad * centred).sum(dims)
        sums = all_reduce_sum(torch.cat([sum_dy, sum_dy_centred])) / ctx.n
        mean_dy, mean_dy_centred = sums[:channels].view(shape), sums[channels:].view(shape)
        grad_x = (grad - mean_dy - centred * (invstd * invstd).view(shape) * mean_dy_centred) * (invstd * weight).view(shape)
        return grad_x, sum_dy_centred * invstd, sum_dy, None


class GlooSyncBatchNorm(_BatchNorm):
    """Synchronised BatchNorm on the CPU: torch's nn.SyncBatchNorm refuses CPU tensors (and DDP
    refuses it in a CPU module), so over gloo SyncBatchNormFunction normalises with the global
    batch's mean and (biased) variance; running statistics take the unbiased one, as
    nn.BatchNorm2d does. Outside training, or without a process group, it is plain batch norm."""

    def _check_input_dim(self, x: torch.Tensor) -> None:
        if x.dim() < 2:
            raise ValueError(f"expected at least 2D input (got {x.dim()}D input)")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or not dist.is_initialized() or dist.get_world_size() == 1:
            return super().forward(x)
        y, mean, variance, n = SyncBatchNormFunction.apply(x, self.weight, self.bias, self.eps)
        with torch.no_grad():
            self.num_batches_tracked += 1
            self.running_mean.lerp_(mean, self.momentum)
            self.running_var.lerp_(variance * n / (n - 1), self.momentum)
        return y


def sync_batch_norm(model: nn.Module, device: torch.device) -> nn.Module:
    """Every BatchNorm layer synchronised across the replicas, with the same parameter names
    (checkpoints and initial weights load as before): nn.SyncBatchNorm on GPUs, GlooSyncBatchNorm
    on the CPU (the same state as the BatchNorm it replaces; only forward differs)."""
    if device.type != "cpu":
        return nn.SyncBatchNorm.convert_sync_batchnorm(model)
    for module in model.modules():
        if isinstance(module, _BatchNorm) and module.affine and module.track_running_stats:
            module.__class__ = GlooSyncBatchNorm
    return model


def data_parallel(model: nn.Module, replica: Replica) -> nn.Module:
    """DistributedDataParallel around the model (which then holds rank 0's weights everywhere);
    on one device, the model itself."""
    if not replica.distributed:
        return model
    return nn.parallel.DistributedDataParallel(
        model, device_ids=[replica.device.index] if replica.device.type == "cuda" else None)
