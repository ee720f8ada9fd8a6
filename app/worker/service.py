"""``Worker``: what the web pages and the CLI hold to start, find, cancel and follow
jobs; one per process, with its ``Supervisor``."""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select

from app.models import Job, JobEvent
from app.worker import queue
from app.worker.queue import ACTIVE_STATES
from app.worker.supervisor import Supervisor
from app.workspace import Workspace


class Worker:
    def __init__(self, workspace: Workspace, *, cancel_grace: float | None = None) -> None:
        self.workspace = workspace
        self.db = workspace.db
        grace = {} if cancel_grace is None else {"cancel_grace": cancel_grace}
        self.supervisor = Supervisor(workspace, **grace)

    def start(
        self,
        kind: str,
        project_id: int | None,
        params: dict[str, Any] | None = None,
        *,
        title: str = "",
    ) -> Job:
        job = queue.start(self.workspace, kind, project_id, params, title)
        self.supervisor.wake()
        return job

    def resume(self, job: Job) -> Job:
        """Start an interrupted or cancelled job again with what it was asked; the work
        itself skips what is already done (the import compares files, the audit caches)."""
        return self.start(job.kind, job.project_id, job.params, title=job.title)

    def cancel(self, job_id: int) -> Job | None:
        job = queue.cancel(self.workspace, job_id)
        self.supervisor.wake()
        return job

    def wait(self, job_id: int, timeout: float | None = None) -> Job | None:
        return self.supervisor.wait(job_id, timeout)

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

    def recent(self, limit: int = 50) -> list[Job]:
        with self.db.reading() as session:
            return list(session.exec(select(Job).order_by(col(Job.id).desc()).limit(limit)).all())

    def place_in_line(self, job: Job) -> int:
        with self.db.reading() as session:
            return queue.place_in_line(session, job)

    def events(self, job_id: int, after: int = 0, limit: int = 5000) -> list[JobEvent]:
        """Stored events of the job after event id ``after``, oldest first."""
        statement = (
            select(JobEvent)
            .where(JobEvent.job_id == job_id, col(JobEvent.id) > after)
            .order_by(col(JobEvent.id))
            .limit(limit)
        )
        with self.db.reading() as session:
            return list(session.exec(statement).all())

    def last_event_id(self, job_id: int) -> int:
        statement = (
            select(JobEvent.id)
            .where(JobEvent.job_id == job_id)
            .order_by(col(JobEvent.id).desc())
            .limit(1)
        )
        with self.db.reading() as session:
            return session.exec(statement).first() or 0
