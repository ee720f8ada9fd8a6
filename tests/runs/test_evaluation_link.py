"""A run trained here by the real native trainer (tiny SD 1.5) is diagnosed from its Run
record: the loss series is the step events the supervisor stored (the run folder holds
no event file to read), the config is the run's even after the project's config
changed, and its page links "Evaluate this run" with its LoRA chosen."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient

from app.evaluation.diagnosis import loss_shape
from app.evaluation.loras import final_of_run
from app.evaluation.run_numbers import run_numbers
from app.runs.records import get_run
from app.training.config import TrainingConfig, load_config, save_config
from app.workspace import Workspace
from tests.cli.conftest import CliRunner
from tests.runs.project import training_project
from tests.worker.conftest import stored_events


def test_a_finished_native_run_is_diagnosed_from_its_stored_events(
    workspace: Workspace, tiny_sd15: Path, cli: CliRunner, client: TestClient
) -> None:
    ctx = training_project(workspace, tiny_sd15, epochs=4)  # 8 steps
    trained = cli("train", ctx.project.slug, "--yes-cost", timeout=300)
    assert trained.returncode == 0, trained.stdout + trained.stderr
    run = get_run(ctx, 1)
    assert run is not None and run.state == "finished"
    stored = [
        json.loads(event.data)["loss"]
        for job_id in run.job_ids
        for event in stored_events(workspace, job_id)
        if event.type == "step"
    ]
    assert len(stored) == 8 and not list((ctx.dir / "runs" / "1").glob("*.jsonl"))

    config = load_config(ctx.dir)
    assert config is not None
    save_config(ctx.dir, TrainingConfig.model_validate(config.model_dump() | {"network_rank": 16}))
    lora = final_of_run(ctx.dir, 1)
    numbers = run_numbers(ctx, lora)
    assert numbers.loss == stored
    assert numbers.rank == run.config["network_rank"] != 16
    assert loss_shape(numbers.loss).kind != "unknown"

    page = client.get(f"/projects/{ctx.project.slug}/runs/1").text
    assert f"evaluation?lora=runs%2F1%2F{lora.path.name}" in page
