"""``loragate jobs``: list (text and JSON), start, follow with a progress bar, cancel;
all through real subprocesses on this test's database, with no server running (follow
supervises itself)."""

from __future__ import annotations

import json
import re

import pytest

from app.models import Project
from app.worker import Worker
from app.workspace import Workspace
from tests.cli.conftest import CliRunner, json_of
from tests.worker.conftest import read_job


def test_start_follow_and_list(cli: CliRunner, project: Project, workspace: Workspace) -> None:
    assert cli("jobs").stdout.strip() == "No jobs yet."
    started = cli("jobs", "start", "dataset.audit", project.slug, "--follow")
    assert started.returncode == 0, started.stderr
    lines = started.stdout.splitlines()
    assert lines[0].startswith("Started job 1: Auditing the dataset")
    assert any(line.startswith("[") and "/" in line for line in lines)  # the bar
    assert lines[-1] == "Job 1 done."
    listed = json_of(cli("jobs", "--json"))
    assert isinstance(listed, dict)
    (job,) = listed["jobs"]
    assert (job["id"], job["kind"], job["project"], job["state"]) == (
        1,
        "dataset.audit",
        project.slug,
        "done",
    )
    assert re.search(r"/jobs/1-[0-9a-f]{8}/log\.txt$", job["log"]), job["log"]
    text = cli("jobs").stdout
    assert "done" in text and project.slug in text and "Auditing the dataset" in text


@pytest.mark.usefixtures("no_leftover_jobs")
def test_cancel_then_follow_reports_it(
    cli: CliRunner, project: Project, workspace: Workspace
) -> None:
    import tests.worker.kinds as kinds

    job = Worker(workspace).start(kinds.HOLD, project.id, title="Holding")
    cancelled = cli("jobs", "cancel", str(job.id))
    assert cancelled.returncode == 0 and "Cancelling job" in cancelled.stdout
    followed = cli("jobs", "follow", str(job.id))
    assert followed.returncode == 1
    assert followed.stdout.strip().splitlines()[-1] == f"Job {job.id}: Cancelled. Nothing was lost."
    assert read_job(workspace, job.id or 0).state == "cancelled"
    assert json.loads(cli("jobs", "--json").stdout)["jobs"][0]["state"] == "cancelled"


@pytest.mark.usefixtures("no_leftover_jobs")
def test_unknown_job_and_busy_project(
    cli: CliRunner, project: Project, workspace: Workspace
) -> None:
    import tests.worker.kinds as kinds

    missing = cli("jobs", "follow", "42")
    assert missing.returncode == 2 and "there is no job 42" in missing.stderr
    holding = Worker(workspace).start(kinds.HOLD, project.id, title="Holding the dataset")
    busy = cli("jobs", "start", "dataset.audit", project.slug)
    assert busy.returncode == 1 and "“Holding the dataset” is already running" in busy.stderr
    Worker(workspace).cancel(holding.id or 0)
    Worker(workspace).wait(holding.id or 0, 60)


@pytest.mark.usefixtures("no_leftover_jobs")
def test_follow_says_how_a_job_failed_once(
    cli: CliRunner, project: Project, workspace: Workspace
) -> None:
    import tests.worker.kinds as kinds

    job = Worker(workspace).start(kinds.FAIL, project.id, title="Failing")
    followed = cli("jobs", "follow", str(job.id))
    assert followed.returncode == 1
    lines = followed.stdout.strip().splitlines()
    assert lines[0] == f"Job {job.id} failed: The test job failed on purpose."
    assert any(line.startswith("  | ") and "about to fail" in line for line in lines[1:])
