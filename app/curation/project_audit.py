"""Gate 1's audit of a project's dataset: the folder audit on ``<project>/dataset/`` with
the project's cache (its rows), its exclusions and its intentional duplicate groups; then
the per-image results, the newly flagged images in the journal, and the gate result."""

from __future__ import annotations

from dataclasses import dataclass

from app import journal
from app.captions.content_lint import SUPERSEDED_CODES
from app.captions.gate_findings import caption_findings, caption_parts
from app.captions.sync import sync_captions
from app.curation.fingerprint import project_parts
from app.curation.folder_audit import SEVERITY_ORDER, AuditOptions, AuditReport, audit_folder
from app.curation.report import caption_stats, write_report
from app.dataset.buckets import BucketSpec
from app.dataset.measure_folder import CheckCancelled, Progress
from app.dataset.records import (
    ProjectCache,
    excluded_paths,
    intentional_groups,
    load_rows,
    near_threshold,
    project_scan,
    sync_records,
)
from app.dataset.whole_dataset_checks import DATASET_SUBJECT
from app.findings import Finding, GateResult, make_result
from app.gate_records import record_result
from app.models import DatasetImage
from app.training.config import ConfigFileError, bucket_spec
from app.training.project_config import current_config
from app.workspace import ProjectContext

GATE = "dataset"


def project_buckets(ctx: ProjectContext) -> BucketSpec | None:
    """The bucketing of the project's training config (the Standard preset until one is
    saved), which Curate's balance and the step count use too; None when training.json
    cannot be read (the audit then uses the family's default)."""
    try:
        return bucket_spec(current_config(ctx))
    except ConfigFileError:
        return None


def audit_options(ctx: ProjectContext, *, workers: int | None = None) -> AuditOptions:
    project = ctx.project
    return AuditOptions(
        training_type=project.training_type,
        trigger=project.trigger_word,
        family=project.model_family,
        near_threshold=near_threshold(ctx),
        max_pixels=ctx.settings.max_image_pixels,
        max_file_bytes=ctx.settings.max_file_bytes,
        workers=workers,
        buckets=project_buckets(ctx),
        captions_rewritten=True,  # sync_captions takes every caption in as plain UTF-8
    )


@dataclass
class ProjectAudit:
    result: GateResult
    report: AuditReport
    rows: dict[str, DatasetImage]


def current_parts(ctx: ProjectContext) -> dict[str, str]:
    """The gate's fingerprint of the dataset as it is now (reads only)."""
    rows = {row.path: row for row in load_rows(ctx)}
    scan = project_scan(ctx)
    parts = project_parts(scan, audit_options(ctx), rows, intentional_groups(ctx, rows))
    return caption_parts(ctx, scan, rows, parts)


def audit_project(
    ctx: ProjectContext,
    *,
    progress: Progress | None = None,
    check_cancelled: CheckCancelled | None = None,
    workers: int | None = None,
) -> ProjectAudit:
    """Judge the dataset as it is now. Updates the cache rows and takes in caption files
    loragate has not seen (as drafts); records nothing else."""
    sync_captions(ctx, sync_records(ctx))  # may rewrite new caption files: scan after it
    scan = project_scan(ctx)
    options = audit_options(ctx, workers=workers)
    rows = sync_records(ctx, scan)
    intentional = intentional_groups(ctx, rows)
    parts = caption_parts(ctx, scan, rows, project_parts(scan, options, rows, intentional))
    cache = ProjectCache(ctx, rows)
    report = audit_folder(
        scan.root,
        options,
        cache,
        excluded=excluded_paths(rows),
        intentional=intentional,
        scan=scan,
        settings=ctx.settings,
        progress=progress,
        check_cancelled=check_cancelled,
    )
    findings = [f for f in report.findings if f.code not in SUPERSEDED_CODES]
    findings += caption_findings(ctx, cache.rows)
    findings.sort(key=lambda f: (SEVERITY_ORDER[f.severity], f.subject == DATASET_SUBJECT, f.code))
    stats = report.stats | caption_stats(ctx, cache.rows)
    result = make_result(GATE, findings, parts, stats)
    return ProjectAudit(result, report, cache.rows)


def run_project_audit(
    ctx: ProjectContext,
    *,
    progress: Progress | None = None,
    check_cancelled: CheckCancelled | None = None,
    workers: int | None = None,
) -> ProjectAudit:
    """Audit, remember each image's findings, journal what is newly flagged, and store
    the gate result (which journals the verdict)."""
    audit = audit_project(ctx, progress=progress, check_cancelled=check_cancelled, workers=workers)
    _record_image_findings(ctx, audit)
    record_result(ctx, audit.result)
    write_report(ctx, audit.result)
    return audit


# Where a caption stands in review is not a flag on the image: the grid shows it, and
# journaling it would name every image of every import.
NOT_FLAGS = frozenset({"caption.not_approved"})


def _record_image_findings(ctx: ProjectContext, audit: ProjectAudit) -> None:
    by_path: dict[str, list[Finding]] = {}
    for found in audit.result.findings:
        if found.code in NOT_FLAGS:
            continue
        for path in found.subjects:
            if path in audit.rows:
                by_path.setdefault(path, []).append(found)
    with ctx.workspace.db.writing() as session:
        for path, row in audit.rows.items():
            findings = by_path.get(path, [])
            codes = sorted({f.code for f in findings})
            if codes == sorted(row.finding_codes):
                continue
            new = [
                f
                for f in findings
                if f.code not in row.finding_codes and f.severity in ("block", "warn")
            ]
            row = session.merge(row)
            row.finding_codes = codes
            session.add(row)
            audit.rows[path] = row
            if new:
                journal.record(
                    session,
                    ctx.project,
                    ctx.dir,
                    "image.flagged",
                    f"Flagged {path}: " + " ".join(f.message for f in new),
                    {"path": path, "codes": [f.code for f in new]},
                )
