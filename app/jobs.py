"""Background jobs: long work (an audit of thousands of images now; auto-captioning and
evaluation later) runs in a worker thread of the server process, reports its progress,
can be cancelled, and keeps its state in the ``job`` table so that a page reload (or a
second tab) shows where it stands.

How to run something in the background::

    runner = JobRunner(workspace.db)          # one per server process (app.state.jobs)

    def work(handle: JobHandle) -> dict[str, Any]:
        handle.progress(0, len(files), "Checking images")
        for done, path in enumerate(files, 1):
            handle.raise_if_cancelled()       # between units of work
            check(path)
            handle.progress(done)
        return {"images": len(files)}         # stored as the job's result

    job = runner.start("dataset.audit", work, project_id=project.id, title="Auditing")

Rules a work function follows:

- It calls ``raise_if_cancelled()`` (or reads ``cancelled``) often enough that Cancel
  takes effect within a second or two; ``JobCancelled`` ends it in state "cancelled".
- CPU-bound parts may use their own process pool; the thread only orchestrates.
- Any other exception fails the job; its message (never a traceback) is shown.
- Its result (a JSON-able dict) is what the page shows when the job is done.

One job per (project, kind) runs at a time: ``start`` raises ``JobBusy`` with the
running one. Nothing survives a restart: jobs left "queued" or "running" by a previous
process are marked "interrupted" by ``recover_interrupted``; work that caches its
results (the audit does) makes running it again cheap.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from sqlmodel import col, select

from app.db import Database
from app.models import Job
from app.models.base import utcnow

logger = logging.getLogger(__name__)

ACTIVE_STATES = ("queued", "running")
FINISHED_STATES = ("done", "failed", "cancelled", "interrupted")
# Progress is written at most this often (seconds): a job over 10,000 files must not
# turn into 10,000 write transactions.
PROGRESS_INTERVAL = 0.25


class JobCancelled(Exception):
    """Raised inside a work function when the artist pressed Cancel."""


class JobBusy(RuntimeError):
    def __init__(self, job: Job) -> None:
        super().__init__(f"“{job.title or job.kind}” is already running.")
        self.job = job


class JobHandle:
    """What a work function receives: progress reporting and the cancel flag."""

    def __init__(self, runner: JobRunner, job_id: int) -> None:
        self._runner = runner
        self.id = job_id
        self._cancel = threading.Event()
        self._done = 0
        self._total = 0
        self._message = ""
        self._last_write = 0.0

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def raise_if_cancelled(self) -> None:
        if self._cancel.is_set():
            raise JobCancelled()

    def progress(self, done: int, total: int | None = None, message: str | None = None) -> None:
        self._done = done
        if total is not None:
            self._total = total
        if message is not None:
            self._message = message
        now = time.monotonic()
        if message is not None or now - self._last_write >= PROGRESS_INTERVAL:
            self._last_write = now
            self._runner._write(self.id, done=self._done, total=self._total, message=self._message)


Work = Callable[[JobHandle], dict[str, Any] | None]


class JobRunner:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._lock = threading.Lock()
        self._handles: dict[int, JobHandle] = {}
        self._threads: dict[int, threading.Thread] = {}

    def recover_interrupted(self) -> int:
        """Mark jobs a previous process left unfinished as interrupted."""
        with self.db.writing() as session:
            stale = session.exec(select(Job).where(col(Job.state).in_(ACTIVE_STATES))).all()
            for job in stale:
                job.state = "interrupted"
                job.message = "loragate stopped while this was running. Run it again."
                job.finished_at = job.updated_at = utcnow()
                session.add(job)
        return len(stale)

    def start(
        self, kind: str, work: Work, *, project_id: int | None = None, title: str = ""
    ) -> Job:
        with self._lock:
            running = self.active(kind, project_id)
            if running is not None:
                raise JobBusy(running)
            with self.db.writing() as session:
                job = Job(project_id=project_id, kind=kind, title=title, state="queued")
                session.add(job)
                session.flush()
                session.refresh(job)
            assert job.id is not None
            handle = JobHandle(self, job.id)
            thread = threading.Thread(
                target=self._run, args=(handle, work), name=f"job-{job.id}-{kind}", daemon=True
            )
            self._handles[job.id] = handle
            self._threads[job.id] = thread
            thread.start()
        return job

    def get(self, job_id: int) -> Job | None:
        with self.db.reading() as session:
            return session.get(Job, job_id)

    def active(self, kind: str | None, project_id: int | None) -> Job | None:
        """The queued or running job of this kind (any kind when None) for the project."""
        statement = select(Job).where(col(Job.state).in_(ACTIVE_STATES))
        if kind is not None:
            statement = statement.where(Job.kind == kind)
        statement = statement.where(Job.project_id == project_id)
        with self.db.reading() as session:
            return session.exec(statement.order_by(col(Job.id).desc())).first()

    def latest(self, kind: str, project_id: int | None) -> Job | None:
        statement = (
            select(Job)
            .where(Job.kind == kind, Job.project_id == project_id)
            .order_by(col(Job.id).desc())
            .limit(1)
        )
        with self.db.reading() as session:
            return session.exec(statement).first()

    def cancel(self, job_id: int) -> bool:
        """Ask a running job to stop. False when it is not running in this process."""
        handle = self._handles.get(job_id)
        if handle is None:
            return False
        handle._cancel.set()
        self._write(job_id, cancel_requested=True, message="Cancelling…")
        return True

    def wait(self, job_id: int, timeout: float | None = None) -> Job | None:
        """Block until the job's thread ends (for the CLI and tests)."""
        thread = self._threads.get(job_id)
        if thread is not None:
            thread.join(timeout)
        return self.get(job_id)

    def shutdown(self, timeout: float = 10.0) -> None:
        """Cancel every running job and wait a little for each to stop."""
        for job_id in list(self._handles):
            self.cancel(job_id)
        deadline = time.monotonic() + timeout
        for thread in list(self._threads.values()):
            thread.join(max(0.0, deadline - time.monotonic()))

    def _run(self, handle: JobHandle, work: Work) -> None:
        self._write(handle.id, state="running", started_at=utcnow())
        try:
            result = work(handle) or {}
        except JobCancelled:
            self._finish(handle, "cancelled", message="Cancelled. Nothing was lost.")
        except Exception as exc:
            logger.exception("job %s failed", handle.id)
            self._finish(handle, "failed", error=str(exc) or exc.__class__.__name__)
        else:
            self._finish(handle, "done", result=result)
        finally:
            with self._lock:
                self._handles.pop(handle.id, None)
                self._threads.pop(handle.id, None)

    def _finish(self, handle: JobHandle, state: str, **fields: Any) -> None:
        fields.setdefault("message", handle._message)
        self._write(
            handle.id,
            state=state,
            done=handle._done,
            total=handle._total,
            finished_at=utcnow(),
            **fields,
        )

    def _write(self, job_id: int, **fields: Any) -> None:
        with self.db.writing() as session:
            job = session.get(Job, job_id)
            if job is None:
                return
            for name, value in fields.items():
                setattr(job, name, value)
            job.updated_at = utcnow()
            session.add(job)


def is_finished(job: Job) -> bool:
    return job.state in FINISHED_STATES
