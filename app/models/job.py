"""Jobs (the audit, imports, auto-captioning; later training and evaluation), each run
by ``app.worker`` in a child process: what was asked, where it stands, its process, and
the events its child wrote, so that a page reload, another tab, the CLI or a restarted
server shows where it stands."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel

from app.models.base import utcnow


class Job(SQLModel, table=True):
    # AUTOINCREMENT: the id of a deleted job is never handed out again (SQLite would
    # otherwise reuse the highest one), so nothing that still names it means a new job.
    __table_args__ = {"sqlite_autoincrement": True}

    id: int | None = Field(default=None, primary_key=True)
    project_id: int | None = Field(
        default=None, foreign_key="project.id", index=True, ondelete="CASCADE"
    )
    kind: str = Field(index=True)  # e.g. dataset.audit, dataset.import
    title: str = ""  # plain words for the page: "Importing and auditing images"
    # queued | running | done | failed | cancelled | interrupted
    state: str = Field(default="queued", index=True)
    params: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # The GPU a GPU job holds (one job per GPU at a time); None for CPU work.
    gpu: int | None = None
    done: int = 0
    total: int = 0
    message: str = ""
    result: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    error: str = ""
    cancel_requested: bool = False
    cancel_requested_at: datetime | None = None
    # The child: a pid alone is not the job (pids are reused), pid and start time are.
    pid: int | None = None
    process_started: float | None = None
    events_path: str = ""
    log_path: str = ""
    # Bytes of the event file already stored as JobEvent rows: where tailing resumes.
    events_offset: int = 0
    created_at: datetime = Field(default_factory=utcnow, index=True)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    updated_at: datetime = Field(default_factory=utcnow)


class JobEvent(SQLModel, table=True):
    """One line of a job's event file (progress, the end), stored in file order; its id
    is the SSE event id. ``data`` is the line's JSON text as the child wrote it."""

    __tablename__ = "jobevent"
    __table_args__ = (Index("ix_jobevent_job_id_id", "job_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    job_id: int = Field(foreign_key="job.id", ondelete="CASCADE")
    type: str
    data: str
    # The event file's length after this line; None for events the supervisor adds
    # (a job whose process vanished gets its end event from it).
    file_end: int | None = None
