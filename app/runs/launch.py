"""What one attempt of a run launches: the backend's files generated for the project as
it stands (with the run's OOM rungs applied) into the run's folder, and the command.

The native trainer gets its job file (``runs/<n>/job.json``) and runs as
``python -m app.training.native job.json``; an external backend runs its generated
``launch.sh`` from ``runs/<n>/files/``. Every backend writes into ``runs/<n>/``, every
launch of a run into the same folder (ai-toolkit resumes from what is in it).

A launch that resumes continues from the newest complete checkpoint
(``resume_points``): the native trainer and ai-toolkit find it themselves, sd-scripts
is given its state folder (``resume``) and SimpleTuner its ``checkpoint-N``
(``--resume_from_checkpoint``).
"""

from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from app.runs.resume_points import ResumePoint, begin_kohya_launch, newest_resume_point
from app.settings import REPO_ROOT
from app.training.assessment import assess
from app.training.backends import BackendUnsupported, checked_output_name, write_files
from app.training.config import TrainingConfig
from app.training.config_files import files_for
from app.training.job import NativeJob, write_job
from app.workspace import ProjectContext

JOB_FILE = "job.json"


@dataclass(frozen=True)
class Launch:
    argv: list[str]
    cwd: Path
    output_dir: Path
    total_steps: int
    resume: bool
    final_lora: Path  # where the finished LoRA must be, unless the trainer names it
    resumed_from: ResumePoint | None = None
    steps_per_epoch: int = 0

    @property
    def step_offset(self) -> int:
        """What to add to the trainer's step numbers to get the run's."""
        return self.resumed_from.offset if self.resumed_from else 0

    @property
    def command(self) -> str:
        return shlex.join(self.argv)


def prepare_launch(
    ctx: ProjectContext, backend: str, config: TrainingConfig, output_dir: Path, *, resume: bool
) -> Launch:
    """Write the attempt's files; raises BackendUnsupported with a plain reason."""
    assessment = assess(ctx, config, backend)
    if assessment.base_model.path is None:
        raise BackendUnsupported(
            assessment.base_model.problem or "The project's base model cannot be found."
        )
    output_dir.mkdir(parents=True, exist_ok=True)
    if backend == "native":
        bundle = files_for(ctx, assessment, backend, output_dir, output_dir)
        job = NativeJob.model_validate_json(bundle.files[JOB_FILE]).model_copy(
            update={"resume": resume}
        )
        job_path = output_dir / JOB_FILE
        write_job(job_path, job)
        argv = [sys.executable, "-m", "app.training.native", str(job_path)]
        final = output_dir / f"{checked_output_name(job.config, job.project)}.safetensors"
        return Launch(argv, REPO_ROOT, output_dir, job.config.max_train_steps, resume, final)
    name = checked_output_name(config, ctx.project.slug)
    point = (
        newest_resume_point(backend, output_dir, name, assessment.plan.steps_per_epoch)
        if resume
        else None
    )
    given = point.path if point is not None and backend in ("kohya", "simpletuner") else None
    files_dir = output_dir / "files"
    bundle = files_for(ctx, assessment, backend, files_dir, output_dir, resume_from=given)
    write_files(files_dir, bundle)
    if backend == "kohya":
        begin_kohya_launch(output_dir, point)
    return Launch(
        ["bash", str(files_dir / "launch.sh")],
        files_dir,
        output_dir,
        assessment.plan.total_steps,
        resume,
        final_lora(backend, output_dir, name),
        point,
        assessment.plan.steps_per_epoch,
    )


def final_lora(backend: str, output_dir: Path, name: str) -> Path:
    """Where each external backend writes the finished LoRA when its output does not
    name it: SimpleTuner always as pytorch_lora_weights.safetensors, ai-toolkit in a
    folder named after its job, sd-scripts as ``--output_name``."""
    if backend == "simpletuner":
        return output_dir / "pytorch_lora_weights.safetensors"
    if backend == "ai-toolkit":
        return output_dir / name / f"{name}.safetensors"
    return output_dir / f"{name}.safetensors"
