"""The backend files for a project as it stands: what the Config page previews and
offers for download, what saving writes into ``<project>/configs/<backend>/`` and what
``loragate config --out DIR`` writes."""

from __future__ import annotations

from pathlib import Path

from app.grimoire import GrimoireError
from app.paths import UnsafePathError, user_path
from app.training.assessment import Assessment
from app.training.backends import BackendFiles, generate, run_plan, write_files
from app.workspace import ProjectContext

CONFIGS_DIRNAME = "configs"
TRAINER_DIRS = {"kohya": "kohya", "simpletuner": "simpletuner", "ai-toolkit": "ai_toolkit"}


def default_files_dir(ctx: ProjectContext, backend: str) -> Path:
    return ctx.dir / CONFIGS_DIRNAME / backend


def trainer_dir(ctx: ProjectContext, backend: str) -> str | None:
    attribute = TRAINER_DIRS.get(backend)
    if attribute is None:
        return None
    try:
        value: str | None = getattr(ctx.workspace.studio().backends, attribute)
    except GrimoireError:
        return None
    if not value or not value.strip():
        return None
    # studio.md may say "~/sd-scripts": the launch script quotes the path, so the shell
    # would not expand the tilde; expand it here. A path no computer could hold is no
    # folder: Gate 3 says so in words.
    try:
        return str(user_path(value.strip()))
    except UnsafePathError:
        return None


def files_for(
    ctx: ProjectContext,
    assessment: Assessment,
    backend: str,
    files_dir: Path | None = None,
    output_dir: Path | None = None,
    resume_from: Path | None = None,
) -> BackendFiles:
    """Generate (not write) the files; raises BackendUnsupported with a plain reason.
    ``output_dir``: where the trainer writes, when not the real run's folder;
    ``resume_from``: the trainer's resume state to continue from (RunPlan)."""
    base = assessment.base_model
    detection = assessment.detection
    prediction = base.prediction_type
    if detection is not None and detection.prediction_type:
        prediction = detection.prediction_type
    run = run_plan(
        ctx,
        assessment.config,
        assessment.plan,
        assessment.items,
        base.path or Path(base.reference),
        files_dir or default_files_dir(ctx, backend),
        backend=backend,
        variant=detection.variant if detection is not None else "",
        prediction_type=prediction,
        trainer_dir=trainer_dir(ctx, backend),
        output_dir=output_dir,
        base_parts=base.parts,
        resume_from=resume_from,
    )
    return generate(backend, run)


def write_backend_files(
    ctx: ProjectContext, assessment: Assessment, backend: str, out_dir: Path | None = None
) -> tuple[BackendFiles, list[Path]]:
    target = out_dir or default_files_dir(ctx, backend)
    bundle = files_for(ctx, assessment, backend, target)
    return bundle, write_files(target, bundle)
