"""The background job runner: progress and results persist in SQLite, Cancel stops work
between units, failures keep their message, a restart marks leftovers interrupted."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlmodel import select

from app.db import Database
from app.jobs import JobBusy, JobHandle, JobRunner
from app.models import Job


@pytest.fixture
def db(tmp_path: Path) -> Database:
    database = Database(tmp_path / "jobs.db")
    database.migrate()
    yield database
    database.dispose()


def test_progress_and_result_are_stored(db: Database) -> None:
    runner = JobRunner(db)

    def work(handle: JobHandle) -> dict[str, int]:
        for done in range(1, 4):
            handle.progress(done, 3, "Counting")
        return {"counted": 3}

    job = runner.start("test.count", work, title="Counting")
    finished = runner.wait(job.id, 10)
    assert finished is not None and finished.state == "done"
    assert (finished.done, finished.total, finished.result) == (3, 3, {"counted": 3})
    assert finished.started_at and finished.finished_at


def test_cancel_stops_the_work_between_units(db: Database) -> None:
    runner = JobRunner(db)
    started = threading.Event()
    units: list[int] = []

    def work(handle: JobHandle) -> None:
        started.set()
        for unit in range(10_000):
            handle.raise_if_cancelled()
            units.append(unit)
            threading.Event().wait(0.001)

    job = runner.start("test.long", work)
    started.wait(5)
    assert runner.active("test.long", None) is not None
    with pytest.raises(JobBusy):
        runner.start("test.long", work)  # one at a time
    assert runner.cancel(job.id)
    finished = runner.wait(job.id, 10)
    assert finished is not None and finished.state == "cancelled"
    assert len(units) < 10_000
    assert runner.active("test.long", None) is None


def test_a_failure_keeps_its_message(db: Database) -> None:
    runner = JobRunner(db)

    def work(handle: JobHandle) -> None:
        raise ValueError("the folder vanished")

    finished = runner.wait(runner.start("test.fail", work).id, 10)
    assert finished is not None and (finished.state, finished.error) == (
        "failed",
        "the folder vanished",
    )


def test_a_restart_marks_unfinished_jobs_interrupted(db: Database) -> None:
    with db.writing() as session:
        session.add(Job(kind="test.left", state="running", done=5, total=10))
    assert JobRunner(db).recover_interrupted() == 1
    with db.reading() as session:
        job = session.exec(select(Job)).one()
    assert job.state == "interrupted" and "Run it again" in job.message
