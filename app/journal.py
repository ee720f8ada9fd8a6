"""The journal: every decision about a project, in SQLite (``Event``) and, for people,
appended to ``grimoire/training/{slug}/journal.md``.

The Markdown line is written only after the database transaction commits, so a
rolled-back decision never shows up in the file.
"""

from __future__ import annotations

import fcntl
import html
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event as sa_event
from sqlmodel import Session, col, select

from app.fsutil import append_text, atomic_write_text
from app.models import Event, Project
from app.models.base import utcnow
from app.printable import printable

JOURNAL_FILE = "journal.md"


def journal_path(project_dir: Path) -> Path:
    return project_dir / JOURNAL_FILE


def start_journal(project_dir: Path, project_name: str) -> None:
    path = journal_path(project_dir)
    if not path.exists():
        append_text(
            path,
            f"# Journal: {project_name}\n\n"
            "Every decision loragate and you made about this project, oldest first. "
            "Times are UTC.\n\n",
        )


def record(
    session: Session,
    project: Project,
    project_dir: Path,
    kind: str,
    message: str,
    data: dict[str, Any] | None = None,
) -> Event:
    """Add a journal entry inside the caller's write transaction."""
    entry = Event(project_id=project.id, kind=kind, message=message, data=data or {})
    session.add(entry)
    line = _line(entry)

    def _append_after_commit(_session: Session) -> None:
        with _locked(journal_path(project_dir)):
            append_text(journal_path(project_dir), line)

    sa_event.listen(session, "after_commit", _append_after_commit, once=True)
    return entry


def _line(entry: Event) -> str:
    """One Markdown line per entry, whatever the message holds: a file name's newline
    would split it and its ``<tag>`` would render as HTML, so both are escaped (only
    here: the database keeps the message as it was)."""
    message = html.escape(printable(entry.message), quote=False)
    return f"- **{entry.created_at:%Y-%m-%d %H:%M:%S}** {message}\n"


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Appends and the rewrite of the last line take turns, even across processes (the
    server and a CLI command may both write one project's journal)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(f".{path.name}.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def record_coalesced(
    session: Session,
    project: Project,
    project_dir: Path,
    kind: str,
    items: list[Any],
    message_for: Callable[[list[Any]], str],
    window: timedelta = timedelta(minutes=10),
) -> Event:
    """Like ``record``, but when the project's newest entry is of the same kind and
    recent, fold ``items`` into it, so that approving captions one click at a time reads
    "Approved 12 captions" rather than twelve lines. Its journal.md line is rewritten
    in place when it is still the file's last line; otherwise the new total is appended.
    """
    newest = session.exec(
        select(Event)
        .where(Event.project_id == project.id)
        .order_by(col(Event.created_at).desc(), col(Event.id).desc())
        .limit(1)
    ).first()
    if newest is None or newest.kind != kind or utcnow() - newest.created_at > window:
        return record(session, project, project_dir, kind, message_for(items), {"items": items})
    old_line = _line(newest)
    merged = [*newest.data.get("items", []), *items]
    newest.data = {**newest.data, "items": merged}
    newest.message = message_for(merged)
    session.add(newest)
    new_line = _line(newest)

    def _rewrite_after_commit(_session: Session) -> None:
        path = journal_path(project_dir)
        with _locked(path):
            text = path.read_text("utf-8") if path.exists() else ""
            if text.endswith(old_line):
                atomic_write_text(path, text[: -len(old_line)] + new_line)
            else:
                append_text(path, new_line)

    sa_event.listen(session, "after_commit", _rewrite_after_commit, once=True)
    return newest


def recent(session: Session, project: Project, limit: int = 50) -> list[Event]:
    statement = (
        select(Event)
        .where(Event.project_id == project.id)
        .order_by(col(Event.created_at).desc(), col(Event.id).desc())
        .limit(limit)
    )
    return list(session.exec(statement))


def find(session: Session, project: Project, event_id: int) -> Event | None:
    """One entry of this project's journal, by id (None for another project's)."""
    entry = session.get(Event, event_id)
    return entry if entry is not None and entry.project_id == project.id else None
