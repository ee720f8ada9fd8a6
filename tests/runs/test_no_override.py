"""No override anywhere (issue 14, "The four gates, enforced"): with a gate out of date,
or with the cost not confirmed, every way in is tried (the domain function, the HTTP
API with made-up override fields and headers, the CLI with made-up variables and flags,
a job started by hand for a forged run, `loragate jobs start`) and no trainer process
is ever launched."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.models import Job, Run
from app.runs.cost import current_estimate
from app.runs.records import list_runs, runs_dir
from app.runs.start import TrainingRefused, start_training
from app.training.config import load_config, save_config
from app.worker import Worker
from app.workspace import ProjectContext, Workspace
from tests.cli.conftest import CliRunner
from tests.runs.project import training_project

OVERRIDES = {"LORAGATE_SKIP_GATES": "1", "LORAGATE_OVERRIDE": "1", "LORAGATE_FORCE": "1"}


def _no_trainer_started(ctx: ProjectContext, worker: Worker) -> None:
    assert not list(runs_dir(ctx).glob("*/job.json")), "a trainer's job file was written"
    for job in worker.recent():
        if job.kind == "training.run":
            assert job.state == "failed", job.state
            assert "Launching" not in Path(job.log_path).read_text()


def _try_every_way(
    ctx: ProjectContext, workspace: Workspace, client: TestClient, cli: CliRunner, reason: str
) -> None:
    worker = Worker(workspace)
    digest = current_estimate(ctx).digest
    with pytest.raises(TrainingRefused) as refused:
        start_training(ctx, worker, confirm=None)
    assert reason in " ".join(refused.value.reasons)

    response = client.post(
        f"/projects/{ctx.project.slug}/runs",
        data={"override": "1", "force": "true", "skip_gates": "1", "gates": "pass"},
        headers={"X-Override": "1", "X-Force": "1"},
        follow_redirects=False,
    )
    assert response.status_code == 409 and reason in response.text

    result = cli("train", ctx.project.slug, env=OVERRIDES)
    assert result.returncode == 1 and reason.lower() in (result.stderr + result.stdout).lower()
    assert cli("train", ctx.project.slug, "--force").returncode == 2  # no such flag
    assert cli("jobs", "start", "training.run", ctx.project.slug).returncode == 2
    assert not list_runs(ctx)

    # A job started by hand, for a run row forged into the database (as a job file
    # would): the job's own check refuses before any trainer starts.
    with workspace.db.writing() as session:
        forged = Run(project_id=ctx.project.id or 0, number=7, estimate={"digest": digest})
        session.add(forged)
        session.flush()
        forged_id = forged.id
    for params in ({"run_id": forged_id}, {"run_id": forged_id, "resume": True}):
        job = worker.start("training.run", ctx.project.id, params)
        ended = worker.wait(job.id or 0, 120)
        assert isinstance(ended, Job) and ended.state == "failed"
        assert "Training was refused" in ended.error
    _no_trainer_started(ctx, worker)


def test_a_stale_gate_cannot_be_overridden(
    workspace: Workspace, tiny_sd15: Path, client: TestClient, cli: CliRunner
) -> None:
    ctx = training_project(workspace, tiny_sd15)
    config = load_config(ctx.dir)
    assert config is not None
    save_config(ctx.dir, config.model_copy(update={"unet_lr": 2e-3}))  # Gate 2 now stale
    _try_every_way(ctx, workspace, client, cli, "Gate 2 · Config is out of date")


def test_an_unconfirmed_cost_cannot_be_overridden(
    workspace: Workspace, tiny_sd15: Path, client: TestClient, cli: CliRunner
) -> None:
    ctx = training_project(workspace, tiny_sd15, confirmed=False)
    _try_every_way(ctx, workspace, client, cli, "Confirm the estimated time and cost")
