"""The artist's curation decisions on the dataset, each written to the journal:
include or exclude an image, keep one image of a duplicate group, record a
near-duplicate group as intentional, change the near-duplicate threshold.

These are curation decisions, not gate overrides: excluding an image takes it out of
training; an intentional group is a statement about the data the journal keeps.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlmodel import Session

from app import journal
from app.dataset.duplicates import MAX_THRESHOLD
from app.dataset.records import rows_by_id
from app.models import DatasetImage, DatasetSettings, DuplicateDecision
from app.models.base import utcnow
from app.words import plural
from app.workspace import ProjectContext


class DecisionError(ValueError):
    """A decision that cannot be applied; the message says why in plain words."""


def _journal(
    session: Session, ctx: ProjectContext, kind: str, message: str, data: dict[str, Any]
) -> None:
    journal.record(session, ctx.project, ctx.dir, kind, message, data)


def _members(ctx: ProjectContext, ids: Sequence[int]) -> list[DatasetImage]:
    unique = sorted(set(ids))
    rows = rows_by_id(ctx, unique)
    if len(rows) != len(unique) or not rows:
        raise DecisionError("Some of these images are no longer in the dataset. Reload the page.")
    return sorted(rows, key=lambda row: row.path)


def set_included(ctx: ProjectContext, image_id: int, included: bool) -> DatasetImage:
    (row,) = _members(ctx, [image_id])
    with ctx.workspace.db.writing() as session:
        row = session.merge(row)
        row.included = included
        row.exclusion_reason = "" if included else "excluded by you"
        row.updated_at = utcnow()
        session.add(row)
        _journal(
            session,
            ctx,
            "dataset.include" if included else "dataset.exclude",
            f"{'Included' if included else 'Excluded'} {row.path}.",
            {"image_id": row.id, "path": row.path},
        )
    return row


def keep_one(ctx: ProjectContext, member_ids: Sequence[int], keep_id: int) -> DatasetImage:
    """Keep ``keep_id`` and exclude the other members of its duplicate group."""
    rows = _members(ctx, member_ids)
    kept = next((row for row in rows if row.id == keep_id), None)
    if kept is None or len(rows) < 2:
        raise DecisionError("Choose one of the images of the group to keep.")
    others = [row for row in rows if row.id != keep_id]
    with ctx.workspace.db.writing() as session:
        for row in others:
            row = session.merge(row)
            row.included = False
            row.exclusion_reason = f"duplicate of {kept.path}"
            row.updated_at = utcnow()
            session.add(row)
        session.add(
            DuplicateDecision(
                project_id=ctx.project.id or 0,
                kind="keep",
                member_ids=[row.id or 0 for row in rows],
                kept_image_id=kept.id,
            )
        )
        _journal(
            session,
            ctx,
            "duplicates.keep",
            f"Kept {kept.path} of a duplicate group; excluded "
            f"{', '.join(row.path for row in others)}.",
            {"kept": kept.path, "excluded": [row.path for row in others]},
        )
    return kept


def mark_intentional(ctx: ProjectContext, member_ids: Sequence[int]) -> None:
    rows = _members(ctx, member_ids)
    if len(rows) < 2:
        raise DecisionError("A group needs at least two images.")
    with ctx.workspace.db.writing() as session:
        session.add(
            DuplicateDecision(
                project_id=ctx.project.id or 0,
                kind="intentional",
                member_ids=[row.id or 0 for row in rows],
            )
        )
        _journal(
            session,
            ctx,
            "duplicates.intentional",
            "Kept near-duplicates on purpose: " + ", ".join(row.path for row in rows) + ".",
            {"paths": [row.path for row in rows]},
        )


def set_near_threshold(ctx: ProjectContext, threshold: int) -> None:
    if not 0 <= threshold <= MAX_THRESHOLD:
        raise DecisionError(
            f"The threshold is a number of differing bits from 0 (identical only) to "
            f"{MAX_THRESHOLD}; loragate's default is 10."
        )
    with ctx.workspace.db.writing() as session:
        row = session.get(DatasetSettings, ctx.project.id) or DatasetSettings(
            project_id=ctx.project.id or 0
        )
        previous = row.near_duplicate_threshold
        row.near_duplicate_threshold = threshold
        row.updated_at = utcnow()
        session.add(row)
        _journal(
            session,
            ctx,
            "duplicates.threshold",
            f"Near-duplicate threshold changed from {previous} to {plural(threshold, 'bit')}.",
            {"threshold": threshold},
        )
