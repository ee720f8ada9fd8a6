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


def write_job(path: Path, job: NativeJob) -> None:
    atomic_write_text(path, job.model_dump_json(indent=2) + "\n")


def read_job(path: Path) -> NativeJob:
    return NativeJob.model_validate(json.loads(path.read_text("utf-8")))
