"""Operations over many captions at once (add, remove or replace a tag; approve the
captions shown; an auto-captioning run), each recorded as one ``CaptionBatch`` with a
revision per caption it changed, so the newest batch can be undone in one step.

A batch never changes the caption of an image excluded from training. It changes a
caption only when it is still the version the batch was planned on and has no edit
from outside loragate waiting; any other caption is left as it is and
named in the result. Undo restores only the captions that nobody changed since.

Adding a tag to images that have no caption yet starts one ("trigger, tag", a draft):
the artist asked for the tag on every image in view, and an image left without it
would be the one that silently misses it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlmodel import col, select

from app import journal
from app.captions.store import (
    MAX_CAPTION_CHARS,
    CaptionError,
    CaptionRules,
    captions_for_images,
    outside_of,
    sidecar_of,
    store_text,
)
from app.captions.text import (
    TagEdit,
    add_tag,
    check_tag,
    prepare_caption,
    remove_tag,
    replace_tag,
    shorten,
)
from app.dataset.records import rows_by_id
from app.models import Caption, CaptionBatch, CaptionRevision, DatasetImage
from app.models.base import utcnow
from app.words import plural
from app.workspace import ProjectContext

TAG_OPERATIONS = ("add", "remove", "replace")
NOTE_STARTED = (
    "This image had no caption: adding a tag started one. Describe the rest of the image after it."
)


@dataclass(frozen=True)
class Change:
    image_id: int
    text: str  # prepared already (trigger first)
    status: str
    source: str
    note: str = ""
    # The version the change was planned on (None: the image had no caption).
    expected_version: int | None = None


@dataclass
class BatchResult:
    batch: CaptionBatch | None = None
    changed: list[str] = field(default_factory=list)  # image paths
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, why)
    notes: list[tuple[str, str]] = field(default_factory=list)  # (path, note)
    created: list[str] = field(default_factory=list)  # paths that had no caption before
    # Approved captions the batch changed, so they are drafts again (paths).
    unapproved: list[str] = field(default_factory=list)
    # Images left out because they are excluded from training (paths).
    excluded: list[str] = field(default_factory=list)

    @property
    def message(self) -> str:
        return self.batch.message if self.batch else "Nothing to change."


def apply_batch(
    ctx: ProjectContext,
    kind: str,
    changes: Sequence[Change],
    message_for: Callable[[BatchResult], str],
    *,
    batch_id: int | None = None,
    record: bool = True,
) -> BatchResult:
    """Apply ``changes`` as one batch, journaled with ``message_for(result)`` (what was
    changed). A run that writes in parts passes ``record=False`` and the batch of its
    first part as ``batch_id``, then calls ``finish_batch`` once."""
    rules = CaptionRules(ctx)
    result = BatchResult()
    with ctx.workspace.db.writing() as session:
        batch = session.get(CaptionBatch, batch_id) if batch_id else None
        for change in changes:
            image = session.get(DatasetImage, change.image_id)
            if image is None or image.project_id != ctx.project.id:
                continue
            if not image.included:
                # Excluded images do not train: a batch over a view never reaches them.
                result.excluded.append(image.path)
                continue
            caption = session.exec(
                select(Caption).where(Caption.image_id == change.image_id)
            ).first()
            if (caption.version if caption else None) != change.expected_version:
                result.skipped.append((image.path, "it changed meanwhile"))
                continue
            if caption is not None and outside_of(ctx, image, caption) is not None:
                result.skipped.append((image.path, "its file was changed outside loragate"))
                continue
            if len(change.text) > MAX_CAPTION_CHARS:
                result.skipped.append(
                    (image.path, f"it would be longer than {MAX_CAPTION_CHARS:,} characters")
                )
                continue
            if caption is None and sidecar_of(ctx, image).exists():
                result.skipped.append((image.path, "it has a caption file loragate has not read"))
                continue
            if batch is None:
                batch = CaptionBatch(project_id=ctx.project.id or 0, kind=kind, message="")
                session.add(batch)
                session.flush()
            if caption is not None and caption.status == "approved" != change.status:
                result.unapproved.append(image.path)
            revision = CaptionRevision(
                batch_id=batch.id or 0,
                caption_id=caption.id if caption else None,
                image_id=image.id or 0,
                existed=caption is not None,
                before_text=caption.text if caption else "",
                before_status=caption.status if caption else "draft",
                before_source=caption.source if caption else "",
                before_note=caption.note if caption else "",
            )
            caption = store_text(
                session,
                ctx,
                rules,
                image,
                caption,
                change.text,
                status=change.status,
                source=change.source,
                note=change.note,
            )
            session.flush()
            revision.caption_id = caption.id
            revision.after_version = caption.version
            session.add(revision)
            result.changed.append(image.path)
            if not revision.existed:
                result.created.append(image.path)
            if change.note:
                result.notes.append((image.path, change.note))
        if batch is not None and result.changed and record:
            batch.message = message_for(result)
            session.add(batch)
            journal.record(
                session,
                ctx.project,
                ctx.dir,
                f"caption.batch.{kind}",
                batch.message,
                {"batch": batch.id, "paths": result.changed, "skipped": result.skipped},
            )
        result.batch = batch
    return result


def finish_batch(ctx: ProjectContext, batch_id: int, message: str, data: dict[str, object]) -> None:
    """Name a batch written in parts (which makes it undoable) and journal it once."""
    with ctx.workspace.db.writing() as session:
        batch = session.get(CaptionBatch, batch_id)
        if batch is None:
            return
        batch.message = message
        session.add(batch)
        journal.record(session, ctx.project, ctx.dir, f"caption.batch.{batch.kind}", message, data)


def _count(count: int) -> str:
    return plural(count, "caption")


def _tag_operation(
    operation: str, tag: str, new_tag: str, trigger: str, caption_format: str
) -> tuple[Callable[[str], TagEdit], Callable[[BatchResult], str]]:
    """The edit one caption gets, and the batch's journal line for what it changed."""

    def edit(text: str) -> TagEdit:
        if operation == "add":
            return add_tag(text, tag, trigger, caption_format)
        if operation == "remove":
            return remove_tag(text, tag, trigger, caption_format)
        return replace_tag(text, tag, new_tag, trigger, caption_format)

    quoted, quoted_new = shorten(tag), shorten(new_tag)  # as the journal quotes them

    def describe(result: BatchResult) -> str:
        count = len(result.changed)
        if operation == "add":
            started = len(result.created)
            if started:
                new = (
                    "one of them a new draft for an image"
                    if started == 1
                    else f"{started} of them new drafts for images"
                )
                return f"Added “{quoted}” to {_count(count)} ({new} that had no caption)."
            return f"Added “{quoted}” to {_count(count)}."
        if operation == "remove":
            return f"Removed “{quoted}” from {_count(count)}."
        return f"Replaced “{quoted}” with “{quoted_new}” in {_count(count)}."

    if operation not in TAG_OPERATIONS:
        raise CaptionError(f"“{operation}” is not a batch operation (add, remove, replace).")
    return edit, describe


def tag_batch(
    ctx: ProjectContext, operation: str, image_ids: Sequence[int], tag: str, new_tag: str = ""
) -> BatchResult:
    """Add, remove or replace a tag in the captions of ``image_ids``. A changed caption
    becomes a draft written by hand; its note says anything that was not done. Adding
    starts a draft ("trigger, tag") for an image without a caption. An image excluded
    from training is never edited (whatever the page sent): it is named in ``excluded``."""
    project = ctx.project
    trigger, caption_format = project.trigger_word, project.caption_format
    try:
        tag = check_tag(tag)
        if operation == "replace":
            new_tag = check_tag(new_tag)
    except ValueError as exc:
        raise CaptionError(str(exc)) from None
    edit, describe = _tag_operation(operation, tag, new_tag, trigger, caption_format)
    changes = []
    untouched_notes = []
    rows = {row.id: row for row in rows_by_id(ctx, list(image_ids))}
    excluded = [row.path for row in rows.values() if not row.included]
    image_ids = [image_id for image_id in image_ids if image_id in rows and rows[image_id].included]
    captions = captions_for_images(ctx, image_ids)
    for image_id in image_ids:
        caption = captions.get(image_id)
        if caption is None or not caption.text:
            if operation == "add":
                text, _ = prepare_caption(f"{trigger}, {tag}", trigger, caption_format)
                version = caption.version if caption else None
                changes.append(Change(image_id, text, "draft", "manual", NOTE_STARTED, version))
            continue
        result = edit(caption.text)
        if result.changed:
            changes.append(
                Change(
                    image_id,
                    result.text,
                    "draft",
                    "manual",
                    result.note or "",
                    caption.version,
                )
            )
        elif result.note:
            untouched_notes.append((image_id, result.note))
    outcome = apply_batch(ctx, f"tag.{operation}", changes, describe)
    outcome.excluded.extend(excluded)
    if untouched_notes:
        paths = _paths(ctx, [image_id for image_id, _ in untouched_notes])
        outcome.notes.extend((paths[image_id], note) for image_id, note in untouched_notes)
    return outcome


def _paths(ctx: ProjectContext, image_ids: Sequence[int]) -> dict[int, str]:
    with ctx.workspace.db.reading() as session:
        rows = session.exec(select(DatasetImage).where(col(DatasetImage.id).in_(image_ids))).all()
    return {row.id or 0: row.path for row in rows}


def approve_shown(ctx: ProjectContext, seen: Sequence[tuple[int, int]]) -> BatchResult:
    """Approve the captions the artist had on screen: (image id, version seen) pairs.
    A caption that changed since it was shown is not approved."""
    captions = captions_for_images(ctx, [image_id for image_id, _ in seen])
    changes = []
    for image_id, version in seen:
        caption = captions.get(image_id)
        if caption is None or caption.status == "approved" or not caption.text.strip():
            continue
        # Planned on the version seen: one that changed since is reported, not approved.
        changes.append(
            Change(image_id, caption.text, "approved", caption.source, caption.note, version)
        )
    return apply_batch(
        ctx,
        "approve",
        changes,
        lambda result: f"Approved {_count(len(result.changed))} shown in the grid at once.",
    )


def undoable_batch(ctx: ProjectContext) -> CaptionBatch | None:
    """The newest batch, when it has not been undone (undo goes back one step only)."""
    with ctx.workspace.db.reading() as session:
        newest = session.exec(
            select(CaptionBatch)
            .where(CaptionBatch.project_id == ctx.project.id)
            .order_by(col(CaptionBatch.created_at).desc(), col(CaptionBatch.id).desc())
            .limit(1)
        ).first()
    return newest if newest is not None and newest.undone_at is None and newest.message else None


def undo_last(ctx: ProjectContext) -> BatchResult:
    """Put back what the newest batch changed, except captions changed since."""
    batch = undoable_batch(ctx)
    if batch is None:
        raise CaptionError("There is nothing to undo.")
    rules = CaptionRules(ctx)
    result = BatchResult(batch=batch)
    with ctx.workspace.db.writing() as session:
        batch = session.get(CaptionBatch, batch.id)
        if batch is None or batch.undone_at is not None:
            raise CaptionError("This was undone already (in another tab).")
        revisions = session.exec(
            select(CaptionRevision).where(CaptionRevision.batch_id == batch.id)
        ).all()
        for revision in revisions:
            image = session.get(DatasetImage, revision.image_id)
            caption = session.get(Caption, revision.caption_id) if revision.caption_id else None
            if image is None or caption is None:
                continue
            if caption.version != revision.after_version:
                result.skipped.append((image.path, "it changed after the batch"))
                continue
            if outside_of(ctx, image, caption) is not None:
                result.skipped.append((image.path, "its file was changed outside loragate"))
                continue
            if revision.existed:
                store_text(
                    session,
                    ctx,
                    rules,
                    image,
                    caption,
                    revision.before_text,
                    status=revision.before_status,
                    source=revision.before_source,
                    note=revision.before_note,
                )
            else:
                session.delete(caption)
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(sidecar_of(ctx, image))
            result.changed.append(image.path)
        batch.undone_at = utcnow()
        session.add(batch)
        message = f"Undid: {batch.message}"
        if result.skipped:
            message += (
                f" {_count(len(result.skipped))} changed since and "
                f"{'were' if len(result.skipped) != 1 else 'was'} left as they are."
            )
        journal.record(
            session,
            ctx.project,
            ctx.dir,
            "caption.undo",
            message,
            {"batch": batch.id, "restored": result.changed, "skipped": result.skipped},
        )
    return result
