"""Gate 3 as a job run by ``app.worker`` in a child process: the check takes seconds at
best and minutes when a driver hangs until a probe's time limit, too long for a web
request. Progress follows the probes as they finish; Cancel stops waiting for them
(see ``probes.run_probes``) and stores nothing."""

from __future__ import annotations

from typing import Any

from app.gate_records import record_result
from app.gates.environment import evaluate
from app.worker import JobHandle

ENVIRONMENT_JOB = "environment.check"


def environment_job(handle: JobHandle) -> dict[str, Any]:
    def progress(done: int, total: int, message: str) -> None:
        handle.raise_if_cancelled()
        handle.progress(done, total, message)

    result = evaluate(handle.ctx, progress)
    handle.raise_if_cancelled()
    record_result(handle.ctx, result)
    handle.progress(1, 1, "Done")
    return {"verdict": result.verdict}
