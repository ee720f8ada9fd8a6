"""Captions as data: one current caption per dataset image, the batch operations that
changed many at once (for one-step undo), and the repeats the artist set per concept.

The sidecar ``.txt`` next to the image stays the artefact every backend reads; a
``caption`` row is its index and its review state. ``sidecar_sha256`` and
``sidecar_mtime_ns`` are the file as loragate last wrote or read it, so an edit made
outside loragate shows up as a difference (see ``app.captions.store``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column
from sqlmodel import Field, SQLModel

from app.models.base import utcnow


class Caption(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", index=True, ondelete="CASCADE")
    image_id: int = Field(foreign_key="datasetimage.id", unique=True, ondelete="CASCADE")
    text: str = ""
    status: str = "draft"  # draft | approved | rejected
    # Where the text came from: "file" (a sidecar loragate found), "manual" (typed or
    # batch-edited by the artist), or the captioner and its model ("wd14:wd-vit-v3").
    source: str = "file"
    # Every change (text or status) adds one; an edit carries the version it started
    # from, so two tabs never overwrite each other silently.
    version: int = 1
    note: str = ""  # what loragate changed on the last write and why (shown on the card)
    tokens: int = 0  # CLIP tokens of the text, without start and end markers
    sidecar_sha256: str = ""
    sidecar_mtime_ns: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class CaptionBatch(SQLModel, table=True):
    """One operation over many captions (a tag batch, "approve all shown", an
    auto-captioning run). The newest one not undone can be undone."""

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", index=True, ondelete="CASCADE")
    kind: str  # tag.add | tag.remove | tag.replace | approve | autocaption
    message: str  # plain words: "Removed “watercolor” from 12 captions"
    created_at: datetime = Field(default_factory=utcnow, index=True)
    undone_at: datetime | None = None


class CaptionRevision(SQLModel, table=True):
    """What one caption was before a batch changed it, and the version the batch left."""

    id: int | None = Field(default=None, primary_key=True)
    batch_id: int = Field(foreign_key="captionbatch.id", index=True, ondelete="CASCADE")
    # Null when the batch created the caption (undo removes it again).
    caption_id: int | None = Field(default=None, foreign_key="caption.id", ondelete="CASCADE")
    image_id: int = Field(foreign_key="datasetimage.id", ondelete="CASCADE")
    existed: bool = True
    before_text: str = ""
    before_status: str = "draft"
    before_source: str = "file"
    before_note: str = ""
    after_version: int = 0


class ConceptRepeats(SQLModel, table=True):
    """Repeats the artist chose for a concept; they override the number in the kohya
    folder name the images came in, without renaming anything in the dataset."""

    project_id: int = Field(foreign_key="project.id", primary_key=True, ondelete="CASCADE")
    concept: str = Field(primary_key=True)
    repeats: int
    updated_at: datetime = Field(default_factory=utcnow)
