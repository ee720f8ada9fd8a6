"""Gate 2 · Config: is the training config sound for this dataset, this base model and
this GPU? The rules are in app/gates/config_rules.py; the numbers they judge come from
app/training/assessment.py.

Fingerprint parts: the config, the base model file, and Gate 1's fingerprint (the
dataset it judged), so changing any of them makes this gate stale.
"""

from __future__ import annotations

from app.dataset.inventory import inventory
from app.gates.config_rules import check
from app.gates.result import Finding, GateResult, digest, make_result
from app.gates.state import current_parts
from app.training.assessment import Assessment, assess
from app.training.base_model import base_model_digest, resolve_base_model
from app.training.config import ConfigFileError, TrainingConfig
from app.training.project_config import current_config
from app.workspace import ProjectContext

GATE = "config"


def _config_or_error(ctx: ProjectContext) -> tuple[TrainingConfig | None, str | None]:
    try:
        return current_config(ctx), None
    except ConfigFileError as exc:
        return None, str(exc)


def fingerprint(ctx: ProjectContext) -> dict[str, str]:
    config, error = _config_or_error(ctx)
    dataset_parts = current_parts(ctx, "dataset")
    if dataset_parts is None:
        # Until Gate 1 exists, the dataset as the config sees it stands in for it.
        dataset_parts = {"inventory": digest([item.__dict__ for item in inventory(ctx)])}
    return {
        "config": config.digest() if config is not None else digest({"error": error}),
        "base_model": base_model_digest(resolve_base_model(ctx).path),
        "dataset_gate": digest(dataset_parts),
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
        "currency": assessment.time.currency,
        "backend": assessment.backend,
    }


def findings_for(assessment: Assessment) -> list[Finding]:
    return check(assessment)


def evaluate(ctx: ProjectContext, backend: str | None = None) -> GateResult:
    parts = fingerprint(ctx)
    config, error = _config_or_error(ctx)
    if config is None:
        finding = Finding(
            code="config.unreadable",
            severity="block",
            subject="training.json",
            message=error or "training.json cannot be read.",
            why="Without a readable config nothing can be checked or trained.",
            fix="Open the Config page and save the settings again, or fix training.json.",
            source="parameters-guide#preset",
        )
        return make_result(GATE, [finding], parts)
    assessment = assess(ctx, config, backend)
    return make_result(GATE, findings_for(assessment), parts, stats(assessment))
