"""Gate 2 · Config: is the training config sound for this dataset, this base model and
this GPU? The rules are in app/gates/config_rules.py; the numbers they judge come from
app/training/assessment.py.

Fingerprint parts: everything the verdict depends on, so changing any of them makes
this gate stale with a plain reason (app/gates/state.py PART_WORDS):

- ``config``: the training config (or why training.json cannot be read);
- ``base_model``: the base model file;
- ``dataset_gate``: Gate 1's fingerprint (the dataset it judged);
- ``studio_gpu``: the GPU as Gate 2 judges memory and bf16 against it (studio.md's
  gpu.name and gpu.vram_gb, or the GPU Gate 3 detected where studio.md leaves them
  empty);
- ``trainer``: the backend the config was judged for (the project's, unless asked);
- ``training_folder``: the training folder every backend reads, as it is on disk.
"""

from __future__ import annotations

from app.dataset.inventory import dataset_dir, inventory, layout_dir
from app.findings import Finding, GateResult, digest, make_result
from app.gates.config_rules import check
from app.gates.state import current_parts
from app.training.assessment import Assessment, assess, project_gpu
from app.training.base_model import base_model_digest, resolve_base_model
from app.training.config import ConfigFileError, TrainingConfig
from app.training.project_config import current_config
from app.training.training_folder import check_training_folder
from app.workspace import ProjectContext

GATE = "config"


def _config_or_error(ctx: ProjectContext) -> tuple[TrainingConfig | None, str | None]:
    try:
        return current_config(ctx), None
    except ConfigFileError as exc:
        return None, str(exc)


def studio_gpu_digest(ctx: ProjectContext) -> str:
    """The GPU as Gate 2 sees it: its name and memory (or why studio.md cannot be read)."""
    gpu, problem = project_gpu(ctx)
    if problem is not None:
        return digest({"error": problem})
    return digest({"name": gpu.name, "vram_gb": gpu.vram_gb})


def fingerprint(ctx: ProjectContext, backend: str | None = None) -> dict[str, str]:
    config, error = _config_or_error(ctx)
    dataset_parts = current_parts(ctx, "dataset")
    items = inventory(ctx)
    if dataset_parts is None:
        # Until Gate 1 exists, the dataset as the config sees it stands in for it.
        dataset_parts = {"inventory": digest([item.__dict__ for item in items])}
    folder = check_training_folder(layout_dir(ctx), dataset_dir(ctx), items)
    return {
        "config": config.digest() if config is not None else digest({"error": error}),
        "base_model": base_model_digest(resolve_base_model(ctx).path),
        "dataset_gate": digest(dataset_parts),
        "studio_gpu": studio_gpu_digest(ctx),
        "trainer": backend or ctx.project.backend,
        "training_folder": folder.digest(),
    }


def stats(assessment: Assessment) -> dict[str, object]:
    return {
        "steps": assessment.plan.total_steps,
        "steps_per_epoch": assessment.plan.steps_per_epoch,
        "images": assessment.plan.images,
        "vram_gb": round(assessment.vram.total_gb, 2),
        "gpu_vram_gb": assessment.gpu.vram_gb,
        "seconds_per_step": round(assessment.time.seconds_per_step, 3),
        "duration": assessment.time.duration_words(),
        "cost": round(assessment.time.cost, 2),
        "hourly_cost": assessment.time.hourly_cost,
        "currency": assessment.time.currency,
        "backend": assessment.backend,
    }


def findings_for(assessment: Assessment) -> list[Finding]:
    return check(assessment)


def evaluate(ctx: ProjectContext, backend: str | None = None) -> GateResult:
    """Judge the config for ``backend`` (default: the project's trainer). Only a result
    for the project's own trainer is current for it: one recorded for another backend
    reads as stale ("the project's trainer changed")."""
    parts = fingerprint(ctx, backend)
    config, error = _config_or_error(ctx)
    if config is None:
        finding = Finding(
            code="config.unreadable",
            severity="block",
            subject="training.json",
            message=error or "training.json cannot be read.",
            why="Without a readable config nothing can be checked or trained.",
            fix="Start over from a preset on the Config page (the unreadable file is kept "
            "beside it), or fix training.json by hand.",
            source="parameters-guide#preset",
        )
        return make_result(GATE, [finding], parts)
    assessment = assess(ctx, config, backend)
    return make_result(GATE, findings_for(assessment), parts, stats(assessment))
