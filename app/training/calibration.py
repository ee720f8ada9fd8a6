"""Estimates that learn from dry runs on this GPU.

``record_measurement`` stores what a dry run measured (peak VRAM, s/step) with the
settings that decide them and the estimate made before it. ``vram_calibration`` corrects
a new memory estimate for the same GPU and family, ``speed_calibration`` a new time
estimate for the same GPU, family and trainer, by the measured ÷ estimated ratios of
the stored runs: a weighted geometric mean, each run weighted by how similar its settings
are (``SIMILARITY_WEIGHTS``: a run that differs in attention kernel or quantisation
says little) and how recent it is (half weight every ``HALF_LIFE_RUNS`` runs back),
and bounded (``RATIO_BOUNDS``, wider for time: ``SPEED_RATIO_BOUNDS``) so one odd run cannot
make the estimate absurd. The
model's own figure counts as ``PRIOR_WEIGHT`` runs with ratio 1, so one run moves it
part of the way and a consistent series converges on the measured ratio.

A GPU is stored under the name NVML gives it ("NVIDIA GeForce RTX 4090") and looked up
under the one studio.md types ("RTX 4090") or Gate 3 detected: ``gpu_key`` makes both
the same. A run on the CPU is stored as ``CPU_NAME``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace

from sqlmodel import col, select

from app.db import Database
from app.models import Measurement
from app.training.estimates import SpeedEstimate
from app.training.vram import VramEstimate, VramInputs

RATIO_BOUNDS = (0.5, 2.0)
# Time estimates are scaled from other people's GPUs by published throughput: a factor
# of three either way is an ordinary miss, not an odd run.
SPEED_RATIO_BOUNDS = (0.2, 5.0)
CPU_NAME = "CPU"
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


# Words a GPU's name carries or not depending on who wrote it: NVML says "NVIDIA
# GeForce RTX 4090", an artist types "RTX 4090" or "rtx4090".
_VENDOR_WORDS = re.compile(r"\b(nvidia|geforce)\b")
_SEPARATORS = re.compile(r"[\s_-]+")


def gpu_key(name: str | None) -> str:
    """The name a GPU is stored and looked up under: case, the vendor and brand words
    and spacing left out ("" for no name)."""
    if not name:
        return ""
    return _SEPARATORS.sub("", _VENDOR_WORDS.sub(" ", name.lower()))


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
    factor: float  # applied to the model's figure
    runs: int  # dry runs it learned from
    device: str = "GPU"  # what they ran on, in words

    @property
    def words(self) -> str:
        runs = f"{self.runs} dry run{'s' if self.runs != 1 else ''}"
        return f"calibrated on your {self.device} from {runs}"


def _measured_on(db: Database, gpu_name: str | None, family: str) -> list[Measurement]:
    """The runs on ``gpu_name`` (however it is spelled) for ``family``, newest first."""
    key = gpu_key(gpu_name)
    if not key:
        return []
    with db.reading() as session:
        rows = session.exec(
            select(Measurement)
            .where(Measurement.family == family)
            .order_by(col(Measurement.measured_at).desc(), col(Measurement.id).desc())
        ).all()
    return [row for row in rows if gpu_key(row.gpu_name) == key]


def _calibration(
    pairs: list[tuple[Measurement, float, float]],
    inputs: VramInputs,
    bounds: tuple[float, float],
    gpu_name: str | None,
) -> Calibration | None:
    """The weighted geometric mean of measured ÷ estimated over ``pairs`` (row,
    measured, estimated), newest first: the ``MAX_RUNS`` newest count."""
    pairs = pairs[:MAX_RUNS]
    if not pairs:
        return None
    low, high = bounds
    total_weight, log_sum = PRIOR_WEIGHT, 0.0  # the model itself: ratio 1, log 0
    for age, (row, measured, estimate) in enumerate(pairs):
        ratio = min(max(measured / estimate, low), high)
        weight = similarity(row, inputs) * 0.5 ** (age / HALF_LIFE_RUNS)
        total_weight += weight
        log_sum += weight * math.log(ratio)
    factor = min(max(math.exp(log_sum / total_weight), low), high)
    device = "CPU" if gpu_key(gpu_name) == gpu_key(CPU_NAME) else "GPU"
    return Calibration(factor=factor, runs=len(pairs), device=device)


def vram_calibration(db: Database, gpu_name: str | None, inputs: VramInputs) -> Calibration | None:
    """The correction stored dry runs on ``gpu_name`` give a memory estimate for
    ``inputs``; None without a GPU name or a measurement of the same family on it."""
    pairs = [
        (row, measured, row.estimated_vram_gb)
        for row in _measured_on(db, gpu_name, inputs.family)
        if (measured := row.measured_vram_gb) and row.estimated_vram_gb > 0
    ]
    return _calibration(pairs, inputs, RATIO_BOUNDS, gpu_name)


def speed_calibration(
    db: Database, gpu_name: str | None, inputs: VramInputs, backend: str
) -> Calibration | None:
    """The correction stored dry runs on ``gpu_name`` with ``backend`` give a time
    estimate for ``inputs``; None without one of the same family and trainer."""
    pairs = [
        (row, measured, estimated)
        for row in _measured_on(db, gpu_name, inputs.family)
        if row.backend == backend
        and (measured := row.measured_seconds_per_step)
        and (estimated := row.estimated_seconds_per_step)
    ]
    return _calibration(pairs, inputs, SPEED_RATIO_BOUNDS, gpu_name)


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


def calibrated_speed(speed: SpeedEstimate, calibration: Calibration | None) -> SpeedEstimate:
    """``speed`` scaled by ``calibration``; its basis stays the model's, the words say
    what corrected it."""
    if calibration is None:
        return speed
    return replace(
        speed,
        seconds_per_step=speed.seconds_per_step * calibration.factor,
        calibration=calibration.words,
        model_seconds_per_step=speed.seconds_per_step,
    )
