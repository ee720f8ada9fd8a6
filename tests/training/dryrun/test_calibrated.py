"""Estimates that learn from dry runs, end to end: what a passing dry run stores on this
machine is what the next config's memory and time estimate are corrected by, on the
Config page, with the default studio.md (the GPU left to detection) and with a GPU name
typed differently from NVML's.

A real native dry run on the tiny SD 1.5 measures seconds per step on this CPU. Peak
GPU memory needs CUDA, which this machine lacks: those measurements are stored with
``record_measurement`` exactly as app/training/dryrun/run.py ``dry_run`` stores them
after a pass on a GPU, under the name NVML gives the card (measure.py ``gpu_name``), and
the detected GPU comes from Gate 3 judged with a fake NVML (the pynvml boundary only)."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.gate_records import findings_of, record_result
from app.gates.environment import judge, project_inputs
from app.grimoire import GpuEntry, update_gpu
from app.main import create_app
from app.training.assessment import Assessment, assess
from app.training.calibration import record_measurement
from app.training.estimates import estimate_speed
from app.training.project_config import current_config
from app.training.vram import VramInputs
from app.workspace import ProjectContext
from tests.cli.conftest import cli_env
from tests.conftest import BASE_URL
from tests.dryrun_project import set_config
from tests.environment.fakes import FakeNvml, rtx
from tests.training.dryrun.conftest import RunDry, measurement

pytestmark = pytest.mark.slow


def config_page(ctx: ProjectContext) -> str:
    with TestClient(create_app(ctx.settings), base_url=BASE_URL) as client:
        page = client.get(f"/projects/{ctx.project.slug}/config")
    assert page.status_code == 200
    return page.text


def paragraph(page: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}".*?</p>', page, re.S)
    assert found is not None, f"no #{element_id} on the page"
    return found.group(0)


def store_as_a_gpu_dry_run_does(
    ctx: ProjectContext, nvml_name: str, before: Assessment, vram_ratio: float, speed_ratio: float
) -> None:
    """What dry_run records after a pass on ``nvml_name``: the uncalibrated model figures
    for the config that ran, and what was measured."""
    config = before.config
    model_speed = estimate_speed(config, before.family, nvml_name).seconds_per_step
    record_measurement(
        ctx.workspace.db,
        gpu_name=nvml_name,
        backend=before.backend,
        project=ctx.project.slug,
        inputs=VramInputs.from_config(config, before.family, before.backend),
        estimated_vram_gb=before.vram.uncalibrated_gb,
        measured_vram_gb=before.vram.uncalibrated_gb * vram_ratio,
        estimated_seconds_per_step=model_speed,
        measured_seconds_per_step=model_speed * speed_ratio,
    )


@pytest.fixture
def studio_gpu(clean_ctx: ProjectContext) -> Iterator[ProjectContext]:
    """The project, its studio.md GPU block put back after the test."""
    studio = clean_ctx.workspace.grimoire_dir / "studio.md"
    original = studio.read_text("utf-8")
    yield clean_ctx
    studio.write_text(original, "utf-8")


def test_a_real_dry_run_on_this_cpu_calibrates_the_next_configs_time(
    clean_ctx: ProjectContext, run_dry: RunDry
) -> None:
    ctx = clean_ctx
    _, record = run_dry(ctx, steps=3)
    assert record.verdict == "pass", findings_of(record)
    measured = measurement(ctx)["seconds_per_step"]

    set_config(ctx, network_rank=8)  # the next config: similar, not the one measured
    config = current_config(ctx)
    model = estimate_speed(config, "sd15", None).seconds_per_step
    time = assess(ctx, config).time
    assert time.calibration == "calibrated on your CPU from 1 dry run"
    assert time.model_seconds_per_step == pytest.approx(model)
    # Pulled toward what this machine measured, so the duration and cost move with it.
    assert abs(time.seconds_per_step - measured) < abs(model - measured)
    assert time.seconds == pytest.approx(time.steps * time.seconds_per_step)

    shown = paragraph(config_page(ctx), "time-calibrated")
    assert "Calibrated on your CPU from 1 dry run" in shown
    assert f"{model:.2f} s per step" in shown

    # `loragate config` says it too.
    said = subprocess.run(
        [sys.executable, "-m", "app", "config", ctx.project.slug],
        env=cli_env(ctx.workspace.settings),
        capture_output=True,
        text=True,
        timeout=120,
    )
    time_line = next(line for line in said.stdout.splitlines() if line.startswith("Time:"))
    assert "calibrated on your CPU from 1 dry run" in time_line, said.stdout


def test_a_gpu_left_to_detection_is_calibrated_by_runs_stored_under_its_nvml_name(
    studio_gpu: ProjectContext,
) -> None:
    """studio.md ships with gpu.name empty: the GPU Gate 3 detected stands in for it."""
    ctx = studio_gpu
    assert ctx.workspace.studio().gpu.name is None
    set_config(ctx, device="cuda", mixed_precision="bf16")
    card = FakeNvml([rtx("NVIDIA GeForce RTX 4090")])
    record_result(ctx, judge(project_inputs(ctx), nvml=card))

    before = assess(ctx, current_config(ctx))
    assert before.gpu.name == "NVIDIA GeForce RTX 4090" and before.gpu.vram_gb == 24.0
    assert not before.vram.calibration and not before.time.calibration
    store_as_a_gpu_dry_run_does(ctx, "NVIDIA GeForce RTX 4090", before, 1.25, 0.7)

    set_config(ctx, device="cuda", mixed_precision="bf16", network_rank=8)
    after = assess(ctx, current_config(ctx))
    words = "calibrated on your GPU from 1 dry run"
    assert after.vram.calibration == words and after.time.calibration == words
    assert after.vram.total_gb > after.vram.uncalibrated_gb
    assert after.time.seconds_per_step < (after.time.model_seconds_per_step or 0)

    page = config_page(ctx)
    assert "Calibrated on your GPU from 1 dry run" in paragraph(page, "vram-calibrated")
    assert "Calibrated on your GPU from 1 dry run" in paragraph(page, "time-calibrated")
    assert "of 24 GB on the NVIDIA GeForce RTX 4090" in page  # its memory, detected too
    assert f'id="duration">{after.time.duration_words()}<' in page


def test_a_gpu_typed_in_studio_md_matches_nvmls_spelling(studio_gpu: ProjectContext) -> None:
    ctx = studio_gpu
    update_gpu(ctx.workspace.grimoire_dir, GpuEntry(name="RTX 3090", vram_gb=24.0))
    set_config(ctx, device="cuda", mixed_precision="bf16")
    before = assess(ctx, current_config(ctx))
    assert not before.vram.calibration
    store_as_a_gpu_dry_run_does(ctx, "NVIDIA GeForce RTX 3090", before, 0.8, 1.5)

    for typed in ("RTX 3090", "nvidia rtx3090", "GeForce RTX 3090"):
        update_gpu(ctx.workspace.grimoire_dir, GpuEntry(name=typed, vram_gb=24.0))
        after = assess(ctx, current_config(ctx))
        assert after.vram.calibration == "calibrated on your GPU from 1 dry run", typed
        assert after.time.calibration == "calibrated on your GPU from 1 dry run", typed
        assert after.vram.total_gb < after.vram.uncalibrated_gb
    page = config_page(ctx)
    assert "Calibrated on your GPU from 1 dry run" in paragraph(page, "vram-calibrated")
    assert "Calibrated on your GPU from 1 dry run" in paragraph(page, "time-calibrated")
