"""What a new training config needs to know about this machine and this dataset: the
device to train on and how often each image appears per epoch.

The device is the machine's as far as loragate can tell without importing PyTorch in the
server: CUDA when NVML sees an NVIDIA GPU (app/gpu_probe.py, cached) or studio.md
names one (the artist trains on a GPU elsewhere, e.g. rented), the CPU otherwise. A
config saved before keeps the device it has; Gate 3 then checks it against the machine.
"""

from __future__ import annotations

from app import gpu_probe
from app.dataset.inventory import DatasetItem
from app.grimoire import GpuEntry, GrimoireError
from app.training.config import Device
from app.workspace import ProjectContext


def device_for(studio_gpu: GpuEntry | None, gpus: gpu_probe.GpuReport) -> Device:
    if gpus.devices:
        return "cuda"
    if studio_gpu is not None and (studio_gpu.name or studio_gpu.vram_gb):
        return "cuda"
    return "cpu"


def machine_device(ctx: ProjectContext) -> Device:
    try:
        studio_gpu: GpuEntry | None = ctx.workspace.studio().gpu
    except GrimoireError:
        studio_gpu = None
    return device_for(studio_gpu, gpu_probe.cached_probe())


def average_repeats(items: list[DatasetItem]) -> float:
    """Times the average included image appears in one epoch (1 when there are none)."""
    included = [item.repeats for item in items if item.included]
    return sum(included) / len(included) if included else 1.0
