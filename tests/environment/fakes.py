"""Stand-ins for the one boundary this machine cannot reach: an NVIDIA GPU.

``FakeNvml`` implements the few pynvml functions loragate calls and raises pynvml's
own exception classes, so the real probing and translating code runs unchanged. Tests
that use it say "fake NVML" in their names. ``cuda_probe`` builds the result a CUDA
build of PyTorch reports from a machine with a GPU (the child process's JSON, parsed).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pynvml

from app.environment.torch_info import TorchDevice, TorchProbe

GIB = 1024**3


@dataclass
class FakeGpu:
    name: str
    total: int
    free: int
    capability: tuple[int, int]
    processes: list[tuple[int, int | None]] = field(default_factory=list)  # (pid, bytes)


@dataclass
class FakeNvml:
    gpus: list[FakeGpu] = field(default_factory=list)
    driver: str = "570.86.10"
    cuda: int = 12080  # NVML's encoding of 12.8
    fail_init: int | None = None  # an NVML error code raised by nvmlInit
    fail_count: int | None = None  # an NVML error code raised by nvmlDeviceGetCount
    shutdowns: int = 0

    # The exception classes the real probe recognises.
    NVMLError_LibraryNotFound = pynvml.NVMLError_LibraryNotFound

    def nvmlInit(self) -> None:
        if self.fail_init is not None:
            raise pynvml.NVMLError(self.fail_init)

    def nvmlShutdown(self) -> None:
        self.shutdowns += 1

    def nvmlSystemGetDriverVersion(self) -> str:
        return self.driver

    def nvmlSystemGetCudaDriverVersion(self) -> int:
        return self.cuda

    def nvmlDeviceGetCount(self) -> int:
        if self.fail_count is not None:
            raise pynvml.NVMLError(self.fail_count)
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> FakeGpu:
        return self.gpus[index]

    def nvmlDeviceGetName(self, handle: FakeGpu) -> bytes:
        return handle.name.encode()  # older pynvml returns bytes

    def nvmlDeviceGetMemoryInfo(self, handle: FakeGpu) -> Any:
        return SimpleNamespace(
            total=handle.total, free=handle.free, used=handle.total - handle.free
        )

    def nvmlDeviceGetCudaComputeCapability(self, handle: FakeGpu) -> tuple[int, int]:
        return handle.capability

    def nvmlDeviceGetComputeRunningProcesses(self, handle: FakeGpu) -> list[Any]:
        return [SimpleNamespace(pid=pid, usedGpuMemory=used) for pid, used in handle.processes]


def rtx(
    name: str = "NVIDIA GeForce RTX 4090", capability: tuple[int, int] = (8, 9), **kw: Any
) -> FakeGpu:
    return FakeGpu(name, kw.pop("total", 24 * GIB), kw.pop("free", 23 * GIB), capability, **kw)


CU126_ARCHES = ("sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90")
CU128_ARCHES = ("sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120", "compute_120")


def cuda_probe(
    *gpus: FakeGpu,
    version: str = "2.7.1+cu128",
    cuda: str | None = "12.8",
    arch_list: tuple[str, ...] = CU128_ARCHES,
    available: bool = True,
    **extra: Any,
) -> TorchProbe:
    """What the torch probe reports on a machine with these GPUs (fake torch.cuda)."""
    return TorchProbe(
        python="/opt/venv/bin/python",
        python_version="3.11.9",
        version=version,
        cuda=cuda,
        arch_list=arch_list,
        available=available,
        devices=tuple(TorchDevice(g.name, g.capability, g.total) for g in gpus)
        if available
        else (),
        **extra,
    )


def own_pid() -> int:
    return os.getpid()
