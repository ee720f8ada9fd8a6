"""loragate's own trainer: the NativeJob JSON of app/training/job.py, which
``python -m app.training.native JOB.json`` reads. It trains SD 1.5 and SDXL LoRAs; SD 2.x
and Flux go to kohya sd-scripts, SimpleTuner or ai-toolkit."""

from __future__ import annotations

import sys

from app.settings import REPO_ROOT
from app.training.backends import (
    BackendFiles,
    BackendUnsupported,
    RunPlan,
    accelerate_prefix,
    launch_script,
    quote,
)
from app.training.job import BaseModelRef, NativeJob

JOB_FILE = "job.json"
SUPPORTED = ("sd15", "sdxl")  # the trainer's own list: app/training/native/jobfile.py


def build_job(run: RunPlan) -> NativeJob:
    if run.family not in SUPPORTED:
        raise BackendUnsupported(
            "loragate's own trainer trains SD 1.5 and SDXL LoRAs; for SD 2.x and Flux "
            "choose kohya sd-scripts, SimpleTuner or ai-toolkit."
        )
    return NativeJob(
        project=run.project,
        trigger_word=run.trigger_word,
        base_model=BaseModelRef(
            path=str(run.base_model),
            family=run.family,  # type: ignore[arg-type]
            prediction_type=run.prediction_type,  # type: ignore[arg-type]
        ),
        dataset_dir=str(run.dataset_dir),
        output_dir=str(run.output_dir),
        config=run.config,
    )


def generate(run: RunPlan) -> BackendFiles:
    job = build_job(run)
    job_path = run.files_dir / JOB_FILE
    if run.config.num_gpus > 1:
        command = " ".join(
            [
                *accelerate_prefix(run.config, quote(sys.executable)),
                "-m",
                "app.training.native",
                quote(job_path),
            ]
        )
    else:
        command = f"{quote(sys.executable)} -m app.training.native {quote(job_path)}"
    return BackendFiles(
        backend="native",
        files={
            JOB_FILE: job.model_dump_json(indent=2) + "\n",
            "launch.sh": launch_script([command], str(REPO_ROOT)),
        },
        command=command,
    )
