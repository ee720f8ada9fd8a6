"""The journal: every decision about a project, in SQLite (``Event``) and, for people,
appended to ``grimoire/training/{slug}/journal.md``.

The Markdown line is written only after the database transaction commits, so a
rolled-back decision never shows up in the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event as sa_event
from sqlmodel import Session

from app.fsutil import append_text
from app.models import Event, Project

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
    line = f"- **{entry.created_at:%Y-%m-%d %H:%M:%S}** {message}\n"

    def _append_after_commit(_session: Session) -> None:
        append_text(journal_path(project_dir), line)

    sa_event.listen(session, "after_commit", _append_after_commit, once=True)
    return entry


def recent(session: Session, project: Project, limit: int = 50) -> list[Event]:
    from sqlmodel import col, select

    statement = (
        select(Event)
        .where(Event.project_id == project.id)
        .order_by(col(Event.created_at).desc(), col(Event.id).desc())
        .limit(limit)
    )
    return list(session.exec(statement))
