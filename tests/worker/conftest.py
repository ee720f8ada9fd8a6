"""Worker tests: real child processes, a real SQLite file, and for the restart tests a
real server (uvicorn in a subprocess) that a test may SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlmodel import col, select

import tests.worker.kinds  # noqa: F401  (registers the test-only kinds)
from app.models import Job, JobEvent
from app.settings import REPO_ROOT, Settings
from app.worker import Worker
from app.workspace import Workspace
from tests.live_server import free_port, wait_until_serving


@pytest.fixture(autouse=True)
def _end_leftover_jobs(no_leftover_jobs: None) -> None:
    """Every worker test ends the job processes it started, passed or failed."""


@pytest.fixture
def worker(workspace: Workspace) -> Worker:
    return Worker(workspace, cancel_grace=1.0)


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)


def start_server(settings: Settings, log_path: Path) -> Server:
    port = free_port()
    env = os.environ | {
        "LORAGATE_GRIMOIRE_DIR": str(settings.grimoire_dir),
        "LORAGATE_DATA_DIR": str(settings.data_dir),
    }
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                "tests.worker.server:create",
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    if wait_until_serving(url, process):
        return Server(url, process)
    process.kill()
    raise RuntimeError("server did not start:\n" + log_path.read_text())


@pytest.fixture
def servers(settings: Settings, tmp_path: Path) -> Iterator[Callable[[], Server]]:
    """Start servers on the test's workspace; every one still running is stopped."""
    started: list[Server] = []

    def start() -> Server:
        server = start_server(settings, tmp_path / "server.log")
        started.append(server)
        return server

    yield start
    for server in started:
        if server.process.poll() is None:
            server.process.terminate()
            server.process.wait(10)


def read_job(workspace: Workspace, job_id: int) -> Job:
    """The job as stored (no supervising from the test)."""
    with workspace.db.reading() as session:
        job = session.get(Job, job_id)
    assert job is not None
    return job


def wait_for(condition: Callable[[], bool], timeout: float = 60, what: str = "it") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout} s for {what}")
        time.sleep(0.05)


def stored_events(workspace: Workspace, job_id: int) -> list[JobEvent]:
    with workspace.db.reading() as session:
        return list(
            session.exec(
                select(JobEvent).where(JobEvent.job_id == job_id).order_by(col(JobEvent.id))
            ).all()
        )
