"""Gate 4 as a job run by ``app.worker`` in a child process (a GPU job: it waits for the
GPU like any other). The trainer runs as this process's child, in its process group, so
Cancel ends both. Each line the trainer prints goes to the job's log and out as a
``log`` event (the Dry run page streams them); steps are progress.

Params: ``steps`` (2-5, default 3), ``timeout`` (seconds; tests shorten it)."""

from __future__ import annotations

from typing import Any

from app.gate_records import record_result
from app.gates.dryrun import evaluate, may_start
from app.models import Job
from app.training.dryrun.plan import clamp_steps
from app.worker import JobHandle, Worker
from app.workspace import ProjectContext

DRYRUN_JOB = "training.dryrun"
TITLE = "Dry run"


class _JobReporter:
    def __init__(self, handle: JobHandle) -> None:
        self.handle = handle

    def line(self, text: str) -> None:
        self.handle.log(text)
        self.handle.event("log", line=text)

    def progress(self, done: int, total: int, message: str) -> None:
        self.handle.progress(done, total, message)


def dryrun_job(handle: JobHandle) -> dict[str, Any]:
    steps = clamp_steps(handle.params.get("steps"))
    timeout = handle.params.get("timeout")
    result = evaluate(handle.ctx, steps, _JobReporter(handle), timeout)
    handle.raise_if_cancelled()  # a trainer ended by Cancel judged nothing
    record_result(handle.ctx, result)
    return {
        "verdict": result.verdict,
        "findings": [finding.model_dump() for finding in result.findings],
        "measurement": result.stats.get("measurement"),
        "log_tail": result.stats.get("log_tail", []) if result.verdict == "block" else [],
    }


class DryRunRefused(RuntimeError):
    """Gates 1-3 do not all pass now; ``reasons`` says which and why."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__(" ".join(reasons))
        self.reasons = reasons


def start_dry_run(worker: Worker, ctx: ProjectContext, steps: int | None = None) -> Job:
    """The one way a page or a command starts a dry run: refused (DryRunRefused) unless
    Gates 1-3 pass on the inputs as they are now; JobBusy while one runs."""
    reasons = may_start(ctx)
    if reasons:
        raise DryRunRefused(reasons)
    return worker.start(DRYRUN_JOB, ctx.project.id, {"steps": clamp_steps(steps)}, title=TITLE)
