"""Putting a project away: archive (hidden from the list, every row and file kept,
undone with one click) or delete (its rows, its ``grimoire/training/{slug}`` folder and
its jobs' folders of events and logs, gone for good, only once the artist has typed the project's name).

Archiving and restoring are journaled in the project's own journal. A deleted project
has no journal left to write to, so its deletion is logged (the server's log) with what
was removed.

A project with a job running (an import, an audit, a check), or held by a command
(``app.worker.claims``), is neither archived nor deleted: the job would write into rows
or files that are being put away. That is checked inside the write transaction that
archives or deletes, the one in which a job start is decided too (``BEGIN IMMEDIATE``,
``app.worker.queue``): a start decided after it finds the project archived or gone
and refuses.
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func
from sqlmodel import Session, select

from app import journal
from app.models import Caption, DatasetImage, Job, Project
from app.models.base import utcnow
from app.projects import write_project_file
from app.words import plural
from app.worker.queue import refuse_while_busy
from app.worker.refusals import JobBusy, ProjectClaimed
from app.workspace import Workspace

log = logging.getLogger(__name__)


class ProjectActionError(ValueError):
    """Why a project cannot be archived, restored or deleted now, in plain words."""


@dataclass(frozen=True)
class DeletionPlan:
    """What deleting removes, shown before the artist confirms."""

    name: str
    slug: str
    folder: Path
    images: int
    captions: int
    folder_bytes: int

    def words(self) -> str:
        return (
            f"{plural(self.images, 'image')}, {plural(self.captions, 'caption')}, its journal "
            f"and every file in {self.folder} ({_size_words(self.folder_bytes)})"
        )


def _size_words(size: int) -> str:
    if size >= 1024**3:
        return f"{size / 1024**3:.1f} GB"
    if size >= 1024**2:
        return f"{size / 1024**2:.1f} MB"
    return f"{max(1, round(size / 1024)) if size else 0} KB"


def _folder_bytes(folder: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            try:
                total += (Path(root) / name).lstat().st_size
            except OSError:
                continue
    return total


def _refuse_if_busy(workspace: Workspace, session: Session, project: Project, doing: str) -> None:
    """Inside the transaction that archives or deletes: no job and no command at work."""
    try:
        refuse_while_busy(workspace, session, project.id)
    except JobBusy as busy:
        raise ProjectActionError(
            f"“{busy.job.title or busy.job.kind}” is running for this project. Wait for it "
            f"to finish (or cancel it), then {doing} the project."
        ) from None
    except ProjectClaimed as claimed:
        raise ProjectActionError(f"{claimed} Nothing was changed.") from None


def deletion_plan(workspace: Workspace, project: Project) -> DeletionPlan:
    folder = workspace.project_dir(project.slug)
    with workspace.db.reading() as session:
        images = session.exec(
            select(func.count())
            .select_from(DatasetImage)
            .where(DatasetImage.project_id == project.id)
        ).one()
        captions = session.exec(
            select(func.count()).select_from(Caption).where(Caption.project_id == project.id)
        ).one()
    return DeletionPlan(
        project.name,
        project.slug,
        folder,
        int(images),
        int(captions),
        _folder_bytes(folder) if folder.is_dir() else 0,
    )


def delete_project(workspace: Workspace, project: Project, confirm: str) -> DeletionPlan:
    """Delete the project's rows and folder once ``confirm`` is its name (or its folder
    name). The folder is renamed aside inside the transaction that finds no job and
    deletes the rows, so a failure in the database puts it back untouched, and nothing
    is removed from disk before the rows are gone."""
    if confirm.strip() not in (project.name, project.slug):
        raise ProjectActionError(
            f"Type the project's name, “{project.name}”, to confirm. Nothing was deleted."
        )
    plan = deletion_plan(workspace, project)
    aside = plan.folder.with_name(f".{plan.slug}.deleting")
    if aside.exists():
        shutil.rmtree(aside)  # left by a deletion that stopped half-way
    moved = False
    try:
        with workspace.db.writing() as session:
            row = session.get(Project, project.id)
            if row is None:
                raise ProjectActionError(f"The project “{project.name}” no longer exists.")
            _refuse_if_busy(workspace, session, row, "delete")
            if plan.folder.is_dir():
                plan.folder.rename(aside)
                moved = True
            job_folders = _job_folders(workspace, session, row)
            # Every table that belongs to a project references it ON DELETE CASCADE.
            session.delete(row)
    except BaseException:
        if moved:
            aside.rename(plan.folder)
        raise
    if moved:
        shutil.rmtree(aside, ignore_errors=True)
    for folder in job_folders:
        shutil.rmtree(folder, ignore_errors=True)
    log.warning("Deleted project “%s” (%s): %s.", plan.name, plan.slug, plan.words())
    return plan


def _job_folders(workspace: Workspace, session: Session, project: Project) -> list[Path]:
    """The folders of the project's jobs (events, log), whose rows go with it: only
    those inside the data folder's ``jobs/``, whatever a hand-edited row says."""
    jobs = (workspace.settings.data_dir / "jobs").resolve()
    folders = []
    for job in session.exec(select(Job).where(Job.project_id == project.id)).all():
        folder = Path(job.events_path).parent.resolve() if job.events_path else None
        if folder is not None and folder.parent == jobs:
            folders.append(folder)
    return folders


def _set_archived(workspace: Workspace, project: Project, archived: bool) -> Project:
    if archived == (project.archived_at is not None):
        state = "archived" if archived else "in the project list"
        raise ProjectActionError(f"“{project.name}” is already {state}.")
    folder = workspace.project_dir(project.slug)
    with workspace.db.writing() as session:
        row = session.get(Project, project.id)
        if row is None:
            raise ProjectActionError(f"The project “{project.name}” no longer exists.")
        if archived:
            _refuse_if_busy(workspace, session, row, "archive")
        row.archived_at = utcnow() if archived else None
        session.add(row)
        message = (
            f"Project “{row.name}” archived: hidden from the project list, nothing removed."
            if archived
            else f"Project “{row.name}” restored to the project list."
        )
        journal.record(
            session, row, folder, "project.archived" if archived else "project.restored", message
        )
    write_project_file(folder, row)
    return row


def archive_project(workspace: Workspace, project: Project) -> Project:
    return _set_archived(workspace, project, True)


def restore_project(workspace: Workspace, project: Project) -> Project:
    return _set_archived(workspace, project, False)
