"""VRAM in use, total VRAM and GPU utilisation, sampled with NVML (pynvml) where a CUDA
GPU trains; off on a CPU run (no NVML calls at all), and off when NVML cannot start
(no driver): then the trainer's own peak-VRAM figure is all the run shows."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

SAMPLE_INTERVAL = 1.0  # seconds: NVML is cheap, but not free per step


@dataclass(frozen=True)
class GpuSample:
    used_gb: float
    total_gb: float
    utilisation: int  # percent


class GpuSampler:
    def __init__(self, device: str, index: int = 0) -> None:
        self._handle: Any = None
        self._nvml: Any = None
        self._last: GpuSample | None = None
        self._at = 0.0
        if device != "cuda":
            return
        try:
            import pynvml

            pynvml.nvmlInit()
            self._handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            self._nvml = pynvml
        except Exception:  # no NVML library or driver: sampling stays off
            self._handle = None

    @property
    def enabled(self) -> bool:
        return self._handle is not None

    def sample(self) -> GpuSample | None:
        if self._handle is None:
            return None
        now = time.monotonic()
        if self._last is not None and now - self._at < SAMPLE_INTERVAL:
            return self._last
        try:
            memory = self._nvml.nvmlDeviceGetMemoryInfo(self._handle)
            rates = self._nvml.nvmlDeviceGetUtilizationRates(self._handle)
        except Exception:
            return self._last
        self._last = GpuSample(memory.used / 1024**3, memory.total / 1024**3, int(rates.gpu))
        self._at = now
        return self._last
