"""Calibration from dry runs, on a real SQLite file: a planted series of measurements on
one GPU pulls the next estimate for a similar config toward what that GPU measured."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from app.db import Database
from app.training.calibration import (
    RATIO_BOUNDS,
    calibrated,
    calibrated_speed,
    gpu_key,
    record_measurement,
    speed_calibration,
    vram_calibration,
)
from app.training.config import TrainingConfig
from app.training.estimates import estimate_speed
from app.training.vram import VramInputs, estimate_vram

SDXL = VramInputs(family="sdxl", resolution=1024, rank=16, optimizer="adamw8bit")
GPU = "NVIDIA GeForce RTX 4070 Ti SUPER"


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(tmp_path / "loragate.db")
    database.migrate()
    yield database
    database.dispose()


def plant(
    db: Database,
    inputs: VramInputs,
    ratio: float,
    gpu: str = GPU,
    speed_ratio: float = 1.3,
    backend: str = "kohya",
) -> None:
    estimate = estimate_vram(inputs).total_gb
    record_measurement(
        db,
        gpu_name=gpu,
        backend=backend,
        project="ink",
        inputs=inputs,
        estimated_vram_gb=estimate,
        measured_vram_gb=estimate * ratio,
        estimated_seconds_per_step=1.0,
        measured_seconds_per_step=speed_ratio,
    )


def test_the_correction_converges_on_what_this_gpu_measures(db: Database) -> None:
    assert vram_calibration(db, GPU, SDXL) is None  # nothing measured yet
    new_config = replace(SDXL, batch_size=2)  # similar, not the same
    errors = []
    for run, batch in enumerate([1, 2, 1, 3, 2, 1, 2, 2], start=1):
        plant(db, replace(SDXL, batch_size=batch), ratio=1.3)
        calibration = vram_calibration(db, GPU, new_config)
        assert calibration is not None and calibration.runs == run
        errors.append(abs(calibration.factor - 1.3))
    assert errors == sorted(errors, reverse=True)  # every run brings it closer
    assert errors[0] > 0.1 and errors[-1] < 0.04
    estimate = calibrated(estimate_vram(new_config), calibration)
    assert estimate.total_gb == pytest.approx(1.3 * estimate_vram(new_config).total_gb, rel=0.04)
    assert estimate.calibration == "calibrated on your GPU from 8 dry runs"
    assert sum(estimate.breakdown.values()) == pytest.approx(estimate.total_gb)
    assert estimate.to_json()["calibration"] == estimate.calibration


def test_other_gpus_and_families_do_not_count(db: Database) -> None:
    plant(db, SDXL, ratio=1.5, gpu="NVIDIA GeForce RTX 3060")
    plant(db, VramInputs(family="sd15", resolution=512), ratio=1.5)
    assert vram_calibration(db, GPU, SDXL) is None
    assert vram_calibration(db, None, SDXL) is None


def test_recent_and_similar_runs_weigh_more(db: Database) -> None:
    for _ in range(4):
        plant(db, SDXL, ratio=0.8)  # older runs
    for _ in range(4):
        plant(db, SDXL, ratio=1.2)  # the GPU's driver changed, say
    calibration = vram_calibration(db, GPU, SDXL)
    assert calibration is not None and calibration.factor > 1.0
    # A run with another attention kernel barely moves a SDPA estimate.
    other = Database(db.path.with_name("other.db"))
    other.migrate()
    plant(other, replace(SDXL, attention="eager"), ratio=1.8)
    eager_only = vram_calibration(other, GPU, SDXL)
    assert eager_only is not None and eager_only.factor < 1.2
    other.dispose()


def test_one_absurd_run_is_bounded(db: Database) -> None:
    plant(db, SDXL, ratio=40.0)  # a reading in MiB stored as GB, say
    calibration = vram_calibration(db, GPU, SDXL)
    assert calibration is not None and calibration.factor <= RATIO_BOUNDS[1]


def test_a_gpu_name_matches_however_it_is_spelled(db: Database) -> None:
    plant(db, SDXL, ratio=1.3, gpu="NVIDIA GeForce RTX 4090")
    for typed in ("RTX 4090", "rtx4090", "GeForce RTX 4090", " NVIDIA  GeForce RTX-4090 "):
        assert gpu_key(typed) == "rtx4090"
        calibration = vram_calibration(db, typed, SDXL)
        assert calibration is not None and calibration.runs == 1, typed
    assert vram_calibration(db, "RTX 4080", SDXL) is None
    assert vram_calibration(db, "", SDXL) is None


def test_the_time_estimate_converges_on_this_gpus_seconds_per_step(db: Database) -> None:
    assert speed_calibration(db, GPU, SDXL, "kohya") is None
    new_config = replace(SDXL, batch_size=2)
    errors = []
    for batch in [1, 2, 1, 3, 2, 1, 2, 2]:
        plant(db, replace(SDXL, batch_size=batch), ratio=1.0, speed_ratio=2.5)
        calibration = speed_calibration(db, GPU, new_config, "kohya")
        assert calibration is not None
        errors.append(abs(calibration.factor - 2.5))
    assert errors == sorted(errors, reverse=True) and errors[-1] < 0.1 * 2.5
    model = estimate_speed(TrainingConfig(resolution=1024), "sdxl", GPU)
    speed = calibrated_speed(model, calibration)
    assert speed.seconds_per_step == pytest.approx(model.seconds_per_step * calibration.factor)
    assert speed.model_seconds_per_step == model.seconds_per_step
    assert speed.calibration == "calibrated on your GPU from 8 dry runs"


def test_the_time_estimate_learns_only_from_the_same_trainer(db: Database) -> None:
    plant(db, SDXL, ratio=1.0, speed_ratio=3.0, backend="ai-toolkit")
    assert speed_calibration(db, GPU, SDXL, "kohya") is None
    toolkit = speed_calibration(db, GPU, SDXL, "ai-toolkit")
    assert toolkit is not None and toolkit.factor > 1.5
