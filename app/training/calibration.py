"""Estimates that learn from dry runs on this GPU.

``record_measurement`` stores what a dry run measured (peak VRAM, s/step) with the
settings that decide them and the estimate made before it. ``calibrate_vram`` corrects
a new estimate for the same GPU and family by the measured ÷ estimated ratios of the
stored runs: a weighted geometric mean, each run weighted by how similar its settings
are (``SIMILARITY_WEIGHTS``: a run that differs in attention kernel or quantisation
says little) and how recent it is (half weight every ``HALF_LIFE_RUNS`` runs back),
and bounded to ``RATIO_BOUNDS`` so one odd run cannot make the estimate absurd. The
model's own figure counts as ``PRIOR_WEIGHT`` runs with ratio 1, so one run moves it
part of the way and a consistent series converges on the measured ratio.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqlmodel import col, select

from app.db import Database
from app.models import Measurement
from app.training.vram import VramEstimate, VramInputs

RATIO_BOUNDS = (0.5, 2.0)
PRIOR_WEIGHT = 0.5
HALF_LIFE_RUNS = 8
MAX_RUNS = 50
# How much a stored run's ratio applies to a new config when one setting differs:
# its weight is multiplied by this factor per difference.
SIMILARITY_WEIGHTS = {
    "attention": 0.1,
    "quantize_base": 0.1,
    "blocks_to_swap": 0.2,
    "cpu_offload": 0.2,
    "gradient_checkpointing": 0.2,
    "precision": 0.3,
    "full_bf16": 0.5,
    "resolution": 0.5,
    "batch_size": 0.5,
    "optimizer": 0.7,
    "rank": 0.8,
    "cache_latents": 0.7,
    "cache_text_encoder_outputs": 0.7,
    "train_text_encoder": 0.7,
}


def record_measurement(
    db: Database,
    *,
    gpu_name: str,
    backend: str,
    project: str,
    inputs: VramInputs,
    estimated_vram_gb: float,
    measured_vram_gb: float | None,
    estimated_seconds_per_step: float | None = None,
    measured_seconds_per_step: float | None = None,
    job_id: int | None = None,
) -> Measurement:
    """Store one dry run's measurement. ``inputs`` are the VRAM estimate's inputs for the
    config that ran (``VramInputs.from_config(config, family, backend)``);
    ``estimated_vram_gb`` the uncalibrated model's total for them."""
    row = Measurement(
        gpu_name=gpu_name,
        family=inputs.family,
        backend=backend,
        project=project,
        job_id=job_id,
        resolution=inputs.resolution,
        batch_size=inputs.batch_size,
        rank=inputs.rank,
        precision=inputs.precision,
        gradient_checkpointing=inputs.gradient_checkpointing,
        attention=inputs.attention,
        optimizer=inputs.optimizer,
        quantize_base=inputs.quantize_base,
        full_bf16=inputs.full_bf16,
        blocks_to_swap=inputs.blocks_to_swap,
        cpu_offload=inputs.cpu_offload,
        cache_latents=inputs.cache_latents,
        cache_text_encoder_outputs=inputs.cache_text_encoder_outputs,
        train_text_encoder=inputs.train_text_encoder,
        estimated_vram_gb=estimated_vram_gb,
        measured_vram_gb=measured_vram_gb,
        estimated_seconds_per_step=estimated_seconds_per_step,
        measured_seconds_per_step=measured_seconds_per_step,
    )
    with db.writing() as session:
        session.add(row)
    return row


def similarity(row: Measurement, inputs: VramInputs) -> float:
    weight = 1.0
    for name, factor in SIMILARITY_WEIGHTS.items():
        if getattr(row, name) != getattr(inputs, name):
            weight *= factor
    return weight


@dataclass(frozen=True)
class Calibration:
    factor: float  # applied to the model's total
    runs: int  # dry runs it learned from

    @property
    def words(self) -> str:
        return f"calibrated on your GPU from {self.runs} dry run{'s' if self.runs != 1 else ''}"


def vram_calibration(db: Database, gpu_name: str | None, inputs: VramInputs) -> Calibration | None:
    """The correction stored dry runs on ``gpu_name`` give an estimate for ``inputs``;
    None without a GPU name or a measurement of the same family on it."""
    if not gpu_name:
        return None
    with db.reading() as session:
        rows = session.exec(
            select(Measurement)
            .where(Measurement.gpu_name == gpu_name, Measurement.family == inputs.family)
            .where(col(Measurement.measured_vram_gb).is_not(None))
            .order_by(col(Measurement.measured_at).desc(), col(Measurement.id).desc())
            .limit(MAX_RUNS)
        ).all()
    usable = [row for row in rows if row.measured_vram_gb and row.estimated_vram_gb > 0]
    if not usable:
        return None
    low, high = RATIO_BOUNDS
    total_weight, log_sum = PRIOR_WEIGHT, 0.0  # the model itself: ratio 1, log 0
    for age, row in enumerate(usable):
        assert row.measured_vram_gb is not None
        ratio = min(max(row.measured_vram_gb / row.estimated_vram_gb, low), high)
        weight = similarity(row, inputs) * 0.5 ** (age / HALF_LIFE_RUNS)
        total_weight += weight
        log_sum += weight * math.log(ratio)
    factor = min(max(math.exp(log_sum / total_weight), low), high)
    return Calibration(factor=factor, runs=len(usable))


def calibrated(estimate: VramEstimate, calibration: Calibration | None) -> VramEstimate:
    """``estimate`` scaled by ``calibration`` (every part alike, so the breakdown still
    adds up), with a note saying where the correction comes from."""
    if calibration is None:
        return estimate
    return VramEstimate(
        total_gb=estimate.total_gb * calibration.factor,
        breakdown={part: gb * calibration.factor for part, gb in estimate.breakdown.items()},
        notes=[
            *estimate.notes,
            f"{calibration.words[0].upper()}{calibration.words[1:]} "
            f"(model figure {estimate.total_gb:.1f} GB × {calibration.factor:.2f}).",
        ],
        calibration=calibration.words,
        model_total_gb=estimate.total_gb,
    )
