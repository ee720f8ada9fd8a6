"""Seconds per step, duration and cost, and where each number comes from."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.training.config import TrainingConfig
from app.training.estimates import (
    SPEED_MEASUREMENTS,
    duration_words,
    estimate_speed,
    estimate_time_and_cost,
    gpu_class,
    gpu_supports_bf16,
    read_dryrun_measurement,
)

SDXL = TrainingConfig(resolution=1024, gradient_checkpointing=True)


def test_a_published_measurement_on_the_same_gpu_and_family_is_used_as_is() -> None:
    speed = estimate_speed(SDXL, "sdxl", "NVIDIA GeForce RTX 3090")
    assert speed.seconds_per_step == pytest.approx(1.2)
    assert not speed.rough and "kohya_ss/issues/1730" in speed.source


def test_scaling_by_batch_accumulation_and_checkpointing() -> None:
    base = estimate_speed(SDXL, "sdxl", "RTX 4090").seconds_per_step
    bigger = SDXL.model_copy(update={"train_batch_size": 2, "gradient_accumulation_steps": 2})
    assert estimate_speed(bigger, "sdxl", "RTX 4090").seconds_per_step == pytest.approx(4 * base)
    no_checkpointing = SDXL.model_copy(update={"gradient_checkpointing": False})
    assert estimate_speed(no_checkpointing, "sdxl", "RTX 4090").seconds_per_step == pytest.approx(
        0.926
    )


def test_other_families_are_scaled_by_compute_and_marked_rough() -> None:
    sd15 = TrainingConfig(resolution=512)
    speed = estimate_speed(sd15, "sd15", "RTX 3090")
    assert speed.rough and speed.seconds_per_step < 1.2 / 5
    flux = estimate_speed(SDXL, "flux", "RTX 3090")
    assert flux.seconds_per_step > 1.2 * 5


def test_unknown_or_missing_gpu_falls_back_and_says_so() -> None:
    assert "no GPU named" in estimate_speed(SDXL, "sdxl", None).basis
    assert "Mystery 9000" in estimate_speed(SDXL, "sdxl", "Mystery 9000").basis
    h100 = estimate_speed(SDXL, "sdxl", "NVIDIA H100 80GB HBM3")
    assert h100.rough and h100.seconds_per_step < 1.2


def test_the_dry_run_measurement_replaces_the_table(tmp_path: Path) -> None:
    (tmp_path / "dryrun.json").write_text(
        json.dumps({"seconds_per_step": 0.77, "peak_vram_gb": 11.5, "config_digest": SDXL.digest()})
    )
    measured = read_dryrun_measurement(tmp_path)
    assert measured is not None and measured.peak_vram_gb == 11.5
    speed = estimate_speed(SDXL, "sdxl", "RTX 3090", measured, SDXL.digest())
    assert (speed.seconds_per_step, speed.basis) == (0.77, "measured by the dry run")
    # a measurement of another config is not this config's
    other = SDXL.model_copy(update={"network_rank": 64})
    assert estimate_speed(
        other, "sdxl", "RTX 3090", measured, other.digest()
    ).seconds_per_step == pytest.approx(1.2)
    (tmp_path / "dryrun.json").write_text("{broken")
    assert read_dryrun_measurement(tmp_path) is None


def test_time_and_cost() -> None:
    speed = estimate_speed(SDXL, "sdxl", "RTX 3090")
    estimate = estimate_time_and_cost(1500, speed, 0.44, "USD")
    assert estimate.seconds == pytest.approx(1800)
    assert estimate.cost == pytest.approx(0.22)
    assert estimate.duration_words() == "30 min"
    assert duration_words(3 * 3600 + 5 * 60) == "3 h 05 min"
    assert duration_words(20) == "under a minute"


@pytest.mark.parametrize(
    ("name", "bf16"),
    [
        ("NVIDIA GeForce RTX 4090", True),
        ("Tesla T4", False),
        ("Tesla V100-SXM2-16GB", False),
        ("NVIDIA GeForce RTX 2080 Ti", False),
        ("NVIDIA A100-SXM4-80GB", True),
        ("Quadro P5000", False),
        ("Some Future GPU", None),
        (None, None),
    ],
)
def test_bf16_support_by_gpu_name(name: str | None, bf16: bool | None) -> None:
    assert gpu_supports_bf16(name) is bf16


def test_every_measurement_names_a_known_gpu_and_a_source() -> None:
    for row in SPEED_MEASUREMENTS:
        assert gpu_class(row.gpu.replace("rtx", "rtx ")) is not None or row.gpu == "a40"
        assert row.source.startswith("https://github.com/")
