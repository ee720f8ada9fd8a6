"""What the dry run runs: the command the real run uses, for the project's trainer, with
the step count lowered and every output sent to a scratch folder.

The scratch folder is ``<project>/dryrun/scratch``, emptied first; the real run's output
folder is never written (kohya, SimpleTuner and ai-toolkit resume from whatever their
output folder holds). The real runs write ``<project>/runs/<number>/``
(app/run_folders.py): the dry run proves that ``runs/`` folder writable.

For kohya sd-scripts, SimpleTuner and ai-toolkit the dry run runs the real run's
``launch.sh``, written by the same adapter (app/training/backends) from the same config
with three changes: the run is ``steps`` long, it saves a checkpoint before its last step
(a save in the middle of training, then the final one) and draws its samples at the
last step; and the output folder is the scratch folder's. Every path those trainers
write under follows the output folder: kohya's checkpoints and ``sample/``, SimpleTuner's
checkpoints, ``cache/`` (its latents and text embeddings) and ``logs/``, ai-toolkit's
``training_folder`` with its samples.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

from app.run_folders import runs_root
from app.settings import REPO_ROOT
from app.training.assessment import Assessment
from app.training.backends import write_files
from app.training.backends.native import JOB_FILE
from app.training.config_files import TRAINER_DIRS, files_for, trainer_dir
from app.training.job import NativeJob, write_job
from app.workspace import ProjectContext

DRYRUN_DIR = "dryrun"
DEFAULT_STEPS = 3
MIN_STEPS, MAX_STEPS = 2, 5  # two at least: the first step is warm-up, not measured
# Denoising steps of each dry-run sample: enough to run the sampler end to end.
SAMPLE_STEPS = 4


@dataclass
class DryRunPlan:
    backend: str
    steps: int
    command: list[str]
    cwd: Path
    scratch: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def output(self) -> Path:
        """The trainer's output folder: everything it saves and samples."""
        return output_dir(self.scratch)


def output_dir(scratch: Path) -> Path:
    return scratch / "output"


def dryrun_dir(ctx: ProjectContext) -> Path:
    return ctx.dir / DRYRUN_DIR


def scratch_dir(ctx: ProjectContext) -> Path:
    return dryrun_dir(ctx) / "scratch"


def clamp_steps(steps: int | None) -> int:
    if steps is None:
        return DEFAULT_STEPS
    return max(MIN_STEPS, min(MAX_STEPS, steps))


class TrainerMissing(LookupError):
    """The external trainer's folder is not named in studio.md; ``str()`` says what to set."""


class OutputUnwritable(OSError):
    """A folder the trainer must write cannot be written; ``str()`` names it."""


def prove_writable(folder: Path) -> None:
    """Create ``folder`` and write a file in it (removed at once): the only test that
    holds for read-only mounts, full disks and files in the way, whoever runs it."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".loragate-write-test-"):
            pass
    except OSError as exc:
        raise OutputUnwritable(f"{folder} cannot be written ({exc.strerror or exc})") from None


def fresh_scratch(ctx: ProjectContext) -> Path:
    """The scratch folder, empty. Raises OutputUnwritable."""
    scratch = scratch_dir(ctx)
    try:
        if scratch.is_dir() and not scratch.is_symlink():
            shutil.rmtree(scratch)
        elif scratch.exists() or scratch.is_symlink():
            scratch.unlink()
    except OSError as exc:
        raise OutputUnwritable(f"{scratch} cannot be emptied ({exc.strerror or exc})") from None
    prove_writable(scratch)
    return scratch


def plan_dry_run(ctx: ProjectContext, assessment: Assessment, steps: int) -> DryRunPlan:
    """Write the trainer's files for a dry run and say how to start it. Raises
    OutputUnwritable, TrainerMissing, and BackendUnsupported when the trainer cannot run
    this config."""
    backend = assessment.backend
    # The real run must be able to write its folder (runs/<number>/ inside runs/, the
    # one folder every run is written under); proved here, never written to.
    prove_writable(runs_root(ctx.dir))
    if backend in NEEDS_CLONE and trainer_dir(ctx, backend) is None:
        raise TrainerMissing(
            f"The dry run runs your {NEEDS_CLONE[backend]} from its folder: set "
            f"backends.{TRAINER_DIRS[backend]} in grimoire/studio.md to that folder."
        )
    scratch = fresh_scratch(ctx)
    files = scratch / "files"
    if backend != "native":
        assessment = lowered(assessment, steps)
    bundle = files_for(ctx, assessment, backend, files, output_dir=output_dir(scratch))
    write_files(files, bundle)
    if backend == "native":
        return _native(bundle.files[JOB_FILE], files / JOB_FILE, scratch, steps)
    # launch.sh changes into the trainer's folder itself, as in the real run.
    return DryRunPlan(backend, steps, ["bash", str(files / "launch.sh")], scratch, scratch)


# The trainers whose launch script runs a file of their clone; SimpleTuner may be
# installed with pip (``simpletuner-train`` on PATH).
NEEDS_CLONE = {"kohya": "sd-scripts", "ai-toolkit": "ai-toolkit"}


def lowered(assessment: Assessment, steps: int) -> Assessment:
    """The assessment an external trainer's dry run is written from: ``steps`` long, a
    checkpoint saved before the last step and the final one at it, samples at the last
    step. The step plan carries the length (every adapter writes ``max_train_steps``
    from it)."""
    config = assessment.config
    update: dict[str, object] = {
        "save_every_n_steps": max(1, steps - 1),
        "save_every_n_epochs": None,
        "sample_every_n_steps": steps if config.sample_prompts else None,
    }
    plan = replace(assessment.plan, total_steps=steps, epochs=1)
    return replace(assessment, config=config.model_copy(update=update), plan=plan)


def _native(job_text: str, job_path: Path, scratch: Path, steps: int) -> DryRunPlan:
    job = NativeJob.model_validate_json(job_text).model_copy(
        update={"dry_run_steps": steps, "sample_steps": SAMPLE_STEPS}
    )
    write_job(job_path, job)
    command = [sys.executable, "-m", "app.training.native", str(job_path)]
    return DryRunPlan("native", steps, command, REPO_ROOT, scratch)
