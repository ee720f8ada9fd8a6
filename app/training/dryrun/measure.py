"""What the dry run measures: seconds per step over the steps after the first (the first
is warm-up everywhere: kernels are chosen, memory pools fill), and peak GPU memory, as
the trainer reports it or, for a trainer that does not, as NVML sees the GPU's used
memory grow while it runs.

A step's time is when its progress line was read: the same clock for every trainer.
A progress bar redraws at most every 0.1 s, so a line may stand for several steps; the
rate is taken between the first step seen after the first and the last, per step
between them."""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass, field
from typing import Any

from app.training.trainer_output import Progress, TrainerEvent

SAMPLE_SECONDS = 0.2  # how often NVML is asked while an external trainer runs


@dataclass
class StepTimes:
    # (step, when its line was read): each step once, in order. A redraw of a step
    # already seen (tqdm redraws to show a new postfix) is not its end.
    marks: list[tuple[int, float]] = field(default_factory=list)
    peaks: list[float] = field(default_factory=list)  # the trainer's own peak figures

    def add(self, event: TrainerEvent, when: float) -> None:
        if not isinstance(event, Progress) or event.step < 1:
            return
        if event.peak_vram_gb is not None:
            self.peaks.append(float(event.peak_vram_gb))
        if self.marks and event.step <= self.marks[-1][0]:
            return
        self.marks.append((event.step, when))

    @property
    def steps(self) -> int:
        """The last step the trainer reported."""
        return self.marks[-1][0] if self.marks else 0

    @property
    def seconds_per_step(self) -> float | None:
        """Mean over the steps after the first seen; None with fewer than two seen."""
        if len(self.marks) < 2:
            return None
        (first, start), (last, end) = self.marks[0], self.marks[-1]
        return (end - start) / (last - first)

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
