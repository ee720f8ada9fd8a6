"""The supervisor: a failure is a plain message with the log's last lines, Cancel ends
the whole process group (a grandchild that ignores SIGTERM too), a child that is
killed leaves its job interrupted with the log kept, and a server killed with SIGKILL
is followed by one that adopts the running job: no event lost, none stored twice."""

from __future__ import annotations

import json
import os
import signal
import urllib.request
from collections.abc import Callable
from pathlib import Path

import psutil

from app.models import Project
from app.worker import Worker
from app.workspace import Workspace
from tests.worker.conftest import Server, read_job, stored_events, wait_for
from tests.worker.kinds import COUNT, FAIL, FAMILY, GPU


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_a_failure_is_a_plain_message_with_the_last_lines_of_the_log(
    worker: Worker, project: Project
) -> None:
    job = worker.start(FAIL, project.id)
    failed = worker.wait(job.id or 0, 60)
    assert failed is not None and failed.state == "failed"
    assert failed.error == "The test job failed on purpose."
    tail = failed.result["log_tail"]
    assert any("about to fail" in line for line in tail)
    assert tail[-1].endswith("Failed: The test job failed on purpose.")
    assert Path(failed.log_path).is_file() and Path(failed.events_path).is_file()


def test_cancel_ends_the_child_and_its_grandchild(
    worker: Worker, project: Project, tmp_path: Path
) -> None:
    pid_file = tmp_path / "grandchild.pid"
    job = worker.start(FAMILY, project.id, {"pid_file": str(pid_file)})
    wait_for(lambda: pid_file.exists() and pid_file.read_text() != "", what="the grandchild")
    grandchild = int(pid_file.read_text())
    assert not _gone(grandchild) and not _gone(job.pid or 0)
    worker.cancel(job.id or 0)
    ended = worker.wait(job.id or 0, 60)
    assert ended is not None and ended.state == "cancelled"
    wait_for(lambda: _gone(grandchild) and _gone(job.pid or 0), 10, "the process group to end")


def test_a_killed_child_leaves_the_job_interrupted_with_its_log(
    worker: Worker, project: Project, workspace: Workspace
) -> None:
    job = worker.start(COUNT, project.id, {"n": 2000, "delay": 0.01})

    def counted_a_few() -> bool:
        worker.supervisor.run_pass()
        return read_job(workspace, job.id or 0).done >= 5

    wait_for(counted_a_few, what="the first events")
    os.kill(job.pid or 0, signal.SIGKILL)
    ended = worker.wait(job.id or 0, 60)
    assert ended is not None and ended.state == "interrupted"
    assert "stopped before finishing" in ended.message and "Resume" in ended.message
    assert any("started, process" in line for line in ended.result["log_tail"])
    assert "started, process" in Path(ended.log_path).read_text()  # the log is kept
    events = stored_events(workspace, job.id or 0)
    assert events[-1].type == "end" and json.loads(events[-1].data)["state"] == "interrupted"


def test_a_server_killed_mid_job_is_followed_by_one_that_adopts_it(
    workspace: Workspace, project: Project, make_intent, servers: Callable[[], Server]
) -> None:  # type: ignore[no-untyped-def]
    first = servers()
    # The test launches a short GPU job; the server's supervisor starts the long one
    # queued behind it, so that the job's child is the server's own.
    from app.projects import create_project

    other, _ = create_project(workspace, make_intent(name="Other"))
    n = 80
    Worker(workspace).start(GPU, other.id, {"n": 1})
    job = Worker(workspace).start(GPU, project.id, {"n": n, "delay": 0.05})
    assert job.state == "queued"
    wait_for(lambda: read_job(workspace, job.id or 0).done >= 10, what="the first events")
    running = read_job(workspace, job.id or 0)
    assert psutil.Process(running.pid).ppid() == first.process.pid  # the server's child
    first.kill()
    assert not _gone(running.pid or 0)  # the child outlived the server
    stored_at_kill = len(stored_events(workspace, job.id or 0))

    second = servers()
    wait_for(lambda: read_job(workspace, job.id or 0).state != "running", 120, "the job's end")
    ended = read_job(workspace, job.id or 0)
    assert ended.state == "done" and ended.result == {"counted": n}
    events = stored_events(workspace, job.id or 0)
    assert len(events) > stored_at_kill
    done_counts = [json.loads(e.data)["done"] for e in events if e.type == "progress"]
    assert done_counts == list(range(1, n + 1))  # no gap, no duplicate
    offsets = [e.file_end for e in events]
    assert offsets == sorted(offsets) and len(set(offsets)) == len(offsets)  # type: ignore[type-var]
    assert (
        events[-1].type == "end" and ended.events_offset == Path(ended.events_path).stat().st_size
    )
    with urllib.request.urlopen(second.url + "/", timeout=5) as response:
        assert response.status == 200


def test_a_job_whose_process_is_gone_at_start_was_interrupted_by_a_restart(
    workspace: Workspace, project: Project, servers: Callable[[], Server]
) -> None:
    """Issue 12 item 13: a restart during an import said "Cancelled. Nothing was lost."."""
    job = Worker(workspace).start(COUNT, project.id, {"n": 2000, "delay": 0.01})
    wait_for(lambda: Path(job.events_path).stat().st_size > 0, what="the child's first event")
    os.killpg(job.pid or 0, signal.SIGKILL)  # the computer restarted: everything is gone
    wait_for(lambda: _gone(job.pid or 0), what="the child to end")
    server = servers()
    wait_for(lambda: read_job(workspace, job.id or 0).state != "running", 60, "adoption")
    ended = read_job(workspace, job.id or 0)
    assert ended.state == "interrupted" and ended.message.startswith("Interrupted by a restart")
    assert "Cancelled" not in ended.message
    del server
