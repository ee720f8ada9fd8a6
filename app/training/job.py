"""The native trainer's job file: everything ``python -m app.training.native JOB.json``
needs, written by ``loragate config --backend native`` and by the dry run and the run
supervisor. Paths are absolute so the trainer process needs nothing else."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.fsutil import atomic_write_text
from app.training.config import TrainingConfig

JOB_VERSION = 1


class BaseModelRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str  # a single-file .safetensors checkpoint or a diffusers folder
    family: Literal["sd15", "sd2", "sdxl", "flux"]
    prediction_type: Literal["epsilon", "v_prediction"] = "epsilon"
    # Component configs (a diffusers folder without weights) to build a single-file
    # checkpoint with. None: the configs loragate ships for the family
    # (app/training/model_configs/). Set it for a checkpoint whose architecture differs
    # from the family's published one.
    config_dir: str | None = None


class NativeJob(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = JOB_VERSION
    project: str  # the project's slug, for metadata and messages
    trigger_word: str
    base_model: BaseModelRef
    dataset_dir: str  # a kohya layout: {repeats}_{concept}/ folders with .txt sidecars
    output_dir: str  # checkpoints/, samples/, the final LoRA
    config: TrainingConfig
    # A short validation run (Gate 4's dry run): stop after this many steps, save nothing
    # but what the run needs to prove it can save.
    dry_run_steps: int | None = Field(None, ge=1)
    # Continue from the newest complete checkpoint in output_dir/checkpoints (a fresh
    # start when there is none). Without it, a folder that already holds checkpoints is
    # refused rather than overwritten.
    resume: bool = False
    # Stop cleanly (with a checkpoint) after this many steps, as if interrupted; the
    # learning-rate schedule still spans the whole run, so a resumed run continues it.
    stop_after_steps: int | None = Field(None, ge=1)
    # Latent cache and other reusable files; None: output_dir/cache. Point the dry run
    # and the real run at one folder so the real run reuses the dry run's latents.
    cache_dir: str | None = None
    # Denoising steps for the sample images made during training.
    sample_steps: int = Field(20, ge=1, le=150)


def write_job(path: Path, job: NativeJob) -> None:
    atomic_write_text(path, job.model_dump_json(indent=2) + "\n")


def read_job(path: Path) -> NativeJob:
    return NativeJob.model_validate(json.loads(path.read_text("utf-8")))
