"""The dataset's index: one row per file in ``<project>/dataset/`` that is, or claims to
be, an image; the artist's duplicate decisions; per-project dataset settings.

Files on disk stay the artefacts; these rows cache what the audit learnt about them
(keyed by path, size and mtime, with the content hash as a second key) and hold the
artist's include/exclude decisions. Later phases attach their own tables to
``datasetimage.id`` (captions and approvals in the caption phase).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.models.base import utcnow


class DatasetImage(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("project_id", "path", name="uq_datasetimage_path"),)

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", index=True, ondelete="CASCADE")
    path: str  # relative to the dataset folder, POSIX separators
    size: int = 0  # bytes
    mtime_ns: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    sha256: str | None = Field(default=None, index=True)  # of the file's bytes
    pixel_sha256: str | None = None  # of the decoded pixels; only for duplicate candidates
    # Header facts, known without decoding the pixels; width/height after EXIF rotation.
    width: int | None = None
    height: int | None = None
    format: str | None = None  # Pillow's name: JPEG, PNG, WEBP...
    mode: str | None = None  # Pillow's mode: RGB, RGBA, CMYK, P, I;16...
    concept: str = "default"
    repeats: int = 1
    included: bool = True
    exclusion_reason: str = ""  # plain words, shown next to an excluded image
    # Perceptual hashes as signed 64-bit integers (SQLite's INTEGER range).
    phash: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    dhash: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    analysis_version: int = 0  # 0: never analysed; see app.dataset.measure_file.ANALYSIS_VERSION
    metrics: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # The codes of the findings the last audit raised about this image (to journal only
    # what is newly flagged).
    finding_codes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    audited_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class DuplicateDecision(SQLModel, table=True):
    """The artist's answer to a duplicate group. ``keep``: one image kept, the others
    excluded (their rows say why). ``intentional``: a near-duplicate group the artist
    wants as it is; it resolves the group while its members stay the same."""

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", index=True, ondelete="CASCADE")
    kind: str  # keep | intentional
    member_ids: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    kept_image_id: int | None = None
    created_at: datetime = Field(default_factory=utcnow)


class DatasetSettings(SQLModel, table=True):
    """Per-project knobs of the audit the artist may change."""

    project_id: int = Field(foreign_key="project.id", primary_key=True, ondelete="CASCADE")
    near_duplicate_threshold: int = 10
    updated_at: datetime = Field(default_factory=utcnow)
