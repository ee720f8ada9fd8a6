"""A job reads only its own event file. Job folders outlive their rows (a deleted
project, a database file started afresh over an old data folder), and an old folder's
end event once ended a new job with the old job's result and killed its child."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy.exc import IntegrityError

from app.models import Project
from app.project_archive import delete_project
from app.projects import create_project
from app.settings import Settings
from app.worker import Worker
from app.workspace import Workspace
from tests.worker.kinds import COUNT


def _project(workspace: Workspace, make_intent, name: str) -> Project:  # type: ignore[no-untyped-def]
    project, _ = create_project(workspace, make_intent(name=name))
    return project


def _runs_to_its_own_end(worker: Worker, project: Project) -> int:
    """A new job of 20 counts: it ends done with its own result after all its own
    events, not with an earlier job's."""
    job = worker.start(COUNT, project.id, {"n": 20, "delay": 0.02})
    assert job.id is not None
    end = worker.wait(job.id, 60)
    assert end is not None and end.state == "done", end
    assert end.result == {"counted": 20}
    progress = [json.loads(e.data)["done"] for e in worker.events(job.id) if e.type == "progress"]
    assert progress == list(range(1, 21))
    return job.id


def test_a_job_started_after_a_project_was_deleted_runs_to_its_own_end(
    worker: Worker, workspace: Workspace, make_intent
) -> None:  # type: ignore[no-untyped-def]
    alpha = _project(workspace, make_intent, "Alpha")
    old = worker.start(COUNT, alpha.id, {"n": 3})
    assert old.id is not None
    assert worker.wait(old.id, 60).state == "done"  # type: ignore[union-attr]
    old_folder = Path(old.events_path).parent
    assert (old_folder / "log.txt").is_file()
    delete_project(workspace, alpha, "Alpha")
    assert not old_folder.exists(), "the deleted project's job log was left behind"

    new_id = _runs_to_its_own_end(worker, _project(workspace, make_intent, "Beta"))
    assert new_id != old.id, "a deleted job's id was handed out again"


def test_a_fresh_database_over_an_old_data_folder_runs_its_jobs_to_their_own_ends(
    settings: Settings, make_intent
) -> None:  # type: ignore[no-untyped-def]
    """The artist removes loragate.db (or restores an older one) and keeps data/: job
    ids start again at 1, and job 1's old folder is still there."""
    first = Workspace(settings)
    worker = Worker(first)
    old = worker.start(COUNT, _project(first, make_intent, "Alpha").id, {"n": 3})
    assert worker.wait(old.id or 0, 60).state == "done"  # type: ignore[union-attr]
    first.close()
    for path in Path(settings.database_file).parent.glob(settings.database_file.name + "*"):
        path.unlink()

    fresh = Workspace(settings)
    try:
        new_id = _runs_to_its_own_end(Worker(fresh), _project(fresh, make_intent, "Beta"))
        assert new_id == old.id  # the same id: only the folder tells the two apart
    finally:
        fresh.close()


def test_a_start_that_fails_after_launching_leaves_no_folder_behind(
    worker: Worker, workspace: Workspace, project: Project
) -> None:
    """The row of a start whose commit fails is rolled back and its process ended; its
    id comes round again, so its folder goes too."""
    with workspace.db.writing() as session:
        session.connection().exec_driver_sql(
            "CREATE TRIGGER full_disk BEFORE UPDATE OF state ON job WHEN NEW.state = 'running' "
            "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
        )
    with pytest.raises(IntegrityError, match="disk is full"):
        worker.start(COUNT, project.id, {"n": 3})
    assert list((workspace.settings.data_dir / "jobs").iterdir()) == []
    with workspace.db.writing() as session:
        session.connection().exec_driver_sql("DROP TRIGGER full_disk")

    job = worker.start(COUNT, project.id, {"n": 3})
    assert worker.wait(job.id or 0, 60).result == {"counted": 3}  # type: ignore[union-attr]
    assert list((workspace.settings.data_dir / "jobs").iterdir()) == [Path(job.events_path).parent]
