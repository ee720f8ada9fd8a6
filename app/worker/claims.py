"""A command's claim on a project: while ``loragate gates --check`` or ``loragate
captions`` works on a project in its own foreground process, no job of that project
starts, and the project is neither archived nor deleted.

The claim is an exclusive ``flock`` on ``<data>/claims/<project id>.lock``, taken inside
the write transaction (``BEGIN IMMEDIATE``) in which the command also finds no job
queued or running for the project (``queue.claim_project``). ``queue.start`` looks at
the same lock inside its own transaction, and archiving or deleting inside theirs. As
each of these decides under SQLite's one write lock, they are serialised: a command
that claims first makes a later start refuse, and a start that comes first makes the
command leave the project alone. No job can start between the check and the work.

Why a lock file, not a job row started through ``queue.start`` for the command: a row
names a process the supervisor did not spawn, so the supervisor would tail it, Cancel
would send SIGTERM to its process group (the user's shell pipeline, ``loragate gates
--check | tee``), a killed command would be offered Resume, and every page that lists
jobs would have to know a kind that runs no child. A ``flock`` belongs to the open file:
the kernel lets go of it when the command ends however it ends (Ctrl-C, SIGKILL), so no
claim outlives its command and nothing has to clean one up.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from app.settings import Settings
from app.worker.refusals import ProjectClaimed


def claim_file(settings: Settings, project_id: int) -> Path:
    return settings.data_dir / "claims" / f"{project_id}.lock"


def open_claim(settings: Settings, project_id: int) -> int:
    """The claim file's descriptor; the claim is held on it, and closing it lets go."""
    path = claim_file(settings, project_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    return os.open(path, os.O_RDWR | os.O_CREAT, 0o600)


def take_claim(fd: int) -> None:
    """Hold the claim on ``fd`` (inside the write transaction that found no job)."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise ProjectClaimed() from None


def refuse_if_claimed(settings: Settings, project_id: int | None) -> None:
    """Raise ProjectClaimed while a command holds the project. Called inside the write
    transaction that decides a start, an archive or a deletion."""
    if project_id is None or not claim_file(settings, project_id).exists():
        return
    fd = open_claim(settings, project_id)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        raise ProjectClaimed() from None
    finally:
        os.close(fd)  # also lets go of the shared lock just taken
