"""The dataset's jobs, run by ``app.worker`` in a child process: import (from a folder,
or from a staging folder a zip or an upload was unpacked into) followed by the audit,
the audit alone, and writing the training folder. Each records what it did in the
journal and returns what the page shows when the job is done. Their parameters are
JSON (they cross into the child), built by the ``*_params`` functions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app import journal
from app.curation.importer import ImportReport, import_folder
from app.curation.layout import LayoutRefused, write_layout
from app.curation.project_audit import ProjectAudit, run_project_audit
from app.dataset.inventory import dataset_dir
from app.dataset.measure_folder import Progress
from app.dataset.staging import hold_staging, remove_staging
from app.worker import JobCancelled, JobHandle
from app.workspace import ProjectContext

IMPORT_JOB = "dataset.import"
AUDIT_JOB = "dataset.audit"
LAYOUT_JOB = "dataset.layout"


def audit_summary(audit: ProjectAudit) -> dict[str, Any]:
    result = audit.result
    return {
        "verdict": result.verdict,
        "block": sum(1 for f in result.findings if f.severity == "block"),
        "warn": sum(1 for f in result.findings if f.severity == "warn"),
        "images": result.stats.get("included", 0),
    }


def import_project_files(
    ctx: ProjectContext,
    source: Path,
    *,
    label: str,
    handle: JobHandle | None = None,
    progress: Progress | None = None,
    skipped: list[dict[str, str]] | None = None,
    renamed: list[dict[str, str]] | None = None,
) -> ImportReport:
    """``skipped`` / ``renamed``: what unpacking an upload into staging already refused
    or renamed, listed first in the report. ``progress`` without a ``handle``: the
    command line's, which runs the import in its own foreground."""
    report = import_folder(
        source,
        dataset_dir(ctx),
        max_pixels=ctx.settings.max_image_pixels,
        max_file_bytes=ctx.settings.max_file_bytes,
        label=label,
        progress=handle.progress if handle else progress,
        check_cancelled=handle.raise_if_cancelled if handle else None,
    )
    report.refused[:0] = skipped or []
    report.renamed[:0] = renamed or []
    with ctx.workspace.db.writing() as session:
        journal.record(
            session,
            ctx.project,
            ctx.dir,
            "dataset.import",
            report.summary(),
            {
                "source": report.source,
                "images": len(report.images),
                "captions": len(report.captions),
                "junk": report.junk,
                "refused": report.refused,
                "renamed": report.renamed,
            },
        )
    return report


def import_params(
    source: Path,
    *,
    label: str,
    staging: Path | None = None,
    skipped: list[dict[str, str]] | None = None,
    renamed: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    """Import from ``source`` (removed afterwards when it is a staging folder), then audit."""
    return {
        "source": str(source),
        "label": label,
        "staging": str(staging) if staging else None,
        "skipped": skipped or [],
        "renamed": renamed or [],
    }


def import_job(handle: JobHandle) -> dict[str, Any]:
    ctx, params = handle.ctx, handle.params
    staging = Path(params["staging"]) if params.get("staging") else None
    with hold_staging(staging):
        report = _import_from(handle, staging)
    audit = run_project_audit(
        ctx, progress=handle.progress, check_cancelled=handle.raise_if_cancelled
    )
    handle.progress(1, 1, "Done")
    return {"import": report.to_json(), "audit": audit_summary(audit)}


def _import_from(handle: JobHandle, staging: Path | None) -> ImportReport:
    ctx, params = handle.ctx, handle.params
    try:
        report = import_project_files(
            ctx,
            Path(params["source"]),
            label=params["label"],
            handle=handle,
            skipped=params.get("skipped"),
            renamed=params.get("renamed"),
        )
    except JobCancelled:
        # Kept (as after a restart): Resume imports from it again, and the files already
        # copied are recognised and skipped.
        raise
    except Exception:
        if staging is not None:
            remove_staging(staging)
        raise
    if staging is not None:
        remove_staging(staging)
    return report


def audit_job(handle: JobHandle) -> dict[str, Any]:
    audit = run_project_audit(
        handle.ctx, progress=handle.progress, check_cancelled=handle.raise_if_cancelled
    )
    handle.progress(1, 1, "Done")
    return {"audit": audit_summary(audit)}


def layout_job(handle: JobHandle) -> dict[str, Any]:
    """Write the training folder (Gate 1 runs first); a refusal is a result, with its
    reasons, not a failure."""
    handle.progress(0, 1, "Checking Gate 1")
    try:
        result = write_layout(
            handle.ctx, progress=handle.progress, check_cancelled=handle.raise_if_cancelled
        )
    except LayoutRefused as exc:
        handle.progress(1, 1, "Refused")
        return {"refused": exc.reasons}
    handle.progress(1, 1, "Done")
    return {
        "summary": result.summary(),
        "out": str(result.out),
        "folders": result.folders,
        "linked": result.linked,
        "copied": result.copied,
    }
