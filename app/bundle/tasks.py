"""The bundle's jobs, for the Config page (the CLI runs the same functions in its own
foreground): writing the export (copying a dataset and perhaps a model takes a while),
and importing an uploaded results.zip from its staging folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.bundle.export import export_bundle
from app.bundle.import_ import import_results
from app.dataset.staging import hold_staging, remove_staging
from app.worker import JobHandle
from app.workspace import ProjectContext

EXPORT_JOB = "bundle.export"
IMPORT_JOB = "bundle.import"
BUNDLES_DIRNAME = "bundles"
UPLOADED_NAME = "results.zip"


def export_path(ctx: ProjectContext) -> Path:
    """Where the Config page's export is written (one per project, replaced each time)."""
    return ctx.dir / BUNDLES_DIRNAME / f"{ctx.project.slug}-bundle.zip"


def export_job(handle: JobHandle) -> dict[str, Any]:
    handle.progress(0, 1, "Writing the bundle")
    exported = export_bundle(
        handle.ctx,
        export_path(handle.ctx),
        gpu_title=handle.params.get("gpu") or None,
        include_model=bool(handle.params.get("include_model")),
    )
    handle.progress(1, 1, "Done")
    return {"path": str(exported.path), "gpu": exported.gpu.title}


def import_job(handle: JobHandle) -> dict[str, Any]:
    staging = Path(handle.params["staging"])
    try:
        with hold_staging(staging):
            handle.progress(0, 1, "Checking and unpacking the results")
            imported = import_results(handle.ctx, staging / UPLOADED_NAME)
    finally:
        remove_staging(staging)
    handle.progress(1, 1, "Done")
    return {"folder": imported.path.name, "run": imported.number, "summary": imported.summary()}
