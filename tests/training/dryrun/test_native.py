"""Gate 4 with loragate's own trainer, for real, through the worker: the tiny SD 1.5
trains three steps in a scratch folder, saves and reloads a checkpoint, draws a sample,
and the measurement lands in dryrun.json and on the Config page. Each failure planted in
the otherwise clean project blocks with its own finding, never a traceback."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.gate_records import findings_of
from app.main import create_app
from app.workspace import ProjectContext
from tests.conftest import BASE_URL
from tests.dryrun_project import set_config
from tests.training.dryrun.conftest import RunDry, codes, log_of, measurement

pytestmark = pytest.mark.slow


def test_a_passing_dry_run_is_measured_and_shown_beside_the_estimate(
    clean_ctx: ProjectContext, run_dry: RunDry
) -> None:
    ctx = clean_ctx
    runs = ctx.dir / "runs"  # where the real runs write: proved writable, left empty
    job, record = run_dry(ctx, steps=3)
    assert record.verdict == "pass", findings_of(record)
    assert job.result["verdict"] == "pass"
    data = measurement(ctx)
    assert data["steps"] == 3 and data["seconds_per_step"] > 0
    assert data["gpu_name"] == "CPU" and data["peak_vram_gb"] is None  # no CUDA here
    assert data["backend"] == "native" and data["estimated_vram_gb"] > 0
    assert data["config"]["network_rank"] == 4
    # Everything the trainer wrote is in the scratch folder; the real one stays empty.
    scratch = ctx.dir / "dryrun" / "scratch" / "output"
    assert list((scratch / "checkpoints").iterdir()) and list((scratch / "samples").iterdir())
    assert (scratch / "teapot.safetensors").is_file()
    assert runs.is_dir() and not any(runs.iterdir())
    # The live log: the trainer's lines as the job's log events, in words.
    log = log_of(job)
    assert "Step 2 of 3" in log and "Saved a checkpoint at step 3" in log
    assert "Drew a sample image" in log

    with TestClient(create_app(ctx.settings), base_url=BASE_URL) as client:
        page = client.get(f"/projects/{ctx.project.slug}/config").text
    measured = re.search(r'id="measured-speed".*?</p>', page, re.S)
    assert measured is not None, page
    assert f"{data['seconds_per_step']:.2f} s" in measured.group(0)
    assert "%" in measured.group(0)  # the estimate's error
    assert "measured by the dry run" in page  # time and cost from the measurement


def test_an_absurd_learning_rate_blocks_with_a_non_finite_loss(
    clean_ctx: ProjectContext, run_dry: RunDry
) -> None:
    # The highest rates the config takes, at 1024× strength: diverges at step 4.
    set_config(
        clean_ctx,
        unet_lr=10.0,
        text_encoder_lr=10.0,
        network_rank=1,
        network_alpha=1024.0,
        train_text_encoder=True,
    )
    _, record = run_dry(clean_ctx, steps=5)
    assert codes(record) == ["dryrun.nan"], findings_of(record)
    assert "Lower the learning rate" in findings_of(record)[0].fix


def test_a_runs_folder_that_cannot_be_written_blocks(
    clean_ctx: ProjectContext, run_dry: RunDry
) -> None:
    """The folder the real runs write (runs/<number>/, app/run_folders.py) is the one
    proved, not a folder no run uses."""
    runs = clean_ctx.dir / "runs"
    shutil.rmtree(runs, ignore_errors=True)
    runs.write_text("a file where the runs folder should be")
    try:
        _, record = run_dry(clean_ctx)
    finally:
        runs.unlink()
    assert codes(record) == ["dryrun.output_unwritable"]
    assert f"{runs} cannot be written" in findings_of(record)[0].message


def test_a_sample_prompt_that_cannot_be_drawn_blocks_naming_it(
    clean_ctx: ProjectContext, run_dry: RunDry
) -> None:
    bad = "zkteapot, a teapot --w 60"
    set_config(clean_ctx, sample_prompts=["zkteapot, a teapot", bad])
    _, record = run_dry(clean_ctx, steps=2)
    (finding,) = findings_of(record)
    assert finding.code == "dryrun.sample_failed" and finding.subject == bad
    assert "Sample prompt 2" in finding.message and "divisible by 8" in finding.message
    assert "Traceback" not in finding.message
    assert record.stats["log_tail"]  # the trainer's last lines go with the result


def test_a_missing_base_model_blocks(
    clean_ctx: ProjectContext, run_dry: RunDry, tiny_sd15: Path, tmp_path: Path
) -> None:
    moved = tmp_path / "moved"
    tiny_sd15.rename(moved)
    try:
        _, record = run_dry(clean_ctx)
    finally:
        moved.rename(tiny_sd15)
    assert codes(record) == ["dryrun.missing_file"], findings_of(record)
    assert str(tiny_sd15) in findings_of(record)[0].message


def test_an_injected_out_of_memory_error_blocks(
    clean_ctx: ProjectContext, run_dry: RunDry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The native trainer's test-only switch, LORAGATE_TEST_INJECT_OOM_AT_STEP (named as
    such: no real GPU runs out of memory here). The worker's job process inherits this
    process's environment and the trainer inherits the job's."""
    monkeypatch.setenv("LORAGATE_TEST_INJECT_OOM_AT_STEP", "2")
    set_config(clean_ctx, gradient_checkpointing=False)
    job, record = run_dry(clean_ctx, steps=3)
    assert codes(record) == ["dryrun.oom"], (findings_of(record), log_of(job))
    assert "gradient checkpointing" in findings_of(record)[0].fix
    assert job.result["measurement"] is None
