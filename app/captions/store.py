"""Captions as data: each dataset image's current caption in SQLite (text, status,
source, version) kept in step with its sidecar ``.txt``, which is what trainers read.

Rules every function here keeps:

- Every text written goes through ``text.prepare_caption``: the trigger word is
  first, on its own, on every write path (an edit, a batch, an auto-caption, a caption
  file taken in). What it had to change is kept as the caption's ``note``.
- Writes are versioned. An edit or a status change names the version it started from;
  inside the write transaction (``BEGIN IMMEDIATE``: writers queue) a different
  current version raises ``CaptionConflict`` with both texts, never a lost write.
- A sidecar changed outside loragate is never overwritten silently: every write to that
  caption is refused (``CaptionConflict`` with reason "outside") until the artist
  chooses which text to keep (``resolve_outside``).
- A caption file loragate has not seen yet (an import, a file dropped in the folder)
  becomes a draft with source "file" (``sync``).
- Approving means "this exact text is right": changing the text returns a caption to
  draft.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from sqlmodel import Session, col, select

from app import journal
from app.captions.sidecar_decode import encoding_note
from app.captions.sidecar_files import (
    OutsideChange,
    outside_change,
    sidecar_path,
    write_sidecar,
)
from app.captions.text import prepare_caption
from app.dataset.inventory import dataset_dir
from app.dataset.records import rows_by_id
from app.models import Caption, DatasetImage
from app.models.base import utcnow
from app.words import plural
from app.workspace import ProjectContext

Status = Literal["draft", "approved", "rejected"]
STATUSES: tuple[str, ...] = ("draft", "approved", "rejected")
# The longest caption loragate saves. CLIP reads at most 225 tokens even with kohya's
# longest setting (about 1,000 characters of English tags), Flux's T5 512 (about 2,500):
# 4,000 characters is well past anything a trainer reads, so no real caption is
# refused, while a paste of a whole document is stopped with a plain message instead
# of filling the database, the sidecar and every page that shows it.
MAX_CAPTION_CHARS = 4000
ConflictReason = Literal["changed", "outside", "stale"]


class CaptionError(ValueError):
    """A caption change that cannot be made; the message says why in plain words."""


class CaptionConflict(Exception):
    """The caption is not what the change started from: another tab, a batch, or an
    edit outside loragate changed it. Carries both texts so the artist can choose."""

    def __init__(
        self,
        image_id: int,
        mine: str,
        theirs: str | None,
        version: int,
        reason: ConflictReason,
    ) -> None:
        self.image_id = image_id
        self.mine = mine
        self.theirs = theirs
        self.version = version
        self.reason = reason
        super().__init__(self.explanation)

    @property
    def explanation(self) -> str:
        if self.reason == "outside":
            return (
                "The caption file was changed outside loragate. Choose which text to keep "
                "before editing it here."
            )
        if self.reason == "stale":
            # Only the status was to change: there is no text of the artist's to keep.
            return (
                "This caption changed since it was shown (in another tab, or by a batch "
                "operation), so nothing was changed. It now reads as below: read it, then "
                "click again."
            )
        return (
            "This caption changed since you started (in another tab, or by a batch "
            "operation). Nothing was saved: keep your text or take the current one."
        )


@dataclass(frozen=True)
class CaptionRules:
    """What every write applies: the project's trigger word and caption format, and the
    tokenizer that counts the result."""

    ctx: ProjectContext

    def prepare(self, text: str) -> tuple[str, str | None]:
        project = self.ctx.project
        return prepare_caption(text, project.trigger_word, project.caption_format)

    def tokens(self, text: str) -> int:
        from app.clip_tokenizer import count_tokens  # loads transformers: only when writing

        return count_tokens(text, self.ctx.settings)


class ImageFacts(Protocol):
    """What ``is_trainable_image`` reads: a row, or only its columns."""

    width: int | None
    height: int | None
    analysis_version: int
    metrics: dict[str, Any]


def is_trainable_image(row: ImageFacts) -> bool:
    """Rows that are pictures (as far as loragate knows yet): only they get captions."""
    if row.width is None or row.height is None:
        return False
    return row.analysis_version == 0 or row.metrics.get("kind") == "image"


def load_captions(ctx: ProjectContext) -> dict[int, Caption]:
    """Every caption of the project, by image id."""
    with ctx.workspace.db.reading() as session:
        rows = session.exec(select(Caption).where(Caption.project_id == ctx.project.id)).all()
    return {row.image_id: row for row in rows}


def image_row(ctx: ProjectContext, image_id: int) -> DatasetImage:
    rows = rows_by_id(ctx, [image_id])
    if not rows:
        raise CaptionError("This image is no longer in the dataset. Reload the page.")
    return rows[0]


def caption_of_image(session: Session, image_id: int) -> Caption | None:
    return session.exec(select(Caption).where(Caption.image_id == image_id)).first()


def sidecar_of(ctx: ProjectContext, image: DatasetImage) -> Path:
    return sidecar_path(dataset_dir(ctx), image.path)


def outside_of(ctx: ProjectContext, image: DatasetImage, caption: Caption) -> OutsideChange | None:
    return outside_change(sidecar_of(ctx, image), caption)


def store_text(
    session: Session,
    ctx: ProjectContext,
    rules: CaptionRules,
    image: DatasetImage,
    caption: Caption | None,
    text: str,
    *,
    status: str,
    source: str,
    note: str,
    rewrite: bool = False,
) -> Caption:
    """Write ``text`` (already prepared) to the sidecar, then to the row, in the caller's
    write transaction; the sidecar is left untouched when only the status, source or
    note move (unless ``rewrite``). No checks here: callers check versions and outside
    edits."""
    if caption is None:
        caption = Caption(project_id=ctx.project.id or 0, image_id=image.id or 0, version=0)
    if rewrite or caption.id is None or caption.text != text:
        written = write_sidecar(sidecar_of(ctx, image), text)
        caption.sidecar_sha256 = written.sha256
        caption.sidecar_mtime_ns = written.mtime_ns
        if caption.id is None or caption.text != text:
            caption.tokens = rules.tokens(text)
    caption.text = text
    caption.status = status
    caption.source = source
    caption.note = note
    caption.version += 1
    caption.updated_at = utcnow()
    session.add(caption)
    return caption


def check_length(text: str, whose: str = "This caption") -> None:
    if len(text) > MAX_CAPTION_CHARS:
        raise CaptionError(
            f"{whose} is {len(text):,} characters long; loragate keeps captions under "
            f"{MAX_CAPTION_CHARS:,}. Trainers read at most about 225 CLIP tokens (roughly "
            "1,000 characters), so the rest would never train: shorten it."
        )


def ensure_writable(ctx: ProjectContext, image: DatasetImage, caption: Caption, mine: str) -> None:
    """Refuse a write over an edit made outside loragate."""
    outside = outside_of(ctx, image, caption)
    if outside is not None:
        raise CaptionConflict(image.id or 0, mine, outside.text, caption.version, "outside")


# --- one caption ---------------------------------------------------------------------


@dataclass(frozen=True)
class Saved:
    caption: Caption
    note: str | None  # what loragate changed in the text as typed, and why
    changed: bool


def save_text(ctx: ProjectContext, image_id: int, text: str, base_version: int) -> Saved:
    """The artist's edit of one caption, started from ``base_version`` (0: there was no
    caption). A changed text becomes a draft written by hand ("manual")."""
    check_length(text)
    image = image_row(ctx, image_id)
    rules = CaptionRules(ctx)
    prepared, note = rules.prepare(text)
    with ctx.workspace.db.writing() as session:
        caption = caption_of_image(session, image_id)
        current = caption.version if caption else 0
        if caption is None and sidecar_of(ctx, image).exists():
            current = -1  # a caption file loragate has not taken in yet
        if base_version != current:
            theirs = caption.text if caption else None
            raise CaptionConflict(image_id, text, theirs, max(current, 0), "changed")
        if caption is not None:
            ensure_writable(ctx, image, caption, text)
            if caption.text == prepared:
                return Saved(caption, note, changed=False)
        before = caption.text if caption else ""
        caption = store_text(
            session,
            ctx,
            rules,
            image,
            caption,
            prepared,
            status="draft",
            source="manual",
            note=note or "",
        )
        journal.record(
            session,
            ctx.project,
            ctx.dir,
            "caption.edited",
            f"Edited the caption of {image.path}" + (f" ({note})" if note else "."),
            {"path": image.path, "before": before, "after": prepared, "note": note},
        )
    return Saved(caption, note, changed=True)


def _paths_message(verb: str, paths: Sequence[str]) -> str:
    count = len(paths)
    shown = ", ".join(paths[:3]) + (f" and {count - 3} more" if count > 3 else "")
    return f"{verb} {plural(count, 'caption')}: {shown}."


def set_status(ctx: ProjectContext, image_id: int, status: str, base_version: int) -> Caption:
    """Approve, reject or return to draft the caption the artist saw (``base_version``)."""
    if status not in STATUSES:
        raise CaptionError(f"“{status}” is not a caption status (draft, approved, rejected).")
    image = image_row(ctx, image_id)
    with ctx.workspace.db.writing() as session:
        caption = caption_of_image(session, image_id)
        if caption is None or not caption.text.strip():
            raise CaptionError(
                f"{image.path} has no caption yet: write one (or auto-caption) before approving it."
            )
        if caption.version != base_version:
            raise CaptionConflict(image_id, caption.text, caption.text, caption.version, "stale")
        ensure_writable(ctx, image, caption, "")  # nothing typed: only the status moves
        if caption.status == status:
            return caption
        previous = caption.status
        caption.status = status
        caption.version += 1
        caption.updated_at = utcnow()
        session.add(caption)
        if status == "approved":
            kind, verb = "caption.approved", "Approved"
        elif status == "rejected":
            kind, verb = "caption.rejected", "Rejected"
        elif previous == "approved":
            kind, verb = "caption.unapproved", "Un-approved"
        else:
            kind, verb = "caption.draft", "Returned to draft"
        journal.record_coalesced(
            session,
            ctx.project,
            ctx.dir,
            kind,
            [image.path],
            lambda paths: _paths_message(verb, paths),
        )
    return caption


def resolve_outside(
    ctx: ProjectContext,
    image_id: int,
    keep: Literal["file", "loragate", "mine"],
    mine: str = "",
    base_version: int | None = None,
) -> Caption | None:
    """The artist's choice after an edit outside loragate: take the file's text (as a
    draft, trigger first), write loragate's text back over it, or write ``mine`` (what
    they typed on the card when the edit was found; ``base_version`` is the caption's
    version they saw) over both. None: the file was deleted and its deletion was
    accepted (the image has no caption any more)."""
    image = image_row(ctx, image_id)
    rules = CaptionRules(ctx)
    if keep == "mine":
        check_length(mine)
    data: dict[str, object] = {"path": image.path}
    with ctx.workspace.db.writing() as session:
        caption = caption_of_image(session, image_id)
        if caption is None:
            raise CaptionError(f"{image.path} has no caption to compare. Reload the page.")
        if keep == "mine" and base_version is not None and caption.version != base_version:
            raise CaptionConflict(image_id, mine, caption.text, caption.version, "changed")
        outside = outside_of(ctx, image, caption)
        taken: tuple[str, str] | None = None  # (text to prepare, its source)
        if keep == "mine":
            taken = (mine, "manual")
            message = f"Wrote your new caption of {image.path} over an edit made outside loragate."
        elif outside is None:
            return caption  # resolved meanwhile (another tab)
        elif keep == "loragate":
            caption = store_text(
                session,
                ctx,
                rules,
                image,
                caption,
                caption.text,
                status=caption.status,
                source=caption.source,
                note=caption.note,
                rewrite=True,
            )
            message = f"Wrote loragate's caption of {image.path} back over an edit made outside it."
        elif outside.text is None:
            session.delete(caption)
            caption = None
            message = (
                f"Accepted that the caption file of {image.path} was deleted outside loragate."
            )
        else:
            check_length(outside.text, "The file's text")
            taken = (outside.text, "file")
            message = f"Took the caption of {image.path} as edited outside loragate (now a draft)."
        if taken is not None and caption is not None:
            prepared, note = rules.prepare(taken[0])
            data |= {"before": caption.text, "after": prepared, "note": note}
            file_encoding_note = (
                encoding_note(outside.encoding) if outside and taken[1] == "file" else None
            )
            # Rewritten even when the text comes out as loragate had it: the file may differ
            # only in spacing or in its encoding (a byte-order mark, UTF-16), and must end
            # up as what loragate recorded.
            caption = store_text(
                session,
                ctx,
                rules,
                image,
                caption,
                prepared,
                status="draft",
                source=taken[1],
                note=" ".join(filter(None, [note, file_encoding_note])),
                rewrite=True,
            )
        journal.record(session, ctx.project, ctx.dir, "caption.outside", message, data)
    return caption


def captions_for_images(ctx: ProjectContext, image_ids: Sequence[int]) -> dict[int, Caption]:
    with ctx.workspace.db.reading() as session:
        rows = session.exec(
            select(Caption).where(
                Caption.project_id == ctx.project.id, col(Caption.image_id).in_(list(image_ids))
            )
        ).all()
    return {row.image_id: row for row in rows}
