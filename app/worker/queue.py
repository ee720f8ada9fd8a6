"""Starting, queueing and cancelling jobs. Whether a job may start, must wait for a
GPU, or is refused is decided here only, inside one write transaction (``BEGIN
IMMEDIATE``): two tabs, or a tab and the CLI, that start at the same moment queue on
SQLite's write lock, and the second one sees the first one's job.

The child is spawned inside that transaction too, so a job row is never committed as
running without its process (and a spawn that fails leaves no row behind).

The same transaction refuses a start for a project that is archived or deleted, or that
a command holds (``claims``): archiving, deleting and claiming decide in a write
transaction of their own, so whichever comes first, the other sees it.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from app.models import Job, JobEvent, Project
from app.models.base import utcnow
from app.settings import Settings
from app.worker.claims import open_claim, refuse_if_claimed, take_claim
from app.worker.eventfile import END
from app.worker.kinds import KINDS, exclude_each_other, kind_of
from app.worker.process import end_group, is_alive, launch, signal_group
from app.worker.refusals import JobBusy, ProjectPutAway
from app.workspace import Workspace

ACTIVE_STATES = ("queued", "running")
FINISHED_STATES = ("done", "failed", "cancelled", "interrupted")
CANCELLED_MESSAGE = "Cancelled. Nothing was lost."


def new_job_folder(settings: Settings, job_id: int) -> Path:
    """A folder no earlier job used, ``jobs/<id>-<token>``: folders outlive their rows (a
    deleted project's jobs, a database file started afresh, a start rolled back), and
    ids come round again, so a folder named by the id alone could hand a new job an old
    job's events, its end event included. The row keeps the paths; nothing rebuilds
    them from the id."""
    jobs = settings.data_dir / "jobs"
    jobs.mkdir(parents=True, exist_ok=True)
    while True:
        folder = jobs / f"{job_id}-{secrets.token_hex(4)}"
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        return folder


def start(
    workspace: Workspace,
    kind: str,
    project_id: int | None,
    params: dict[str, Any] | None = None,
    title: str = "",
) -> Job:
    """The one way to start work: a job row, running in its child or queued for its
    GPU. Raises JobBusy when a job of the project excludes it (``kinds``), ProjectPutAway
    when the project is archived or gone, ProjectClaimed while a command holds it."""
    spec = kind_of(kind)
    launched: int | None = None
    folder: Path | None = None
    try:
        with workspace.db.writing() as session:
            active = session.exec(select(Job).where(col(Job.state).in_(ACTIVE_STATES))).all()
            for other in active:
                if other.project_id == project_id and exclude_each_other(kind, other.kind):
                    session.expunge(other)  # the rollback would expire it
                    raise JobBusy(other)
            refuse_put_away(session, project_id)
            refuse_if_claimed(workspace.settings, project_id)
            job = Job(
                project_id=project_id,
                kind=kind,
                title=title,
                params=params or {},
                gpu=0 if spec.gpu else None,
            )
            session.add(job)
            session.flush()
            assert job.id is not None
            folder = new_job_folder(workspace.settings, job.id)
            job.events_path = str(folder / "events.jsonl")
            job.log_path = str(folder / "log.txt")
            gpu_taken = job.gpu is not None and any(other.gpu == job.gpu for other in active)
            if not gpu_taken:
                launched = _launch(workspace.settings, job)
            session.add(job)
    except BaseException:
        if launched is not None:
            end_group(launched)  # the row was not committed: its process must not run
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)  # no row names it
        raise
    return job


def refuse_put_away(session: Session, project_id: int | None) -> None:
    """Inside a start's transaction: an archived or deleted project starts nothing."""
    if project_id is None:
        return
    project = session.get(Project, project_id)
    if project is None or project.archived_at is not None:
        if project is not None:
            session.expunge(project)  # the message reads its name after the rollback
        raise ProjectPutAway(project)


def refuse_while_busy(workspace: Workspace, session: Session, project_id: int | None) -> None:
    """Inside a write transaction that is about to work on the whole project (archive,
    delete, a command's claim): raise JobBusy when any job of the project is queued or
    running, ProjectClaimed while a command holds it."""
    busy = session.exec(
        select(Job)
        .where(Job.project_id == project_id, col(Job.state).in_(ACTIVE_STATES))
        .order_by(col(Job.id))
    ).first()
    if busy is not None:
        session.expunge(busy)
        raise JobBusy(busy)
    refuse_if_claimed(workspace.settings, project_id)


@contextmanager
def claim_project(workspace: Workspace, project_id: int) -> Iterator[None]:
    """Hold the project for this process's foreground work (``claims``): no job of it
    starts, and it is neither archived nor deleted, until the block ends. Raises JobBusy
    when a job of the project is queued or running (the command then leaves it alone),
    ProjectClaimed when another command holds it."""
    fd = open_claim(workspace.settings, project_id)
    try:
        with workspace.db.writing() as session:
            refuse_while_busy(workspace, session, project_id)
            take_claim(fd)
        yield
    finally:
        os.close(fd)  # the only descriptor of this open file: the claim ends with it


def _launch(settings: Settings, job: Job) -> int:
    assert job.id is not None
    job_file = Path(job.events_path).with_name("job.json")
    spec = {
        "job_id": job.id,
        "kind": job.kind,
        "entry": kind_of(job.kind).entry,
        "project_id": job.project_id,
        "params": job.params,
        "settings": settings.model_dump(mode="json", exclude={"access_token", "host", "port"}),
        "events_path": job.events_path,
        "log_path": job.log_path,
    }
    job_file.write_text(json.dumps(spec), encoding="utf-8")
    Path(job.events_path).touch()
    process = launch(job_file, Path(job.log_path))
    job.pid, job.process_started = process.pid, process.started
    job.state = "running"
    job.started_at = job.updated_at = utcnow()
    return process.pid


def launch_waiting(workspace: Workspace) -> list[int]:
    """Start the queued jobs whose GPU is free, in the order they were queued."""
    started: list[int] = []
    with workspace.db.reading() as session:
        if session.exec(select(Job.id).where(Job.state == "queued").limit(1)).first() is None:
            return started  # the usual case, without taking the write lock
    with workspace.db.writing() as session:
        waiting = session.exec(select(Job).where(Job.state == "queued").order_by(col(Job.id))).all()
        if not waiting:
            return started
        busy = {
            job.gpu
            for job in session.exec(select(Job).where(Job.state == "running")).all()
            if job.gpu is not None
        }
        for job in waiting:
            if job.gpu in busy or job.kind not in KINDS:
                continue  # a kind another process knows waits for that one to start it
            busy.add(job.gpu)
            started.append(_launch(workspace.settings, job))
            session.add(job)
    return started


def place_in_line(session: Session, job: Job) -> int:
    """1 for the next queued job of its GPU, 2 for the one after, …"""
    ahead = session.exec(
        select(Job.id).where(Job.state == "queued", Job.gpu == job.gpu, col(Job.id) < job.id)
    ).all()
    return len(ahead) + 1


def cancel(workspace: Workspace, job_id: int) -> Job | None:
    """Stop a job: a queued one never starts; a running one's whole process group gets
    SIGTERM now and SIGKILL after the grace period (``Supervisor``)."""
    with workspace.db.writing() as session:
        job = session.get(Job, job_id)
        if job is None or job.state not in ACTIVE_STATES:
            return job
        if job.state == "queued":
            finish_without_child(session, job, "cancelled", CANCELLED_MESSAGE)
            return job
        job.cancel_requested = True
        job.cancel_requested_at = job.updated_at = utcnow()
        job.message = "Cancelling…"
        session.add(job)
    if job.pid is not None and is_alive(job.pid, job.process_started):
        signal_group(job.pid, signal.SIGTERM)
    return job


def finish_without_child(session: Session, job: Job, state: str, message: str) -> None:
    """End a job whose child wrote no end event (never started, or vanished): the end
    event is stored here, so that a stream following the job closes."""
    session.add(
        JobEvent(job_id=job.id or 0, type=END, data=json.dumps({"type": END, "state": state}))
    )
    job.state = state
    job.message = message
    job.finished_at = job.updated_at = utcnow()
    session.add(job)


def log_tail(job: Job, lines: int = 12) -> list[str]:
    """The last lines of the child's log: where a failure explains itself."""
    try:
        with open(job.log_path, "rb") as file:
            file.seek(max(0, os.path.getsize(job.log_path) - 16384))
            text = file.read().decode("utf-8", "replace")
    except OSError:
        return []
    return text.strip().splitlines()[-lines:]
