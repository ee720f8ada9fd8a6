"""Taking in caption files loragate has not seen yet (an import, a file dropped in the
dataset folder): each becomes a draft caption with source "file", its text prepared
like every write (trigger word first, one line, UTF-8), the file rewritten to match
when that changed anything, and the whole lot journaled as one entry."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError

from app import journal
from app.captions.sidecar_decode import encoding_note
from app.captions.sidecar_files import digest_bytes, read_sidecar_text, sidecar_path
from app.captions.store import (
    CaptionRules,
    caption_of_image,
    is_trainable_image,
    load_captions,
    sidecar_of,
    store_text,
)
from app.dataset.inventory import dataset_dir
from app.dataset.records import sync_records
from app.models import Caption, DatasetImage
from app.words import plural
from app.workspace import ProjectContext


@dataclass(frozen=True)
class OutsideFiles:
    """What changed in the dataset folder outside loragate and waits to be picked up."""

    images: list[str]  # image files loragate has no record of yet
    captions: list[str]  # images whose caption file loragate has not taken in yet

    def __bool__(self) -> bool:
        return bool(self.images or self.captions)


def outside_files(ctx: ProjectContext) -> OutsideFiles:
    """Reads only (a page shows it, and GET never writes): what ``sync_captions`` would
    take in now."""
    rows = sync_records(ctx, save=False)
    known = load_captions(ctx)
    root = dataset_dir(ctx)
    return OutsideFiles(
        images=sorted(path for path, row in rows.items() if row.id is None),
        captions=sorted(
            path
            for path, row in rows.items()
            if (row.id is None or row.id not in known)
            and is_trainable_image(row)
            and sidecar_path(root, path).is_file()
        ),
    )


@dataclass
class SyncReport:
    imported: list[str]  # image paths whose caption file became a draft
    trigger_fixed: int = 0  # of them, how many needed the trigger word put first
    converted: int = 0  # of them, how many were not UTF-8


def sync_captions(ctx: ProjectContext, rows: dict[str, DatasetImage] | None = None) -> SyncReport:
    """Give every image whose caption file loragate has not seen yet a draft caption
    (source "file"), the trigger word first; journaled as one entry."""
    rows = rows if rows is not None else sync_records(ctx)
    known = load_captions(ctx)
    root = dataset_dir(ctx)
    found: list[tuple[DatasetImage, str, str, bytes]] = []
    for row in rows.values():
        if row.id in known or not is_trainable_image(row):
            continue
        path = sidecar_path(root, row.path)
        if path.is_file():
            found.append((row, *read_sidecar_text(path)))
    report = SyncReport(imported=[])
    if not found:
        return report
    rules = CaptionRules(ctx)
    with ctx.workspace.db.writing() as session:
        for row, text, encoding, data in found:
            if caption_of_image(session, row.id or 0) is not None:
                continue  # another request took it in meanwhile
            prepared, note = rules.prepare(text)
            notes = [note] if note else []
            converted = encoding_note(encoding)
            if converted:
                notes.append(converted)
                report.converted += 1
            lines = [line for line in text.splitlines() if line.strip()]
            if len(lines) > 1:
                notes.append(
                    f"The caption file had {len(lines)} lines; trainers read only the "
                    "first, so loragate joined them into one."
                )
            report.trigger_fixed += bool(note)
            if prepared.encode("utf-8") == data:
                caption = Caption(
                    project_id=ctx.project.id or 0,
                    image_id=row.id or 0,
                    text=prepared,
                    source="file",
                    note=" ".join(notes),
                    tokens=rules.tokens(prepared),
                    sidecar_sha256=digest_bytes(data),
                    sidecar_mtime_ns=sidecar_of(ctx, row).stat().st_mtime_ns,
                )
                session.add(caption)
            else:
                store_text(
                    session,
                    ctx,
                    rules,
                    row,
                    None,
                    prepared,
                    status="draft",
                    source="file",
                    note=" ".join(notes),
                )
            report.imported.append(row.path)
        if report.imported:
            journal.record(
                session,
                ctx.project,
                ctx.dir,
                "caption.imported",
                _imported_message(report),
                {"paths": report.imported},
            )
    return report


def take_in(ctx: ProjectContext) -> SyncReport:
    """``sync_captions`` asked for (the pages' "Pick up" button, ``loragate captions``).
    Two at the same moment may both add the row of a new file: the one that loses takes
    in again and finds that row there."""
    try:
        return sync_captions(ctx)
    except IntegrityError:
        return sync_captions(ctx)


def _imported_message(report: SyncReport) -> str:
    count = len(report.imported)
    message = f"Took in {plural(count, 'caption file')} as drafts"
    extra = []
    if report.trigger_fixed:
        extra.append(f"the trigger word put first in {report.trigger_fixed}")
    if report.converted:
        extra.append(f"{report.converted} rewritten as plain UTF-8")
    return message + (f" ({'; '.join(extra)})" if extra else "") + "."
