from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from app.models.base import utcnow


class Event(SQLModel, table=True):
    """One journal entry. The same text is appended to the project's journal.md."""

    id: int | None = Field(default=None, primary_key=True)
    project_id: int | None = Field(
        default=None, foreign_key="project.id", index=True, ondelete="CASCADE"
    )
    kind: str = Field(index=True)  # e.g. project.created, intent.answer, gate.result
    message: str
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, index=True)
