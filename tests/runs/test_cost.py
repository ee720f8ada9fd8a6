"""Cost protection: the artist confirms the figures of the estimate as it is now; the
confirmation is journaled with them, spent by one run, and a changed estimate (a new
price per hour, a dry run's measurement) asks again."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.runs.cost import confirm_cost, current_estimate, is_confirmed
from app.runs.records import run_status
from app.runs.start import TrainingRefused, cancel_run, start_training
from app.training.estimates import DRYRUN_FILE
from app.worker import Worker
from app.workspace import Workspace
from tests.runs.project import training_project
from tests.training.helpers import set_gpu


def test_a_changed_estimate_asks_again(workspace: Workspace, tiny_sd15: Path) -> None:
    ctx = training_project(workspace, tiny_sd15, confirmed=False)
    estimate = current_estimate(ctx)
    assert not is_confirmed(ctx, estimate)
    confirm_cost(ctx, estimate, "in a test")
    assert is_confirmed(ctx, estimate)
    journal = (ctx.dir / "journal.md").read_text()
    assert f"You confirmed the estimate: {estimate.steps} steps" in journal
    assert "0.69 USD per hour" in journal

    set_gpu(workspace, "NVIDIA GeForce RTX 4090", 24.0, 2.5)  # the price changed
    assert not is_confirmed(ctx, current_estimate(ctx))
    confirm_cost(ctx, current_estimate(ctx), "in a test")
    (ctx.dir / DRYRUN_FILE).write_text(json.dumps({"seconds_per_step": 1.5}))
    measured = current_estimate(ctx)
    assert measured.measured and measured.seconds_per_step == 1.5
    assert not is_confirmed(ctx, measured)  # the dry run's measurement changed it
    with pytest.raises(TrainingRefused) as refused:
        start_training(ctx, Worker(workspace))
    assert refused.value.estimate == measured
    with pytest.raises(TrainingRefused, match="estimate changed since it was shown"):
        start_training(ctx, Worker(workspace), confirm=estimate.digest)


def test_a_confirmation_is_spent_by_one_run(workspace: Workspace, tiny_sd15: Path) -> None:
    ctx = training_project(workspace, tiny_sd15)
    worker = Worker(workspace)
    run = start_training(ctx, worker)
    assert not is_confirmed(ctx, current_estimate(ctx))  # the next run asks again
    run = cancel_run(ctx, worker, run)
    job = worker.wait(run.job_id or 0, 120)
    assert job is not None and job.state == "cancelled"
    from app.runs.records import get_run, run_job

    stored = get_run(ctx, run.number)
    assert stored is not None
    assert run_status(stored, run_job(ctx, stored)).state == "cancelled"
