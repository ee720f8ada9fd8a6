"""The slow probes of Gate 3, run at the same time in child processes: PyTorch, the
trainer's imports, and a kernel smoke test on each training device. Each is reported
as it finishes, so a page can show the check moving (it takes from seconds to a few
minutes when a driver hangs until its time limit)."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any

from app.environment.backends import BackendSetup, ImportCheck, check_imports
from app.environment.smoke import SmokeResult, run_smoke_test
from app.environment.torch_info import TorchProbe, probe_torch

# done, total, what just finished; may raise (a cancelled job) to stop waiting.
Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class Probes:
    torch: TorchProbe
    imports: ImportCheck | None
    smoke: tuple[SmokeResult, ...]


def run_probes(
    setup: BackendSetup, devices: list[str], precision: str, progress: Progress | None = None
) -> Probes:
    """Probe PyTorch and the trainer with its Python, and run the smoke test on each of
    ``devices`` in ``precision``."""
    pool = ThreadPoolExecutor(max_workers=4)
    try:
        torch_job = pool.submit(probe_torch, setup.python)
        imports_job = pool.submit(check_imports, setup)
        smoke_jobs = [
            pool.submit(run_smoke_test, setup.python, device, precision) for device in devices
        ]
        names: dict[Future[Any], str] = {
            torch_job: "PyTorch",
            imports_job: f"the imports of {setup.title}",
        }
        names |= {
            job: f"the kernel test on {d}" for job, d in zip(smoke_jobs, devices, strict=True)
        }
        report = progress or _quiet
        report(0, len(names), "PyTorch, the trainer and a test kernel load in separate processes")
        for done, job in enumerate(as_completed(names), 1):
            report(done, len(names), f"Checked {names[job]}")
        return Probes(
            torch_job.result(), imports_job.result(), tuple(job.result() for job in smoke_jobs)
        )
    finally:
        # When progress raised (a cancelled check) nothing waits for the rest: each
        # child ends on its own within its time limit and its answer is dropped.
        pool.shutdown(wait=False, cancel_futures=True)


def _quiet(done: int, total: int, message: str) -> None:
    return None
