"""Background jobs (audits now; captioning and evaluation later): their progress and
outcome, so that a page reload, or another browser tab, shows where they stand."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from app.models.base import utcnow


class Job(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    project_id: int | None = Field(
        default=None, foreign_key="project.id", index=True, ondelete="CASCADE"
    )
    kind: str = Field(index=True)  # e.g. dataset.audit, dataset.import
    title: str = ""  # plain words for the page: "Importing and auditing images"
    # queued | running | done | failed | cancelled | interrupted
    state: str = Field(default="queued", index=True)
    done: int = 0
    total: int = 0
    message: str = ""
    result: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    error: str = ""
    cancel_requested: bool = False
    created_at: datetime = Field(default_factory=utcnow, index=True)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    updated_at: datetime = Field(default_factory=utcnow)
