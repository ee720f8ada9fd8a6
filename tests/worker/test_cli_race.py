"""Two starts at once from two processes, the CLI and a page of the running server,
make exactly one job: both wait on SQLite's write lock (held here by the test) and the
one that gets it second sees the first one's job."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from sqlmodel import select

from app.models import Job, Project
from app.settings import REPO_ROOT, Settings
from app.worker import Worker
from app.workspace import Workspace
from tests.worker.conftest import Server, wait_for


def _has_open(pid: int, path: Path) -> bool:
    fds = Path(f"/proc/{pid}/fd")
    try:
        return any(os.readlink(fd) == str(path) for fd in fds.iterdir())
    except OSError:
        return False


def test_the_cli_and_a_page_starting_at_once_make_exactly_one_job(
    workspace: Workspace,
    project: Project,
    settings: Settings,
    servers: Callable[[], Server],
) -> None:
    server = servers()
    lock = sqlite3.connect(settings.database_file, isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")  # both starts will queue behind this
    env = os.environ | {
        "LORAGATE_GRIMOIRE_DIR": str(settings.grimoire_dir),
        "LORAGATE_DATA_DIR": str(settings.data_dir),
    }
    cli = subprocess.Popen(
        [sys.executable, "-m", "app", "jobs", "start", "dataset.audit", project.slug],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    answers: list[httpx.Response] = []
    page = threading.Thread(
        target=lambda: answers.append(
            httpx.post(
                f"{server.url}/projects/{project.slug}/audit/run",
                headers={"hx-request": "true", "origin": server.url},
                timeout=60,
            )
        )
    )
    page.start()
    wait_for(lambda: _has_open(cli.pid, settings.database_file), 60, "the CLI to open the db")
    time.sleep(1.0)  # from opening the file to BEGIN IMMEDIATE in ``start``
    lock.rollback()
    lock.close()
    out, err = cli.communicate(timeout=60)
    page.join(60)
    with workspace.db.reading() as session:
        jobs = session.exec(select(Job).where(Job.project_id == project.id)).all()
    assert len(jobs) == 1, (out, err, answers)
    cli_started = cli.returncode == 0
    page_started = answers[0].status_code == 204
    assert cli_started != page_started, (cli.returncode, out, err, answers[0].status_code)
    refusal = answers[0].text if cli_started else err
    assert "already running" in refusal
    Worker(workspace).wait(jobs[0].id or 0, 120)
