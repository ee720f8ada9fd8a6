"""What the dry run measures: seconds per step over the steps after the first (the first
is warm-up everywhere: kernels are chosen, memory pools fill), and peak GPU memory, as
the trainer reports it or, for a trainer that does not, as NVML sees the GPU's used
memory grow while it runs."""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass, field
from typing import Any

from app.training.dryrun.events import TrainerEvent

SAMPLE_SECONDS = 0.2  # how often NVML is asked while an external trainer runs


@dataclass
class StepTimes:
    times: list[float] = field(default_factory=list)  # when each step ended
    peaks: list[float] = field(default_factory=list)  # the trainer's own peak figures
    losses: list[float] = field(default_factory=list)

    def add(self, event: TrainerEvent) -> None:
        if event.kind != "step":
            return
        self.times.append(event.time)
        if event.peak_vram_gb is not None:
            self.peaks.append(float(event.peak_vram_gb))
        if event.loss is not None:
            self.losses.append(float(event.loss))

    @property
    def steps(self) -> int:
        return len(self.times)

    @property
    def seconds_per_step(self) -> float | None:
        """Mean over the steps after the first; None with fewer than two steps."""
        if len(self.times) < 2:
            return None
        return (self.times[-1] - self.times[0]) / (len(self.times) - 1)

    @property
    def peak_vram_gb(self) -> float | None:
        return max(self.peaks) if self.peaks else None


class NvmlPeak:
    """The GPUs' used memory above what it was when sampling began, sampled in a thread
    (None without an NVIDIA driver)."""

    def __init__(self) -> None:
        from app.gpu_probe import load_nvml

        self._nvml: Any = load_nvml()
        self._handles: list[Any] = []
        self._base = 0
        self.peak_bytes: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _used(self) -> int:
        return sum(self._nvml.nvmlDeviceGetMemoryInfo(h).used for h in self._handles)

    def __enter__(self) -> NvmlPeak:
        if self._nvml is None:
            return self
        try:
            self._nvml.nvmlInit()
            count = self._nvml.nvmlDeviceGetCount()
            self._handles = [self._nvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
            self._base = self._used()
        except Exception:  # no driver, no GPU: nothing to sample
            self._handles = []
            return self
        if self._handles:
            self.peak_bytes = 0
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(SAMPLE_SECONDS):
            with contextlib.suppress(Exception):
                self.peak_bytes = max(self.peak_bytes or 0, self._used() - self._base)

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._handles:
            with contextlib.suppress(Exception):
                self._nvml.nvmlShutdown()

    @property
    def peak_gb(self) -> float | None:
        return None if not self.peak_bytes else round(self.peak_bytes / 2**30, 3)


def gpu_name(device: str) -> str | None:
    """The GPU the dry run measured on ("CPU" for a CPU run), from NVML."""
    if device != "cuda":
        return "CPU"
    from app.gpu_probe import probe_gpus

    report = probe_gpus()
    return report.devices[0].name if report.devices else None
