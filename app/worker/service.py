"""``Worker``: what the web pages and the CLI hold to start, find, cancel and follow
jobs; one per process, with its ``Supervisor``."""

from __future__ import annotations

from typing import Any, NamedTuple

from sqlmodel import col, select

from app.models import Job, JobEvent
from app.worker import queue
from app.worker.queue import ACTIVE_STATES
from app.worker.supervisor import Supervisor
from app.workspace import Workspace


class StoredEvent(NamedTuple):
    id: int
    type: str
    data: str  # the event's JSON text


EVENTS_AFTER = "SELECT id, type, data FROM jobevent WHERE job_id = ? AND id > ? ORDER BY id LIMIT ?"
# The same rows as SSE frames, built by SQLite: a replay of 100,000 events makes no
# Python object per event but the row tuple.
FRAMES_AFTER = (
    "SELECT id, type, 'id: ' || id || char(10) || 'event: ' || type || char(10) || "
    "'data: ' || data || char(10) || char(10) "
    "FROM jobevent WHERE job_id = ? AND id > ? ORDER BY id LIMIT ?"
)


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

    def events(self, job_id: int, after: int = 0, limit: int = 5000) -> list[StoredEvent]:
        """Stored events of the job after event id ``after``, oldest first."""
        return [StoredEvent._make(row) for row in self._rows(EVENTS_AFTER, job_id, after, limit)]

    def event_frames(self, job_id: int, after: int, limit: int) -> list[tuple[int, str, str]]:
        """(id, type, SSE frame) of the events after ``after``, oldest first."""
        return self._rows(FRAMES_AFTER, job_id, after, limit)

    def _rows(self, sql: str, *params: object) -> list[Any]:
        with self.db.reading() as session:
            # The driver's own cursor: SQLAlchemy's result rows cost more than the query.
            connection = session.connection().connection.dbapi_connection
            return connection.cursor().execute(sql, params).fetchall()  # type: ignore[union-attr]

    def last_event_id(self, job_id: int) -> int:
        statement = (
            select(JobEvent.id)
            .where(JobEvent.job_id == job_id)
            .order_by(col(JobEvent.id).desc())
            .limit(1)
        )
        with self.db.reading() as session:
            return session.exec(statement).first() or 0
