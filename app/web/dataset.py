"""The dataset pages: Import (phase 2: a folder path, a zip upload, files dropped in the
browser), Audit (phase 3: progress, findings, duplicates, stats, every image) and the
Gate 1 report.

HTMX contract:
- POST .../dataset/import/folder|zip|files → 303 to the import page (``HX-Redirect``
  for HTMX), where the import-and-audit job's progress shows; a refused import answers
  422/413 with the import page and the reason (a toast for HTMX).
- POST .../audit/run → 303 (``HX-Redirect``) to the audit page showing the job.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.responses import HTMLResponse, RedirectResponse, Response

from app import journal
from app.curation.importer import ImportRefused, validate_source
from app.curation.report import decisions, report_path
from app.curation.tasks import AUDIT_JOB, IMPORT_JOB, import_params
from app.dataset.inventory import dataset_dir
from app.dataset.records import load_rows
from app.dataset.staging import (
    ArchiveRefused,
    StagingFolder,
    UploadTooLarge,
    save_uploads,
    unpack_zip,
)
from app.intent import MODEL_FAMILIES
from app.web.answers import FILE, ONLY_REDIRECTS, answers, multipart_body
from app.web.dataset_view import audit_view
from app.web.deps import ProjectDep
from app.web.jobs import JobsDep
from app.web.templating import is_htmx, render, toast
from app.words import plural
from app.worker import JobBusy
from app.workspace import ProjectContext

# Every route names a project: 404 when there is none.
router = APIRouter(responses=answers(404))
UPLOAD_ANSWERS = answers(204, 303, 409, 411, 413, 422)


def _redirect(request: Request, name: str, slug: str) -> Response:
    url = str(request.url_for(name, slug=slug))
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


def _import_context(ctx: ProjectContext, jobs: JobsDep, **extra: Any) -> dict[str, Any]:
    rows = load_rows(ctx)
    last = jobs.latest(IMPORT_JOB, ctx.project.id)
    return {
        "project": ctx.project,
        "active_job": jobs.active(None, ctx.project.id),
        "last_import": last.result.get("import") if last and last.state == "done" else None,
        # A failed, cancelled or interrupted import says so until the next one.
        "last_job": last if last and last.state not in ("done", "queued", "running") else None,
        "last_audit": last.result.get("audit") if last and last.state == "done" else None,
        "image_count": len(rows),
        "included_count": sum(1 for row in rows if row.included),
        "dataset_path": dataset_dir(ctx),
        "limits": ctx.settings,
        "error": None,
        "source": "",
    } | extra


def _refuse(
    request: Request,
    ctx: ProjectContext,
    jobs: JobsDep,
    message: str,
    status: int = 422,
    *,
    source: str = "",
) -> Response:
    """The import page again with the reason (what was typed kept), or a toast."""
    if is_htmx(request):
        return toast(request, message, status_code=status)
    context = _import_context(ctx, jobs, error=message, source=source)
    return render(request, "dataset/import.html", context, status_code=status)


@router.get("/projects/{slug}/dataset", response_class=HTMLResponse, name="phase_import")
def import_page(request: Request, ctx: ProjectDep, jobs: JobsDep) -> Response:
    """Import images three ways; the running import's progress; the last import's report."""
    return render(request, "dataset/import.html", _import_context(ctx, jobs))


@router.post(
    "/projects/{slug}/dataset/import/folder",
    response_class=HTMLResponse,
    responses=answers(204, 303, 409, 422),
)
def import_from_folder(
    request: Request, ctx: ProjectDep, jobs: JobsDep, source: Annotated[str, Form()] = ""
) -> Response:
    """Copy a folder of this computer into the dataset, then audit."""
    try:
        folder = validate_source(source, dataset_dir(ctx))
        jobs.start(
            IMPORT_JOB,
            ctx.project.id,
            import_params(folder, label=str(folder)),
            title=f"Importing {folder.name} and auditing",
        )
    except ImportRefused as exc:
        return _refuse(request, ctx, jobs, str(exc), source=source)
    except JobBusy as exc:
        return _refuse(request, ctx, jobs, _busy(exc), 409, source=source)
    return _redirect(request, "phase_import", ctx.project.slug)


def _busy(exc: JobBusy) -> str:
    return f"{exc} Wait for it to finish (or cancel it), then try again."


def _upload_refusal(request: Request, ctx: ProjectContext, jobs: JobsDep) -> Response | None:
    """Refuse an upload from its Content-Length, before reading a byte of it."""
    limit = ctx.settings.max_upload_bytes
    length = request.headers.get("content-length")
    if length is None or not length.isdigit():
        message = "The upload did not say how large it is; loragate needs that to accept it."
        return _refuse(request, ctx, jobs, message, 411)
    if int(length) > limit:
        message = (
            f"The upload is {int(length) / 1024**2:,.0f} MB; loragate accepts at most "
            f"{limit / 1024**2:,.0f} MB at once. Import the folder by its path instead, or "
            "upload in parts."
        )
        return _refuse(request, ctx, jobs, message, 413)
    return None


def _start_staged_import(
    ctx: ProjectContext,
    jobs: JobsDep,
    staging: StagingFolder,
    *,
    label: str,
    title: str,
    skipped: list[dict[str, str]],
    renamed: list[dict[str, str]] | None = None,
) -> None:
    """Import what was unpacked into ``staging``; once the job has started it owns the
    folder (and removes it when done)."""
    params = import_params(
        staging.path, label=label, staging=staging.path, skipped=skipped, renamed=renamed
    )
    jobs.start(IMPORT_JOB, ctx.project.id, params, title=title)
    staging.hand_over()


@router.post(
    "/projects/{slug}/dataset/import/zip",
    response_class=HTMLResponse,
    responses=UPLOAD_ANSWERS,
    openapi_extra=multipart_body(archive=FILE),
)
async def import_from_zip(request: Request, ctx: ProjectDep, jobs: JobsDep) -> Response:
    """Unpack an uploaded zip (with zip-slip and zip-bomb guards), import it, audit."""
    refusal = _upload_refusal(request, ctx, jobs)
    if refusal is not None:
        return refusal
    form = await request.form(max_files=1, max_fields=10)
    upload = form.get("archive")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return _refuse(request, ctx, jobs, "Choose a .zip file to upload.")
    try:
        # Whatever stops this before the job takes the folder over removes it.
        with StagingFolder(ctx.settings) as staging:
            unpacked = await run_in_threadpool(unpack_zip, upload.file, staging.path, ctx.settings)
            _start_staged_import(
                ctx,
                jobs,
                staging,
                label=f"the zip {upload.filename}",
                title=f"Importing {upload.filename} and auditing",
                skipped=unpacked.skipped,
            )
    except ArchiveRefused as exc:
        return _refuse(request, ctx, jobs, str(exc))
    except JobBusy as exc:
        return _refuse(request, ctx, jobs, _busy(exc), 409)
    finally:
        await upload.close()
    return _redirect(request, "phase_import", ctx.project.slug)


@router.post(
    "/projects/{slug}/dataset/import/files",
    response_class=HTMLResponse,
    responses=UPLOAD_ANSWERS,
    openapi_extra=multipart_body(
        files={"type": "array", "items": FILE},
        paths={"type": "string", "description": "JSON list: each file's path in its folder"},
    ),
)
async def import_from_files(request: Request, ctx: ProjectDep, jobs: JobsDep) -> Response:
    """Files dropped (or picked) in the browser: streamed to disk, then imported and audited.
    ``paths`` (JSON list, optional) gives each file's path inside a dropped folder."""
    settings = ctx.settings
    refusal = _upload_refusal(request, ctx, jobs)
    if refusal is not None:
        return refusal
    form = await request.form(
        max_files=settings.max_upload_files,
        max_fields=settings.max_upload_files + 10,
        max_part_size=16 * 1024**2,
    )
    uploads = [item for item in form.getlist("files") if isinstance(item, UploadFile)]
    if not uploads:
        return _refuse(request, ctx, jobs, "No files arrived. Drop images (or a folder) again.")
    try:
        paths = json.loads(str(form.get("paths") or "[]"))
    except json.JSONDecodeError:
        paths = []
    if not isinstance(paths, list) or len(paths) != len(uploads):
        paths = [upload.filename or f"upload-{i}" for i, upload in enumerate(uploads)]
    try:
        with StagingFolder(settings) as staging:
            saved = await run_in_threadpool(
                save_uploads,
                [upload.file for upload in uploads],
                [str(p) for p in paths],
                staging.path,
                settings.max_upload_bytes,
                max_file_bytes=settings.max_file_bytes,
            )
            _start_staged_import(
                ctx,
                jobs,
                staging,
                label=f"{plural(len(uploads), 'file')} from the browser",
                title="Importing dropped files and auditing",
                skipped=saved.skipped,
                renamed=saved.renamed,
            )
    except UploadTooLarge:
        return _refuse(request, ctx, jobs, "The upload is larger than loragate accepts.", 413)
    except JobBusy as exc:
        return _refuse(request, ctx, jobs, _busy(exc), 409)
    finally:
        for upload in uploads:
            await upload.close()
    return _redirect(request, "phase_import", ctx.project.slug)


@router.get("/projects/{slug}/audit", response_class=HTMLResponse, name="phase_audit")
def audit_page(
    request: Request, ctx: ProjectDep, jobs: JobsDep, done: Annotated[int | None, Query()] = None
) -> Response:
    """Findings by severity with thumbnails, duplicate groups, stats, include/exclude;
    ``done``: the journal entry of a decision just made, said at the top."""
    family = MODEL_FAMILIES.get(ctx.project.model_family)
    view = audit_view(ctx)
    last = jobs.latest(AUDIT_JOB, ctx.project.id)
    if last is not None and (
        last.state in ("done", "queued", "running")
        or (view.state.record and last.updated_at <= view.state.record.created_at)
    ):
        last = None  # only an audit that failed or stopped after the latest result is news
    context = view.as_context() | {
        "project": ctx.project,
        "family_title": family.title if family else ctx.project.model_family,
        "active_job": jobs.active(None, ctx.project.id),
        "last_job": last,
        "done": _entry_message(ctx, done),
    }
    return render(request, "dataset/audit.html", context)


def _entry_message(ctx: ProjectContext, event_id: int | None) -> str:
    if event_id is None:
        return ""
    with ctx.workspace.db.reading() as session:
        entry = journal.find(session, ctx.project, event_id)
    return entry.message if entry else ""


def _audit_then_show(
    request: Request, ctx: ProjectContext, jobs: JobsDep, title: str, page: str
) -> Response:
    try:
        jobs.start(AUDIT_JOB, ctx.project.id, title=title)
    except JobBusy as exc:
        if is_htmx(request):
            return toast(request, _busy(exc), status_code=409)
    return _redirect(request, page, ctx.project.slug)


@router.post(
    "/projects/{slug}/audit/run", response_class=HTMLResponse, responses=answers(204, 303, 409)
)
def run_audit(request: Request, ctx: ProjectDep, jobs: JobsDep) -> Response:
    """Audit the dataset again in the background."""
    return _audit_then_show(request, ctx, jobs, "Auditing the dataset", "phase_audit")


@router.get("/projects/{slug}/gates/dataset", response_class=HTMLResponse, name="gate_dataset")
def gate_page(request: Request, ctx: ProjectDep, jobs: JobsDep) -> Response:
    """Gate 1's report: whether it passes, every finding with why and how to fix it, what was
    decided, the dataset's numbers; the same report is in <project>/dataset-report.md."""
    report = report_path(ctx)
    context = audit_view(ctx).as_context() | {
        "project": ctx.project,
        "active_job": jobs.active(None, ctx.project.id),
        "decisions": decisions(ctx),
        "report_file": report if report.is_file() else None,
    }
    return render(request, "dataset/gate.html", context)


@router.post(
    "/projects/{slug}/gates/dataset/run",
    response_class=HTMLResponse,
    responses=answers(204, 303, 409),
)
def run_gate_dataset(request: Request, ctx: ProjectDep, jobs: JobsDep) -> Response:
    """Run Gate 1 now (the audit, in the background) and show its report."""
    return _audit_then_show(request, ctx, jobs, "Checking Gate 1", "gate_dataset")


@router.get(
    "/projects/{slug}/report",
    name="phase_report",
    **ONLY_REDIRECTS,
)
def report_page(request: Request, ctx: ProjectDep) -> Response:
    """Phase 6 is Gate 1's report."""
    return RedirectResponse(request.url_for("gate_dataset", slug=ctx.project.slug), status_code=303)
