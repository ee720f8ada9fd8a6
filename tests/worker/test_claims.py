"""Checks that used to run outside the worker's lock, raced against a real start.

Archiving or deleting a project, and a command's foreground work on it (``loragate
gates --check``), each decide "no job is running" in the same write transaction in
which ``start`` decides whether a job may start. Here both sides of each race wait on
SQLite's write lock (held by the test), are let go at once, and exactly one of them
wins; the loser says why in plain words.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from app.models import Project
from app.project_archive import ProjectActionError, archive_project, delete_project
from app.projects import get_project
from app.settings import REPO_ROOT, Settings
from app.worker import Worker
from app.worker.claims import refuse_if_claimed
from app.worker.refusals import ProjectClaimed, ProjectPutAway
from app.workspace import Workspace
from tests.cli.conftest import CliRunner, cli, cli_env  # noqa: F401  (cli: a fixture)
from tests.worker.conftest import wait_for
from tests.worker.kinds import HOLD


@contextmanager
def write_lock_held(settings: Settings) -> Iterator[None]:
    """Hold SQLite's write lock until the block ends: whatever starts inside it waits
    at its ``BEGIN IMMEDIATE``, and all of it is let go at once."""
    lock = sqlite3.connect(settings.database_file, isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        lock.rollback()
        lock.close()


def in_thread(action: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    """Run ``action`` in a thread; the list receives its result or its exception."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(action())
        except Exception as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def race(settings: Settings, first: Callable[[], Any], second: Callable[[], Any]) -> list[Any]:
    with write_lock_held(settings):
        runs = [in_thread(first), in_thread(second)]
        time.sleep(1.0)  # both reach their BEGIN IMMEDIATE (or, before the fix, their check)
    for thread, _ in runs:
        thread.join(60)
    return [outcome[0] for _, outcome in runs]


def stop(worker: Worker, started: Any) -> None:
    if not isinstance(started, BaseException):
        worker.cancel(started.id)
        worker.wait(started.id, 60)


def test_archiving_and_a_start_at_once_end_as_one_of_them(
    workspace: Workspace, project: Project, settings: Settings, worker: Worker
) -> None:
    archived, started = race(
        settings,
        lambda: archive_project(workspace, project),
        lambda: worker.start(HOLD, project.id, title="Auditing"),
    )
    stop(worker, started)
    row = get_project(workspace, project.slug)
    assert row is not None
    if isinstance(started, BaseException):
        # The archive came first: the start found the project archived.
        assert isinstance(started, ProjectPutAway), started
        assert (
            str(started)
            == "“Ink wash” is archived. Restore it to the project list first; nothing was started."
        )
        assert row.archived_at is not None
    else:
        # The start came first: the archive found its job and changed nothing.
        assert isinstance(archived, ProjectActionError), archived
        assert "“Auditing” is running for this project" in str(archived)
        assert row.archived_at is None


def test_deleting_and_a_start_at_once_end_as_one_of_them(
    workspace: Workspace, project: Project, settings: Settings, worker: Worker
) -> None:
    folder = workspace.project_dir(project.slug)
    deleted, started = race(
        settings,
        lambda: delete_project(workspace, project, project.name),
        lambda: worker.start(HOLD, project.id, title="Auditing"),
    )
    stop(worker, started)
    if isinstance(started, BaseException):
        assert isinstance(started, ProjectPutAway), started
        assert "no longer exists" in str(started)
        assert get_project(workspace, project.slug) is None and not folder.exists()
    else:
        assert isinstance(deleted, ProjectActionError), deleted
        assert "“Auditing” is running for this project" in str(deleted)
        assert get_project(workspace, project.slug) is not None
        assert (folder / "journal.md").is_file()


def test_a_start_for_an_archived_or_deleted_project_says_so(
    workspace: Workspace,
    project: Project,
    cli: CliRunner,  # noqa: F811  (the fixture)
) -> None:
    archive_project(workspace, project)
    command = cli("jobs", "start", "dataset.audit", project.slug)
    assert command.returncode == 1
    assert "“Ink wash” is archived. Restore it to the project list first" in command.stderr
    assert "Traceback" not in command.stderr
    delete_project(workspace, project, project.name)
    with pytest.raises(ProjectPutAway, match="no longer exists"):
        Worker(workspace).start(HOLD, project.id)


def gates_check(settings: Settings, slug: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "app", "gates", slug, "--check"],
        cwd=REPO_ROOT,
        env=cli_env(settings),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _claimed(settings: Settings, project_id: int) -> bool:
    try:
        refuse_if_claimed(settings, project_id)
    except ProjectClaimed:
        return True
    return False


def _has_open(pid: int, path: Path) -> bool:
    try:
        return any(str(fd.readlink()) == str(path) for fd in Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return False


def test_gates_check_and_a_start_at_once_make_one_of_them(
    workspace: Workspace, project: Project, settings: Settings, worker: Worker
) -> None:
    """The command checked the gates and the start was refused, or the job started and
    the command checked nothing: never both at work on the project."""
    with write_lock_held(settings):
        command = gates_check(settings, project.slug)
        wait_for(lambda: _has_open(command.pid, settings.database_file), 60, "the command's db")
        page, outcome = in_thread(lambda: worker.start(HOLD, project.id, title="Auditing"))
        time.sleep(1.0)  # from opening the file to the claim's BEGIN IMMEDIATE
    page.join(60)
    out, err = command.communicate(timeout=300)
    started = outcome[0]
    stop(worker, started)  # a job that started holds the project until the command ended
    checked = "Checking Gate 1" in err
    if isinstance(started, BaseException):
        assert isinstance(started, ProjectClaimed), started
        assert "`loragate gates --check` or `loragate captions`" in str(started)
        assert checked, (out, err)
    else:
        assert not checked, (out, err)
        assert "“Auditing” is running for this project in loragate serve" in out
        assert "Nothing was checked." in out


def test_nothing_starts_or_is_put_away_while_a_command_checks_and_starts_after(
    workspace: Workspace, project: Project, settings: Settings, worker: Worker
) -> None:
    command = gates_check(settings, project.slug)
    wait_for(lambda: _claimed(settings, project.id or 0), 60, "the command to claim the project")
    with pytest.raises(ProjectClaimed):
        worker.start(HOLD, project.id, title="Auditing")
    with pytest.raises(ProjectActionError, match="is working on this project now"):
        archive_project(workspace, project)
    out, err = command.communicate(timeout=300)
    assert "Checking Gate 1" in err, (out, err)
    assert not _claimed(settings, project.id or 0)  # the claim ended with its command
    job = worker.start(HOLD, project.id, title="Auditing")
    stop(worker, job)


def test_a_refusal_is_a_plain_message_on_a_page(
    workspace: Workspace, project: Project, client: Any
) -> None:
    archive_project(workspace, project)
    answer = client.post(f"/projects/{project.slug}/audit/run", headers={"hx-request": "true"})
    assert answer.status_code == 409
    assert "is archived. Restore it to the project list first" in answer.text
