from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from app.models.base import utcnow


class Measurement(SQLModel, table=True):
    """What one dry run measured on a GPU, with the settings that decide memory and speed
    and the estimate made before it (app/training/calibration.py). Kept per GPU, not per
    project: the next project on the same card learns from it too."""

    id: int | None = Field(default=None, primary_key=True)
    gpu_name: str = Field(index=True)
    family: str
    backend: str
    project: str  # the project's folder name, kept when the project is deleted
    job_id: int | None = None
    resolution: int
    batch_size: int
    rank: int
    precision: str
    gradient_checkpointing: bool
    attention: str
    optimizer: str
    quantize_base: str
    full_bf16: bool
    blocks_to_swap: int
    cpu_offload: bool
    cache_latents: bool
    cache_text_encoder_outputs: bool
    train_text_encoder: bool
    estimated_vram_gb: float
    measured_vram_gb: float | None = None
    estimated_seconds_per_step: float | None = None
    measured_seconds_per_step: float | None = None
    measured_at: datetime = Field(default_factory=utcnow, index=True)
