from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from app.models.base import utcnow


class Project(SQLModel, table=True):
    """A training project: the intent interview's answers. Files live in
    ``grimoire/training/{slug}/``; this row is their index."""

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(index=True, unique=True)
    name: str
    training_type: str  # style | character | concept | object
    trigger_word: str
    base_model: str  # a studio.md model name, or a path to a checkpoint / diffusers folder
    model_family: str  # sd15 | sd2 | sdxl | flux
    caption_format: str  # booru | natural | mixed
    backend: str = "native"
    must_vary: str = ""
    must_stay: str = ""
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    # Archived projects keep every row and file; only the project list hides them.
    archived_at: datetime | None = None
