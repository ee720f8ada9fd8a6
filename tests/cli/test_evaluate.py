"""`loragate eval-grid PROJECT` as a real subprocess on the tiny SD 1.5 model: the grid is
the Evaluation page's own job, run by the worker in its child; the sheet's PNG and the
effect and leak curves are printed (or the sheet's JSON); a run's checkpoints are
evaluated side by side; bad weights, seeds and LoRA names are usage errors that start
nothing; a file that is no LoRA fails the job with its reason."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from safetensors.torch import save_file
from sqlmodel import select
from torch import zeros

from app.evaluation.sheet import SHEET_PNG, sheet_dir
from app.models import Job
from app.workspace import ProjectContext, Workspace
from tests.captions.caption_projects import caption_project, mira_intent
from tests.cli.conftest import CliRunner, json_of
from tests.evaluation.conftest import CAPTIONS
from tests.evaluation.lora_files import write_kohya_lora
from tests.tiny_models import build_tiny_sd15

IMPORTED = "loras/from-elsewhere.safetensors"
# The smallest grid that still has every prompt kind: 6 prompts × 1 seed, 1 step, 64 px.
SMALL = ("--seeds", "1", "--steps", "1", "--resolution", "64")


@pytest.fixture(scope="module")
def tiny_sd15(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_sd15(tmp_path_factory.mktemp("tiny") / "sd15")


@pytest.fixture
def ctx(workspace: Workspace, make_intent, tiny_sd15: Path) -> ProjectContext:  # type: ignore[no-untyped-def]
    return caption_project(workspace, mira_intent(make_intent, base_model=str(tiny_sd15)), CAPTIONS)


def grid_jobs(ctx: ProjectContext) -> list[tuple[str, str]]:
    with ctx.workspace.db.reading() as session:
        jobs = session.exec(select(Job).where(Job.project_id == ctx.project.id)).all()
    return [(job.kind, job.state) for job in jobs]


def checkpoint(project_dir: Path, run: int, step: int) -> Path:
    folder = project_dir / "runs" / str(run) / "checkpoints" / f"step-{step:08d}"
    folder.mkdir(parents=True)
    (folder / "COMPLETE").write_text("")
    return folder / "lora.safetensors"


@pytest.mark.slow
def test_the_grid_runs_as_the_worker_job_and_prints_the_sheet_and_curves(
    cli: CliRunner, ctx: ProjectContext, tiny_sd15: Path
) -> None:
    write_kohya_lora(tiny_sd15, ctx.dir / IMPORTED)
    slug = ctx.project.slug
    result = cli("eval-grid", slug, "--lora", "from-elsewhere", "--weights", "0,1", *SMALL)
    assert result.returncode == 0, result.stderr
    png = sheet_dir(ctx.dir, IMPORTED) / SHEET_PNG
    assert png.is_file()
    assert f"{IMPORTED} (from-elsewhere.safetensors): 12 images" in result.stdout
    assert f"Contact sheet: {png}" in result.stdout
    rows = {
        line.split()[0]: line.split()[1:]
        for line in result.stdout.splitlines()
        if line.startswith("  ") and line.split()[0] in ("0", "1")
    }
    assert rows["0"] == ["0.0000", "0.0000"]  # weight 0 is the base model itself
    assert float(rows["1"][0]) > 0 and float(rows["1"][1]) > 0
    assert "not how good the picture is" in result.stdout
    assert "Generating 12 images" in result.stderr  # the job's progress, on stderr
    # The Evaluation page's own job ran it, in the worker's child process.
    with ctx.workspace.db.reading() as session:
        [job] = session.exec(select(Job).where(Job.project_id == ctx.project.id)).all()
    assert (job.kind, job.state) == ("evaluation.grid", "done")
    assert job.pid is not None and job.pid != os.getpid()


@pytest.mark.slow
def test_a_runs_checkpoints_side_by_side_as_json(
    cli: CliRunner, ctx: ProjectContext, tiny_sd15: Path
) -> None:
    write_kohya_lora(tiny_sd15, checkpoint(ctx.dir, 1, 2), seed=1)
    write_kohya_lora(tiny_sd15, ctx.dir / "runs" / "1" / "mira.safetensors", seed=2)
    slug = ctx.project.slug

    missing = cli("eval-grid", slug, "--run", "1", "--checkpoint", "7")
    assert missing.returncode == 2
    assert "run 1 has no checkpoint “7”: it has 2, final (or all)." in missing.stderr

    result = cli(
        "eval-grid", slug, "--run", "1", "--checkpoint", "all", "--weights", "0", "1", *SMALL
    )
    assert result.returncode == 0, result.stderr
    listed = [line for line in result.stdout.splitlines() if line.endswith("12 images")]
    assert listed == [
        "runs/1/checkpoints/step-00000002/lora.safetensors (step 2): 12 images",
        "runs/1/mira.safetensors (final): 12 images",
    ]
    assert result.stdout.count("Contact sheet: ") == 2

    as_json = cli("eval-grid", slug, "--run", "1", "--checkpoint", "2", "--json", *SMALL)
    assert as_json.returncode == 0, as_json.stderr
    report = json_of(as_json)
    assert isinstance(report, dict) and report["evaluated"] is True
    [sheet] = report["sheets"]
    assert (sheet["lora"], sheet["label"]) == (
        "runs/1/checkpoints/step-00000002/lora.safetensors",
        "step 2",
    )
    assert sheet["weights"] == [0.0, 0.25, 0.5, 0.75, 1.0, 1.25]  # the defaults
    assert len(sheet["cells"]) == 6 * 6 and sheet["steps"] == 1
    assert Path(sheet["sheet_png"]).is_file()
    assert sheet["curves"]["effect"][0] == 0.0 and sheet["curves"]["effect"][-1] > 0
    assert grid_jobs(ctx) == [("evaluation.grid", "done")] * 2


def test_bad_weights_seeds_and_names_are_usage_errors_that_start_nothing(
    cli: CliRunner, ctx: ProjectContext, tiny_sd15: Path
) -> None:
    write_kohya_lora(tiny_sd15, ctx.dir / IMPORTED)
    slug = ctx.project.slug
    cases = {
        ("--weights", "0", "abc"): "“abc” in the weights is not a number.",
        ("--weights", "0", "5"): "Weights go from 0 to 3.",
        ("--seeds", "1.5"): "Seeds are whole numbers from 0 to",
        (
            "--lora",
            "nope",
        ): f"“nope” is not a LoRA file of this project.\nKnown LoRA files:\n  {IMPORTED}",
        ("--run", "7"): "Run 7 has no LoRA file yet (nothing in runs/7/).",
        ("--checkpoint", "final"): "give --run R with it",
        ("--steps", "0"): "Denoising steps go from 1 to 150.",
    }
    for args, message in cases.items():
        result = cli("eval-grid", slug, *args)
        assert result.returncode == 2, (args, result.stderr)
        assert message in result.stderr, (args, result.stderr)
        assert result.stdout == ""
    assert grid_jobs(ctx) == []


@pytest.mark.slow
def test_a_file_that_is_no_lora_fails_the_job_with_its_reason(
    cli: CliRunner, ctx: ProjectContext
) -> None:
    (ctx.dir / "loras").mkdir()
    save_file({"not_a_lora.weight": zeros(2, 2)}, ctx.dir / "loras" / "odd.safetensors")
    result = cli("eval-grid", ctx.project.slug, "--weights", "0", "1", "--json", *SMALL)
    assert result.returncode == 1
    report = json_of(result)
    assert isinstance(report, dict) and report["evaluated"] is False
    assert "odd.safetensors" in report["error"]
    assert grid_jobs(ctx) == [("evaluation.grid", "failed")]
