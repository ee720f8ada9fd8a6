"""Several GPUs: one trainer process per GPU, started by ``accelerate launch`` (or
``torchrun``), which set RANK, WORLD_SIZE and LOCAL_RANK.

Data parallel, as sd-scripts does it through accelerate: every process holds the whole
model and trains on its own share of each epoch's batches; the adapters' gradients are
averaged across processes before each optimizer step, so every process keeps the same
weights. A step therefore sees ``processes × batch size × accumulation`` images.
Process 0 alone reports progress and writes checkpoints, samples and the LoRA; every
process reports its own errors. Each process has its own noise and caption random
streams (seeded from the run's seed and its rank), all saved in checkpoints.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist

# Long enough for process 0 to verify a real SDXL LoRA on the CPU while the others wait.
TIMEOUT = timedelta(minutes=30)


@dataclass(frozen=True)
class Cluster:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def from_environment() -> Cluster:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Cluster()
    return Cluster(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")))


def start(cluster: Cluster, device: str) -> None:
    if cluster.enabled and not dist.is_initialized():
        backend = "nccl" if device == "cuda" else "gloo"
        if device == "cuda":
            torch.cuda.set_device(cluster.local_rank)
        dist.init_process_group(backend, timeout=TIMEOUT)


def finish(cluster: Cluster) -> None:
    if cluster.enabled and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def shard(batches: list[list[int]], cluster: Cluster) -> list[list[int]]:
    """This process's share of an epoch's batches. The list is first extended by
    wrapping around so every process gets as many batches (sd-scripts' accelerate
    dataloaders do the same), or the gradient averaging would wait forever."""
    if not cluster.enabled:
        return batches
    per_process = -(-len(batches) // cluster.world)
    padded = [batches[i % len(batches)] for i in range(per_process * cluster.world)]
    return padded[cluster.rank :: cluster.world]


def average_gradients(params: list[torch.nn.Parameter], cluster: Cluster) -> None:
    """One all-reduce over all adapter gradients flattened together (adapters are
    small; one call beats hundreds)."""
    if not cluster.enabled:
        return
    for param in params:
        if param.grad is None:  # every process must contribute the same tensors
            param.grad = torch.zeros_like(param)
    flat = torch.cat([param.grad.reshape(-1) for param in params])  # type: ignore[union-attr]
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    flat.div_(cluster.world)
    offset = 0
    for param in params:
        size = param.numel()
        param.grad.copy_(flat[offset : offset + size].view_as(param))  # type: ignore[union-attr]
        offset += size


def all_true(flag: bool, cluster: Cluster, device: torch.device) -> bool:
    if not cluster.enabled:
        return flag
    value = torch.tensor([1 if flag else 0], device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MIN)
    return bool(value.item())


def mean(value: float, cluster: Cluster, device: torch.device) -> float:
    if not cluster.enabled:
        return value
    tensor = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return float(tensor.item()) / cluster.world


def gather(obj: Any, cluster: Cluster) -> list[Any]:
    """Every process's ``obj``, in rank order (on every process)."""
    if not cluster.enabled:
        return [obj]
    gathered: list[Any] = [None] * cluster.world
    dist.all_gather_object(gathered, obj)
    return gathered


def barrier(cluster: Cluster) -> None:
    if cluster.enabled:
        dist.barrier()
