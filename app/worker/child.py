"""The child process of one job: ``python -m app.worker JOB_FILE``.

It opens the workspace the server uses (settings from the job file), calls the kind's
work function with a ``JobHandle``, and writes what happens as events: progress while
it runs, then exactly one ``end`` event (done with the result, failed with a plain
message, or cancelled). Everything it prints, tracebacks included, goes to the job's
log beside the event file. SIGTERM (Cancel) sets the handle's cancel flag: work stops
at its next check, and whatever fails after a cancel counts as cancelled.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import sys
import time
import traceback
from pathlib import Path
from types import FrameType
from typing import Any

from app.worker.eventfile import END, EventWriter

# Progress is written at most this often (seconds) unless its message changes: an
# audit of 10,000 files must not write 10,000 events.
PROGRESS_INTERVAL = 0.1


class JobCancelled(Exception):
    """Raised inside a work function when the artist pressed Cancel."""


class JobHandle:
    """What a work function receives: its job's parameters and project, progress
    reporting, a log, and the cancel flag."""

    def __init__(self, job_id: int, params: dict[str, Any], writer: EventWriter) -> None:
        self.id = job_id
        self.params = params
        self.ctx: Any = None  # the ProjectContext, for jobs of a project
        self._writer = writer
        self._cancelled = False
        self._done = 0
        self._total = 0
        self._message = ""
        self._last_write = 0.0

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def cancel(self) -> None:
        self._cancelled = True

    def raise_if_cancelled(self) -> None:
        if self._cancelled:
            raise JobCancelled()

    def progress(self, done: int, total: int | None = None, message: str | None = None) -> None:
        self._done = done
        if total is not None:
            self._total = total
        changed = message is not None and message != self._message
        if message is not None:
            self._message = message
        now = time.monotonic()
        if changed:
            self.log(self._message)
        if changed or now - self._last_write >= PROGRESS_INTERVAL or done == self._total:
            self._last_write = now
            self.event("progress", done=self._done, total=self._total, message=self._message)

    def event(self, type_: str, **data: Any) -> None:
        self._writer.write(type_, **data)

    def log(self, text: str) -> None:
        print(f"{time.strftime('%H:%M:%S')} {text}", flush=True)


def _work_function(entry: str) -> Any:
    module, _, name = entry.partition(":")
    return getattr(importlib.import_module(module), name)


def _open_project(handle: JobHandle, spec: dict[str, Any]) -> None:
    if spec.get("project_id") is None:
        return
    from app.models import Project
    from app.settings import Settings
    from app.workspace import Workspace

    workspace = Workspace(Settings(**spec["settings"]), migrate=False)
    with workspace.db.reading() as session:
        project = session.get(Project, spec["project_id"])
    if project is None:
        raise RuntimeError("The project this job belongs to no longer exists.")
    handle.ctx = workspace.context(project)


def plain_error(exc: BaseException) -> str:
    text = str(exc).strip()
    return text or f"{type(exc).__name__} (the log below says more)"


def run(job_file: Path) -> int:
    spec = json.loads(job_file.read_text(encoding="utf-8"))
    writer = EventWriter(Path(spec["events_path"]))
    handle = JobHandle(spec["job_id"], spec.get("params", {}), writer)

    def on_term(_signum: int, _frame: FrameType | None) -> None:
        handle.cancel()

    signal.signal(signal.SIGTERM, on_term)
    handle.log(f"Job {spec['job_id']} ({spec['kind']}) started, process {os.getpid()}")
    try:
        _open_project(handle, spec)
        result = _work_function(spec["entry"])(handle) or {}
    except JobCancelled:
        handle.log("Cancelled.")
        writer.write(END, state="cancelled")
    except BaseException as exc:
        traceback.print_exc()
        sys.stdout.flush()
        if handle.cancelled or isinstance(exc, KeyboardInterrupt):
            writer.write(END, state="cancelled")
        else:
            handle.log(f"Failed: {plain_error(exc)}")
            writer.write(END, state="failed", error=plain_error(exc))
            return 1
    else:
        handle.log("Done.")
        writer.write(END, state="done", result=result)
    finally:
        writer.close()
    return 0
