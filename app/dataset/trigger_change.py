"""Changing a project's trigger word: every caption is rewritten for the new word (the
old one goes wherever it stands, the new one comes first), the project and its
project.json are updated, and the whole change is one journal entry.

Approvals are kept: only the trigger word changes, which the artist asked for in so
many words. Captions edited outside loragate must be resolved first, so that no file
is overwritten without the artist choosing.
"""

from __future__ import annotations

from dataclasses import dataclass

from app import journal
from app.dataset.caption_store import (
    CaptionError,
    CaptionRules,
    load_captions,
    outside_of,
    store_text,
)
from app.dataset.caption_text import change_trigger
from app.dataset.records import load_rows
from app.intent import check_trigger_word
from app.models import Caption, Project
from app.models.base import utcnow
from app.projects import write_project_file
from app.workspace import ProjectContext


@dataclass(frozen=True)
class TriggerChange:
    old: str
    new: str
    rewritten: int
    warnings: list[str]


def change_trigger_word(ctx: ProjectContext, new_word: str) -> TriggerChange:
    checked = check_trigger_word(new_word)
    if checked.errors:
        raise CaptionError(" ".join(checked.errors))
    new = new_word.strip()
    old = ctx.project.trigger_word
    if new == old:
        raise CaptionError(f"“{new}” is already the trigger word.")
    rows = {row.id: row for row in load_rows(ctx)}
    captions = load_captions(ctx)
    pending = sorted(
        rows[image_id].path
        for image_id, caption in captions.items()
        if image_id in rows and outside_of(ctx, rows[image_id], caption) is not None
    )
    if pending:
        raise CaptionError(
            f"{len(pending)} caption file(s) were changed outside loragate "
            f"({', '.join(pending[:3])}{'…' if len(pending) > 3 else ''}). Choose which text "
            "to keep for each (filter “Changed outside loragate”), then change the trigger word."
        )
    rules = CaptionRules(ctx)
    fmt = ctx.project.caption_format
    rewritten = 0
    with ctx.workspace.db.writing() as session:
        for image_id, stored in captions.items():
            caption = session.get(Caption, stored.id)
            if caption is None or image_id not in rows:
                continue
            text, note = change_trigger(caption.text, old, new, fmt)
            if text == caption.text:
                continue
            store_text(
                session,
                ctx,
                rules,
                rows[image_id],
                caption,
                text,
                status=caption.status,
                source=caption.source,
                note=note or "",
            )
            rewritten += 1
        project = session.get(Project, ctx.project.id)
        assert project is not None
        project.trigger_word = new
        project.updated_at = utcnow()
        session.add(project)
        journal.record(
            session,
            ctx.project,
            ctx.dir,
            "intent.trigger",
            f"Trigger word changed from “{old}” to “{new}”; {rewritten} caption"
            f"{'s' if rewritten != 1 else ''} rewritten (approvals kept).",
            {"old": old, "new": new, "rewritten": rewritten},
        )
    ctx.project.trigger_word = new
    ctx.project.updated_at = project.updated_at
    write_project_file(ctx.dir, ctx.project)
    return TriggerChange(old, new, rewritten, checked.warnings)
