"""The dataset's background work, as job functions for ``app.jobs.JobRunner``: import
(from a folder, or from a staging folder a zip or an upload was unpacked into) followed
by the audit, and the audit alone. Each records what it did in the journal and returns
what the page shows when the job is done."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app import journal
from app.dataset.importer import ImportReport, import_folder
from app.dataset.inventory import dataset_dir
from app.dataset.layout import LayoutRefused, write_layout
from app.dataset.measure import Progress
from app.dataset.project_audit import ProjectAudit, run_project_audit
from app.dataset.staging import StagingFolder
from app.jobs import JobHandle, Work
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


def import_task(
    ctx: ProjectContext,
    source: Path,
    *,
    label: str,
    staging: StagingFolder | None = None,
    skipped: list[dict[str, str]] | None = None,
    renamed: list[dict[str, str]] | None = None,
) -> Work:
    """Import from ``source`` (``staging``, when given, is the folder it was unpacked
    into: removed, and its lock let go, once the import is over), then audit."""

    def work(handle: JobHandle) -> dict[str, Any]:
        try:
            report = import_project_files(
                ctx, source, label=label, handle=handle, skipped=skipped, renamed=renamed
            )
        finally:
            if staging is not None:
                staging.remove()
        audit = run_project_audit(
            ctx, progress=handle.progress, check_cancelled=handle.raise_if_cancelled
        )
        handle.progress(1, 1, "Done")
        return {"import": report.to_json(), "audit": audit_summary(audit)}

    return work


def audit_task(ctx: ProjectContext) -> Work:
    def work(handle: JobHandle) -> dict[str, Any]:
        audit = run_project_audit(
            ctx, progress=handle.progress, check_cancelled=handle.raise_if_cancelled
        )
        handle.progress(1, 1, "Done")
        return {"audit": audit_summary(audit)}

    return work


def layout_task(ctx: ProjectContext) -> Work:
    """Write the training folder (Gate 1 runs first); a refusal is a result, with its
    reasons, not a failure."""

    def work(handle: JobHandle) -> dict[str, Any]:
        handle.progress(0, 1, "Checking Gate 1")
        try:
            result = write_layout(
                ctx, progress=handle.progress, check_cancelled=handle.raise_if_cancelled
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

    return work
