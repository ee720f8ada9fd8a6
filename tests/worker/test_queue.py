"""``start``: one job per (project, kind), kinds that exclude each other (an import and
an audit of one project), at most one GPU job at a time with the rest in line, all
decided in one write transaction however many start at once."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlmodel import select

from app.curation.tasks import import_params
from app.models import Job, Project
from app.projects import create_project
from app.worker import JobBusy, Worker
from app.workspace import Workspace
from tests.worker.conftest import read_job
from tests.worker.kinds import COUNT, GPU, HOLD


def _project(workspace: Workspace, make_intent, name: str) -> Project:  # type: ignore[no-untyped-def]
    project, _ = create_project(workspace, make_intent(name=name))
    return project


def test_a_job_excludes_its_kind_and_the_kinds_it_shares_a_resource_with(
    worker: Worker, project: Project, workspace: Workspace, make_intent
) -> None:  # type: ignore[no-untyped-def]
    holding = worker.start(HOLD, project.id, title="Holding the dataset")
    with pytest.raises(JobBusy) as busy:
        worker.start("dataset.audit", project.id)
    assert busy.value.job.id == holding.id and "already running" in str(busy.value)
    with pytest.raises(JobBusy):
        worker.start(HOLD, project.id)
    # Another project, and a kind that shares nothing, are free to run.
    other = _project(workspace, make_intent, "Other")
    beside = worker.start(HOLD, other.id)
    count = worker.start(COUNT, project.id, {"n": 2})
    assert worker.wait(count.id or 0, 60).state == "done"  # type: ignore[union-attr]
    for job in (holding, beside):
        worker.cancel(job.id or 0)
        assert worker.wait(job.id or 0, 60).state == "cancelled"  # type: ignore[union-attr]


def test_parallel_starts_of_an_import_and_an_audit_make_exactly_one_job(
    workspace: Workspace, project: Project, tmp_path: Path
) -> None:
    """Issue 11 item 10: five parallel requests once started an import and an audit of
    one project together."""
    source = tmp_path / "empty-source"
    source.mkdir()
    barrier = threading.Barrier(8)
    outcomes: list[str] = []

    def press(kind: str) -> None:
        worker = Worker(workspace)  # each its own, like two tabs or a tab and the CLI
        params = import_params(source, label="a folder") if kind == "dataset.import" else {}
        barrier.wait()
        try:
            worker.start(kind, project.id, params)
            outcomes.append("started")
        except JobBusy:
            outcomes.append("busy")

    kinds = ["dataset.import", "dataset.audit"] * 4
    threads = [threading.Thread(target=press, args=(kind,)) for kind in kinds]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(outcomes) == ["busy"] * 7 + ["started"]
    with workspace.db.reading() as session:
        jobs = session.exec(select(Job).where(Job.project_id == project.id)).all()
    assert len(jobs) == 1
    Worker(workspace).wait(jobs[0].id or 0, 120)


def test_gpu_jobs_wait_in_line_and_start_in_order(
    worker: Worker, workspace: Workspace, make_intent
) -> None:  # type: ignore[no-untyped-def]
    projects = [_project(workspace, make_intent, name) for name in ("One", "Two", "Three")]
    first = worker.start(GPU, projects[0].id, {"n": 20, "delay": 0.05})
    second = worker.start(GPU, projects[1].id, {"n": 2})
    third = worker.start(GPU, projects[2].id, {"n": 2})
    assert (first.state, second.state, third.state) == ("running", "queued", "queued")
    assert (worker.place_in_line(second), worker.place_in_line(third)) == (1, 2)
    # A CPU job does not wait for the GPU.
    assert worker.start(COUNT, projects[1].id, {"n": 1}).state == "running"
    for job in (first, second, third):
        assert worker.wait(job.id or 0, 120).state == "done"  # type: ignore[union-attr]
    started = [read_job(workspace, job.id or 0).started_at for job in (first, second, third)]
    finished = [read_job(workspace, job.id or 0).finished_at for job in (first, second, third)]
    assert started == sorted(started)  # type: ignore[type-var]
    assert finished[0] <= started[1] and finished[1] <= started[2]  # type: ignore[operator]


def test_a_queued_job_that_is_cancelled_never_starts(
    worker: Worker, workspace: Workspace, make_intent
) -> None:  # type: ignore[no-untyped-def]
    one, two = (_project(workspace, make_intent, name) for name in ("One", "Two"))
    running = worker.start(GPU, one.id, {"n": 10, "delay": 0.05})
    waiting = worker.start(GPU, two.id, {"n": 1})
    cancelled = worker.cancel(waiting.id or 0)
    assert cancelled is not None and cancelled.state == "cancelled"
    assert worker.wait(running.id or 0, 60).state == "done"  # type: ignore[union-attr]
    worker.supervisor.run_pass()
    after = read_job(workspace, waiting.id or 0)
    assert after.state == "cancelled" and after.pid is None
