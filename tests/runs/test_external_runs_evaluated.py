"""A run of each external backend (its fake clone, tests/training/fake_backends, writing
files where the real trainer writes them, under the real supervisor) is evaluable as
it lies on disk: every save is listed and labelled by its step or epoch, the final
LoRA is the one the run record names, the run page links "Evaluate this run" and
shows what the run started from, `loragate eval-grid --run 1` evaluates an ai-toolkit
run, and a kohya run (whose bar shows only its running average, avr_loss) gets a
loss curve in diagnosis, said to be that average."""

from __future__ import annotations

import json
import shutil
from html import unescape
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.evaluation.diagnosis import diagnose, loss_shape
from app.evaluation.loras import final_of_run, loras_of_run
from app.evaluation.run_numbers import run_numbers
from app.models import Run
from app.runs.records import get_run, run_dir
from app.runs.start import start_training
from app.worker import Worker
from app.workspace import ProjectContext, Workspace
from tests.cli.conftest import CliRunner
from tests.evaluation.lora_files import write_kohya_lora
from tests.runs.fake_trainers import use_fake_trainer
from tests.runs.project import training_project
from tests.training.fake_backends.clone.fake_trainer import loss_at
from tests.worker.conftest import stored_events

SMALL = ("--seeds", "1", "--steps", "1", "--resolution", "64", "--weights", "0", "1")
DATED = "ink-240611"  # an output name ending in six digits, as an epoch save's does


def _fake_run(
    workspace: Workspace,
    model: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    backend: str,
    scenario: str = "ok",
    **config: object,
) -> tuple[ProjectContext, Run]:
    """Run 1 of a project on ``backend``'s fake clone: 6 steps, a save every 2."""
    scenario_file = {"scenario": scenario, "step": 4}
    use_fake_trainer(workspace, backend, tmp_path / "clone", scenario_file, monkeypatch)
    ctx = training_project(workspace, model, backend=backend, device="cuda", **config)
    worker = Worker(workspace)
    started = start_training(ctx, worker)
    worker.wait(started.job_id or 0, 120)
    run = get_run(ctx, started.number)
    assert run is not None
    return ctx, run


def _listed(ctx: ProjectContext, run: Run) -> list[tuple[str, str]]:
    return [
        (lora.path.relative_to(run_dir(ctx, 1)).as_posix(), lora.label)
        for lora in loras_of_run(ctx.dir, 1, run.output_files)
    ]


def _copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)


@pytest.mark.parametrize("backend", ["kohya", "simpletuner", "ai-toolkit"])
def test_each_backends_saves_are_listed_by_step_or_epoch_and_its_final_is_found(
    backend: str,
    workspace: Workspace,
    tiny_sd15: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    client: TestClient,
) -> None:
    config = {"output_name": DATED} if backend == "kohya" else {}
    ctx, run = _fake_run(workspace, tiny_sd15, tmp_path, monkeypatch, backend, **config)
    assert run.state == "finished", run.message
    folder = run_dir(ctx, 1)
    [final] = run.output_files
    name = DATED if backend == "kohya" else ctx.project.slug
    if backend == "kohya":
        # What the fake does not write: an epoch save (save_every_n_epochs) and the
        # training state saved beside a step save (save_state), which is no LoRA.
        _copy(folder / final, folder / f"{name}-000001.safetensors")
        _copy(folder / final, folder / f"{name}-step00000004-state" / "model.safetensors")
        expected = [
            (f"{name}-000001.safetensors", "epoch 1"),
            (f"{name}-step00000002.safetensors", "step 2"),
            (f"{name}-step00000004.safetensors", "step 4"),
            (f"{name}.safetensors", "final"),
        ]
    elif backend == "simpletuner":
        # A checkpoint SimpleTuner is still writing goes to checkpoint-N-tmp first.
        _copy(folder / final, folder / "checkpoint-6-tmp" / "pytorch_lora_weights.safetensors")
        expected = [
            ("checkpoint-2/pytorch_lora_weights.safetensors", "step 2"),
            ("checkpoint-4/pytorch_lora_weights.safetensors", "step 4"),
            ("pytorch_lora_weights.safetensors", "final"),
        ]
    else:
        expected = [
            (f"{name}/{name}_000000002.safetensors", "step 2"),
            (f"{name}/{name}_000000004.safetensors", "step 4"),
            (f"{name}/{name}.safetensors", "final"),
        ]
    assert _listed(ctx, run) == expected
    assert final == expected[-1][0]
    lora = final_of_run(ctx.dir, 1, run.output_files)
    assert lora.id == f"runs/1/{final}" and lora.final

    page = unescape(client.get(f"/projects/{ctx.project.slug}/runs/1").text)
    link = f"evaluation?lora=runs%2F1%2F{final.replace('/', '%2F')}"
    assert f'{link}">Evaluate this run</a>' in page
    # The run record's start: its config version, command and the gates' fingerprints.
    assert 'id="run-record"' in page
    assert f'<code id="run-command">{run.command}</code>' in page
    assert run.command.startswith("bash ")
    assert set(run.gate_fingerprints) == {"dataset", "config", "environment", "dryrun"}
    for fingerprint in run.gate_fingerprints.values():
        assert f'<code title="{fingerprint}">{fingerprint[:12]}</code>' in page
    assert f'<dd id="run-config-version">{run.config_version}' in page


@pytest.mark.slow
def test_eval_grid_evaluates_an_ai_toolkit_run(
    workspace: Workspace,
    tiny_sd15: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    cli: CliRunner,
) -> None:
    ctx, run = _fake_run(workspace, tiny_sd15, tmp_path, monkeypatch, "ai-toolkit")
    assert run.state == "finished", run.message
    [final] = run.output_files
    name = ctx.project.slug
    assert final == f"{name}/{name}.safetensors"
    # The fake's LoRA is two numbers; a real one for the tiny model takes its place.
    write_kohya_lora(tiny_sd15, run_dir(ctx, 1) / final)
    graded = cli("eval-grid", ctx.project.slug, "--run", "1", *SMALL, timeout=600)
    assert graded.returncode == 0, graded.stderr
    assert f"runs/1/{final} (final): " in graded.stdout
    assert "Contact sheet: " in graded.stdout


def test_a_kohya_run_is_diagnosed_from_its_running_average_loss(
    workspace: Workspace,
    tiny_sd15: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ctx, run = _fake_run(workspace, tiny_sd15, tmp_path, monkeypatch, "kohya", epochs=6)
    assert run.state == "finished", run.message
    steps = [
        json.loads(event.data)
        for job_id in run.job_ids
        for event in stored_events(workspace, job_id)
        if event.type == "step"
    ]
    assert [step["loss"] for step in steps] == [None] * 12  # sd-scripts prints avr_loss only
    averages = [step["smoothed_loss"] for step in steps if step["smoothed_loss"] is not None]
    # The bar draws each step twice, with the step before's average (update(1)) and then
    # its own (set_postfix): each step is stored from its last drawing, its own.
    running = [sum(loss_at(s) for s in range(1, n + 1)) / n for n in range(1, 13)]
    assert averages == pytest.approx(running, abs=5e-4)  # tqdm prints 3 digits
    numbers = run_numbers(ctx, final_of_run(ctx.dir, 1, run.output_files))
    assert numbers.loss == averages
    assert numbers.loss_smoothed
    assert loss_shape(numbers.loss).kind == "falling"
    assert diagnose(numbers, ["loss"])["loss"] == []  # a falling loss: nothing to say


def test_a_kohya_run_whose_average_went_nan_is_diagnosed_as_diverged(
    workspace: Workspace,
    tiny_sd15: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ctx, run = _fake_run(workspace, tiny_sd15, tmp_path, monkeypatch, "kohya", "nan_at_step")
    assert run.state == "failed" and "stopped being a number at step 4" in run.message
    numbers = run_numbers(ctx, final_of_run(ctx.dir, 1, run.output_files))  # its step-2 save
    assert numbers.loss_smoothed and numbers.loss[-1] is None
    [advice] = diagnose(numbers, ["loss"])["loss"]
    assert advice.code == "diagnosis.broken.loss_exploded"
    assert "the trainer's running average of the loss" in advice.evidence
    assert advice.change["unet_lr"] == pytest.approx(numbers.unet_lr / 4)
