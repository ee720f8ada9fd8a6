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
    record_measurement,
    vram_calibration,
)
from app.training.vram import VramInputs, estimate_vram

SDXL = VramInputs(family="sdxl", resolution=1024, rank=16, optimizer="adamw8bit")
GPU = "NVIDIA GeForce RTX 4070 Ti SUPER"


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(tmp_path / "loragate.db")
    database.migrate()
    yield database
    database.dispose()


def plant(db: Database, inputs: VramInputs, ratio: float, gpu: str = GPU) -> None:
    estimate = estimate_vram(inputs).total_gb
    record_measurement(
        db,
        gpu_name=gpu,
        backend="kohya",
        project="ink",
        inputs=inputs,
        estimated_vram_gb=estimate,
        measured_vram_gb=estimate * ratio,
        estimated_seconds_per_step=1.0,
        measured_seconds_per_step=1.3,
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
