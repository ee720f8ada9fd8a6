"""The NVIDIA GPUs as the driver sees them, through NVML (the ``nvidia-ml-py`` package,
imported as ``pynvml``): names, memory, driver and CUDA versions, compute capability,
and other programs holding GPU memory.

NVML is the driver's own library, so it answers even when PyTorch is broken, and it
never creates a CUDA context (cheap and safe in the web server's process). A missing
package, a missing library (no NVIDIA driver) and a failing driver are each reported as
what they are, never as a traceback.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from app.cuda_matrix import from_nvml_cuda

NvmlStatus = Literal["ok", "package_missing", "library_missing", "driver_error", "no_gpu"]

# The overview page asks for the fingerprint on every load; NVML's start-up can take a
# second on machines with many GPUs, so a probe is reused for this long.
CACHE_SECONDS = 30.0


@dataclass(frozen=True)
class GpuProcess:
    pid: int
    used_bytes: int | None  # None: the driver does not say (e.g. Windows WDDM)
    name: str = ""


@dataclass(frozen=True)
class GpuDevice:
    index: int
    name: str
    total_bytes: int
    free_bytes: int
    capability: tuple[int, int] | None
    other_processes: tuple[GpuProcess, ...] = ()

    @property
    def others_bytes(self) -> int:
        return sum(p.used_bytes or 0 for p in self.other_processes)


@dataclass(frozen=True)
class GpuReport:
    status: NvmlStatus
    driver_version: str | None = None
    driver_cuda: tuple[int, int] | None = None
    devices: tuple[GpuDevice, ...] = ()
    error: str | None = None  # NVML's own words when it failed
    probed_at: float = field(default=0.0, compare=False)

    @property
    def identity(self) -> str:
        """What the fingerprint records: the GPU models and the driver."""
        if self.status != "ok":
            return f"no usable NVML ({self.status})"
        names = ", ".join(device.name for device in self.devices)
        return f"{names} · driver {self.driver_version}"


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def load_nvml() -> Any | None:
    try:
        import pynvml
    except ImportError:
        return None
    return pynvml


def probe_gpus(nvml: Any | None = None) -> GpuReport:
    """Ask NVML. ``nvml`` is the ``pynvml`` module; tests on machines without an NVIDIA
    GPU pass an object with the same few functions instead."""
    nvml = nvml if nvml is not None else load_nvml()
    now = time.monotonic()
    if nvml is None:
        return GpuReport("package_missing", error="No module named 'pynvml'", probed_at=now)
    try:
        nvml.nvmlInit()
    except Exception as exc:
        status: NvmlStatus = "library_missing" if _library_missing(nvml, exc) else "driver_error"
        return GpuReport(status, error=_nvml_error(exc), probed_at=now)
    try:
        driver = _text(nvml.nvmlSystemGetDriverVersion())
        driver_cuda = from_nvml_cuda(int(nvml.nvmlSystemGetCudaDriverVersion()))
        devices = tuple(_device(nvml, index) for index in range(nvml.nvmlDeviceGetCount()))
    except Exception as exc:
        return GpuReport("driver_error", error=_nvml_error(exc), probed_at=now)
    finally:
        # Shutting down a half-broken NVML must not hide the real error.
        with contextlib.suppress(Exception):
            nvml.nvmlShutdown()
    if not devices:
        return GpuReport("no_gpu", driver, driver_cuda, probed_at=now)
    return GpuReport("ok", driver, driver_cuda, devices, probed_at=now)


def _library_missing(nvml: Any, exc: Exception) -> bool:
    missing = getattr(nvml, "NVMLError_LibraryNotFound", None)
    return isinstance(missing, type) and isinstance(exc, missing)


def _nvml_error(exc: Exception) -> str:
    text = str(exc).strip()
    return text or type(exc).__name__


def _device(nvml: Any, index: int) -> GpuDevice:
    handle = nvml.nvmlDeviceGetHandleByIndex(index)
    memory = nvml.nvmlDeviceGetMemoryInfo(handle)
    try:
        major, minor = nvml.nvmlDeviceGetCudaComputeCapability(handle)
        capability: tuple[int, int] | None = (int(major), int(minor))
    except Exception:
        capability = None
    return GpuDevice(
        index=index,
        name=_text(nvml.nvmlDeviceGetName(handle)),
        total_bytes=int(memory.total),
        free_bytes=int(memory.free),
        capability=capability,
        other_processes=_other_processes(nvml, handle),
    )


def _other_processes(nvml: Any, handle: Any) -> tuple[GpuProcess, ...]:
    try:
        running = list(nvml.nvmlDeviceGetComputeRunningProcesses(handle))
    except Exception:  # not supported on some cards and drivers: simply unknown
        return ()
    found = []
    for process in running:
        pid = int(process.pid)
        if pid == os.getpid():
            continue
        used = getattr(process, "usedGpuMemory", None)
        found.append(GpuProcess(pid, int(used) if used is not None else None, _process_name(pid)))
    return tuple(found)


def _process_name(pid: int) -> str:
    try:
        import psutil

        return str(psutil.Process(pid).name())
    except Exception:  # gone already, or another user's process
        return ""


_cache_lock = threading.Lock()
_cached: GpuReport | None = None


def cached_probe(max_age: float = CACHE_SECONDS) -> GpuReport:
    """A probe at most ``max_age`` seconds old (for fingerprints)."""
    global _cached
    with _cache_lock:
        if _cached is None or time.monotonic() - _cached.probed_at > max_age:
            _cached = probe_gpus()
        return _cached


def remember(report: GpuReport) -> None:
    """A fresh probe (from a full check) also serves the next fingerprints."""
    global _cached
    with _cache_lock:
        _cached = report
