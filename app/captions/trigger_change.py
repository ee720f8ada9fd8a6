"""Changing a project's trigger word: every caption is rewritten for the new word (the
old one goes wherever it stands, the new one comes first), the project and its
project.json are updated, and the whole change is one journal entry.

Approvals are kept where only the trigger word changes, which the artist asked for in
so many words. A new word that captions already use (a tag such as "smiling", or a
word inside a sentence) is refused until the artist confirms: as the trigger it would
swallow what it described, so those captions say less than before. Once confirmed,
exactly those captions return to draft with a note, to be read again.

Captions edited outside loragate must be resolved first, so that no file is
overwritten without the artist choosing. Every check runs inside the write
transaction, so an edit made while the change waits for the database is never lost.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import select

from app import journal
from app.captions.store import CaptionError, CaptionRules, outside_of, store_text
from app.captions.text import change_trigger, mentions, split_parts, tag_key
from app.dataset.records import load_rows
from app.intent import check_trigger_word
from app.models import Caption, DatasetImage, Project
from app.models.base import utcnow
from app.projects import write_project_file
from app.words import plural
from app.workspace import ProjectContext


@dataclass(frozen=True)
class TriggerChange:
    old: str
    new: str
    rewritten: int
    warnings: list[str]
    drafted: int = 0  # captions that held the new word and went back to draft


class TriggerInUse(CaptionError):
    """The new trigger word is already a tag or a word in some captions; the change
    needs the artist's confirmation. ``paths``: the images whose captions hold it."""

    def __init__(self, word: str, paths: Sequence[str], warnings: Sequence[str]) -> None:
        self.word = word
        self.paths = list(paths)
        self.warnings = list(warnings)
        count = len(self.paths)
        shown = ", ".join(self.paths[:3]) + ("…" if count > 3 else "")
        super().__init__(
            f"“{word}” is already in {plural(count, 'caption')} ({shown}), "
            "as a tag or a word. As the trigger word it would stand for your LoRA alone: "
            f"what “{word}” describes in those images would be merged into the trigger and "
            "no longer said. Choose another word, or confirm: those captions then return "
            "to draft with a note, for you to read again."
        )


def holds_word(text: str, old: str, new: str) -> bool:
    """True when the caption uses ``new`` anywhere but as its old trigger word."""
    rest = [part for part in split_parts(text) if tag_key(part) != tag_key(old)]
    return mentions(", ".join(rest), new)


def note_taken_over(old: str, new: str) -> str:
    return (
        f"The trigger word changed from “{old}” to “{new}”, which this caption already "
        f"used to describe the image. “{new}” now stands for your LoRA, so the caption "
        "says less than before: read it, describe that part in other words if it "
        "matters, and approve it again."
    )


def _outside_paths(
    ctx: ProjectContext, rows: dict[int, DatasetImage], captions: dict[int, Caption]
) -> list[str]:
    return sorted(
        rows[image_id].path
        for image_id, caption in captions.items()
        if image_id in rows and outside_of(ctx, rows[image_id], caption) is not None
    )


def _refuse_outside(pending: Sequence[str]) -> CaptionError:
    return CaptionError(
        f"{len(pending)} caption file{'s were' if len(pending) != 1 else ' was'} changed "
        f"outside loragate ({', '.join(pending[:3])}{'…' if len(pending) > 3 else ''}). "
        "Choose which text to keep for each (filter “Changed outside loragate”), then "
        "change the trigger word."
    )


def change_trigger_word(
    ctx: ProjectContext, new_word: str, *, confirm_in_captions: bool = False
) -> TriggerChange:
    checked = check_trigger_word(new_word)
    if checked.errors:
        raise CaptionError(" ".join(checked.errors))
    new = new_word.strip()
    old = ctx.project.trigger_word
    if new == old:
        raise CaptionError(f"“{new}” is already the trigger word.")
    rows = {row.id: row for row in load_rows(ctx)}
    rules = CaptionRules(ctx)
    fmt = ctx.project.caption_format
    rewritten = 0
    drafted: list[str] = []
    with ctx.workspace.db.writing() as session:
        # Everything is checked under the write lock, so a caption file edited (or a
        # caption changed) while this waited for the database is seen, never overwritten.
        current = {
            caption.image_id: caption
            for caption in session.exec(select(Caption).where(Caption.project_id == ctx.project.id))
            if caption.image_id in rows
        }
        pending = _outside_paths(ctx, rows, current)
        if pending:
            raise _refuse_outside(pending)
        taken = {i for i, caption in current.items() if holds_word(caption.text, old, new)}
        if taken and not confirm_in_captions:
            raise TriggerInUse(new, sorted(rows[i].path for i in taken), checked.warnings)
        # Every check is done before the first file is written: a refusal half-way
        # would roll the database back but not the sidecars.
        for image_id, caption in current.items():
            text, note = change_trigger(caption.text, old, new, fmt)
            taken_over = image_id in taken
            if text == caption.text and not taken_over:
                continue
            store_text(
                session,
                ctx,
                rules,
                rows[image_id],
                caption,
                text,
                status="draft" if taken_over else caption.status,
                source=caption.source,
                note=note_taken_over(old, new) if taken_over else note or "",
            )
            rewritten += 1
            if taken_over:
                drafted.append(rows[image_id].path)
        project = session.get(Project, ctx.project.id)
        assert project is not None
        project.trigger_word = new
        project.updated_at = utcnow()
        session.add(project)
        message = (
            f"Trigger word changed from “{old}” to “{new}”; "
            f"{plural(rewritten, 'caption')} rewritten"
        )
        if drafted:
            message += (
                f". {len(drafted)} of them already used “{new}” and went back to draft "
                f"({', '.join(drafted[:3])}{'…' if len(drafted) > 3 else ''}); the other "
                "approvals were kept."
            )
        else:
            message += " (approvals kept)."
        journal.record(
            session,
            ctx.project,
            ctx.dir,
            "intent.trigger",
            message,
            {"old": old, "new": new, "rewritten": rewritten, "drafted": drafted},
        )
    ctx.project.trigger_word = new
    ctx.project.updated_at = project.updated_at
    write_project_file(ctx.dir, ctx.project)
    return TriggerChange(old, new, rewritten, checked.warnings, len(drafted))
