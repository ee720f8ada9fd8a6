"""The "broken" and flat-loss rules fire from a run's own numbers (its Run record: the
config it trained with and the step losses it stored, as an import from a rented GPU
records them), and applying the fix they suggest saves a new config version that makes
Gate 2 (config) and Gate 4 (dry run) out of date, and only those."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, func, select

from app.evaluation.diagnosis import diagnose
from app.evaluation.fixes import apply_fix
from app.evaluation.loras import final_of_run
from app.evaluation.run_numbers import RunNumbers, run_numbers
from app.gates.state import gate_state
from app.models import Event
from app.runs.imported import add_finished_run
from app.training.config import load_config
from app.workspace import ProjectContext, Workspace
from tests.evaluation.lora_files import write_kohya_lora
from tests.runs.project import TINY_CONFIG, training_project

# A diffusion loss as trainers log it: noisy around its level from step to step.
NOISE = (0.004, -0.003, 0.002, -0.004, 0.001, 0.003, -0.002, -0.001)


def _imported_run(
    ctx: ProjectContext, model: Path, tmp_path: Path, config: dict[str, Any], losses: list[float]
) -> RunNumbers:
    staged = tmp_path / "staged"
    write_kohya_lora(model, staged / f"{ctx.project.slug}.safetensors")
    steps = [{"step": i, "total": len(losses), "loss": loss} for i, loss in enumerate(losses, 1)]
    add_finished_run(
        ctx, staged, backend="native", config=TINY_CONFIG | config, steps=steps, message=""
    )
    return run_numbers(ctx, final_of_run(ctx.dir, 1))


def _config_versions(ctx: ProjectContext) -> int:
    with ctx.workspace.db.reading() as session:
        return session.exec(
            select(func.count(col(Event.id))).where(
                Event.project_id == ctx.project.id, Event.kind == "config.changed"
            )
        ).one()


def _gates(ctx: ProjectContext) -> dict[str, str]:
    return {
        name: gate_state(ctx, name).status
        for name in ("dataset", "config", "environment", "dryrun")
    }


def _apply(ctx: ProjectContext, numbers: RunNumbers, code: str) -> dict[str, Any]:
    assert _gates(ctx) == dict.fromkeys(("dataset", "config", "environment", "dryrun"), "pass")
    versions = _config_versions(ctx)
    changes = apply_fix(ctx, numbers, code)
    assert _config_versions(ctx) == versions + 1  # a new config version, journaled
    assert _gates(ctx) == {
        "dataset": "pass",
        "config": "stale",
        "environment": "pass",
        "dryrun": "stale",
    }
    saved = load_config(ctx.dir)
    assert saved is not None
    return {key: getattr(saved, key) for key in changes}


def test_a_run_that_diverged_in_fp16_on_sdxl_is_broken(
    workspace: Workspace, tiny_sd15: Path, tmp_path: Path
) -> None:
    ctx = training_project(workspace, tiny_sd15, family="sdxl")
    # Learning rate 2e-3 in fp16: the loss climbs for a few steps, then is not a number.
    losses = [0.11 + n for n in NOISE] + [0.2, 0.5, 1.4, 3.9] + [float("nan")]
    numbers = _imported_run(
        ctx, tiny_sd15, tmp_path, {"mixed_precision": "fp16", "unet_lr": 2e-3}, losses
    )
    assert numbers.loss[-1] is None and numbers.family == "sdxl"
    advice = diagnose(numbers, ["broken"])["broken"]
    assert [a.code for a in advice] == [
        "diagnosis.broken.loss_exploded",
        "diagnosis.broken.fp16_sdxl",
        "diagnosis.broken.lr_very_high",
    ]
    assert "learning rate 0.002 (adamw)" in advice[2].evidence
    assert all(a.source == "failure-modes#black-or-noisy-images" for a in advice)
    # The loss checklist says the same first: the run diverged.
    assert diagnose(numbers, ["loss"])["loss"][0].code == "diagnosis.broken.loss_exploded"
    fixed = _apply(ctx, numbers, "diagnosis.broken.lr_very_high")
    assert fixed == {"unet_lr": 1e-4, "text_encoder_lr": 5e-5}


def test_a_flat_loss_at_a_low_learning_rate_says_so_and_raises_it(
    workspace: Workspace, tiny_sd15: Path, tmp_path: Path
) -> None:
    ctx = training_project(workspace, tiny_sd15)
    losses = [0.12 + n for n in NOISE * 5]  # 40 steps that never fell
    numbers = _imported_run(ctx, tiny_sd15, tmp_path, {"unet_lr": 1e-5}, losses)
    advice = diagnose(numbers, ["loss"])["loss"]
    assert [a.code for a in advice] == ["diagnosis.loss.flat", "diagnosis.no_effect.lr_low"]
    assert advice[0].evidence.startswith("0.1201 → 0.1197")  # first and last quarters
    assert "learning rate 1e-05 (adamw), below 2e-05" in advice[1].evidence
    assert "running average" not in advice[0].evidence  # this run logged each step's loss
    fixed = _apply(ctx, numbers, "diagnosis.no_effect.lr_low")
    assert fixed["unet_lr"] == pytest.approx(2e-5)
