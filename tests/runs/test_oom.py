"""An out-of-memory failure at step k (the native trainer's test-only switch
LORAGATE_TEST_INJECT_OOM_AT_STEP, which fails while gradient checkpointing is off) is
recovered by the ladder's first rung: the run continues from its newest checkpoint with
gradient checkpointing on and completes; the step count runs on without a gap or a
duplicate; the rung is on the run, in the journal and on the Config page."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.runs.records import get_run, run_dir
from app.runs.start import start_training
from app.worker import Worker
from app.workspace import Workspace
from tests.runs.project import training_project
from tests.worker.conftest import stored_events


def test_an_oom_is_recovered_by_the_first_rung(
    workspace: Workspace, tiny_sd15: Path, monkeypatch: pytest.MonkeyPatch, client: TestClient
) -> None:
    monkeypatch.setenv("LORAGATE_TEST_INJECT_OOM_AT_STEP", "3")  # the trainers inherit it
    ctx = training_project(workspace, tiny_sd15)
    worker = Worker(workspace)
    run = start_training(ctx, worker)
    job = worker.wait(run.job_id or 0, 400)
    assert job is not None and job.state == "done", job and job.error
    run = get_run(ctx, run.number)  # type: ignore[assignment]
    assert run is not None and run.state == "finished", run and run.message
    assert [r["rung"] for r in run.rungs] == ["gradient_checkpointing"]
    rung = run.rungs[0]
    assert rung["at_step"] == 3 and rung["resumed_from"] == 2
    assert rung["changes"] == {"gradient_checkpointing": [False, True]}
    events = stored_events(workspace, job.id or 0)
    steps = [json.loads(e.data)["step"] for e in events if e.type == "step"]
    assert steps == list(range(1, 7))
    assert [e.type for e in events].count("rung") == 1
    assert (run_dir(ctx, run.number) / run.output_files[0]).is_file()
    journal = (ctx.dir / "journal.md").read_text()
    assert (
        "ran out of memory at step 3: it continues from step 2 with gradient checkpointing on"
        in journal
    )
    page = client.get(f"/projects/{ctx.project.slug}/config").text
    assert f"What fitted in run {run.number}" in page and "gradient_checkpointing" in page
