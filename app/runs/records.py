"""Run rows: numbering, their folders, reading them, and what a run's state means once
its job has ended without the run saying so (the server or the machine lost it)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, func, select

from app.models import Job, Run
from app.models.base import utcnow
from app.run_folders import run_folder, runs_root
from app.workspace import ProjectContext

ACTIVE = ("queued", "running")
ENDED = ("finished", "failed", "cancelled", "interrupted")
STATE_WORDS = {
    "queued": "waiting for the GPU",
    "running": "training",
    "waiting": "waiting for your answer",
    "finished": "finished",
    "failed": "failed",
    "cancelled": "cancelled",
    "interrupted": "interrupted, resumable",
}
LOST_MESSAGE = (
    "loragate lost this run: its process was gone when loragate looked again (the "
    "server or the computer stopped while it trained). Checkpoints are kept: Resume "
    "continues from the newest complete one."
)


def runs_dir(ctx: ProjectContext) -> Path:
    return runs_root(ctx.dir)


def run_dir(ctx: ProjectContext, number: int) -> Path:
    """``<project>/runs/<number>/``: checkpoints/, samples/ and the final LoRA."""
    return run_folder(ctx.dir, number)


def next_number(session: Session, project_id: int) -> int:
    highest = session.exec(select(func.max(Run.number)).where(Run.project_id == project_id)).one()
    return int(highest or 0) + 1


def get_run(ctx: ProjectContext, number: int) -> Run | None:
    with ctx.workspace.db.reading() as session:
        return session.exec(
            select(Run).where(Run.project_id == ctx.project.id, Run.number == number)
        ).first()


def run_by_id(ctx: ProjectContext, run_id: int) -> Run | None:
    with ctx.workspace.db.reading() as session:
        run = session.get(Run, run_id)
    return run if run is not None and run.project_id == ctx.project.id else None


def list_runs(ctx: ProjectContext) -> list[Run]:
    with ctx.workspace.db.reading() as session:
        return list(
            session.exec(
                select(Run).where(Run.project_id == ctx.project.id).order_by(col(Run.number).desc())
            ).all()
        )


def update_run(ctx: ProjectContext, run_id: int, **values: Any) -> Run:
    """Write fields of the run (from the supervisor or a command); returns the row."""
    with ctx.workspace.db.writing() as session:
        run = session.get(Run, run_id)
        if run is None:
            raise LookupError(f"run {run_id} is gone")
        for key, value in values.items():
            setattr(run, key, value)
        run.updated_at = utcnow()
        session.add(run)
        session.flush()
        session.refresh(run)
        session.expunge(run)
    return run


@dataclass(frozen=True)
class RunStatus:
    state: str
    words: str
    message: str
    lost: bool  # the run says it trains, but its job has ended: the server lost it


def run_status(run: Run, job: Job | None) -> RunStatus:
    """Where the run stands. A run row says "running" until its supervisor writes the
    end; when its job ended without that (killed with the machine, or its process
    vanished while the server was down), the run is interrupted and resumable."""
    state, message = run.state, run.message
    lost = False
    if state in ACTIVE and (
        job is None or job.state in ("done", "failed", "cancelled", "interrupted")
    ):
        lost = True
        if job is not None and job.state == "cancelled":
            state, message = "cancelled", "Cancelled. Checkpoints are kept."
        elif job is not None and job.state == "failed" and job.error:
            state, message = "failed", job.error
        else:
            state, message = "interrupted", LOST_MESSAGE
    return RunStatus(state, STATE_WORDS.get(state, state), message, lost)


def run_job(ctx: ProjectContext, run: Run) -> Job | None:
    if run.job_id is None:
        return None
    with ctx.workspace.db.reading() as session:
        return session.get(Job, run.job_id)


def fitted_run(ctx: ProjectContext) -> Run | None:
    """The newest run that had to climb the OOM ladder: the config page shows what
    finally fitted (its settings are the run's, not the saved config's)."""
    with ctx.workspace.db.reading() as session:
        runs = session.exec(
            select(Run).where(Run.project_id == ctx.project.id).order_by(col(Run.number).desc())
        ).all()
    return next((run for run in runs if run.rungs), None)
