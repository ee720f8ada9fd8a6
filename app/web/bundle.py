"""The Config page's cloud GPU bundle: export for a rented GPU, download it, and import
the results that come back.

No HTMX: POST …/bundle/export → 303 to the Config page, where the export job shows its
progress (409 with the reason when Gates 1 and 2 do not pass now); GET …/bundle/download
→ the zip; POST …/bundle/import (multipart: archive) → 303 to the Config page, where the
import job shows its progress; a refused archive is the job's failure message.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.responses import FileResponse, RedirectResponse, Response

from app.bundle.export import ExportRefused, passing_gates
from app.bundle.rental import RENTAL_GPUS
from app.bundle.tasks import EXPORT_JOB, IMPORT_JOB, UPLOADED_NAME, export_path
from app.dataset.staging import StagingFolder, save_stream
from app.fsutil import TooLarge
from app.web.answers import ONLY_REDIRECTS, answers, media, multipart_body
from app.web.deps import ProjectDep
from app.web.jobs import JobsDep
from app.worker import JobBusy
from app.workspace import ProjectContext

router = APIRouter(responses=answers(404))
FILE = {"type": "string", "format": "binary"}


def bundle_view(ctx: ProjectContext) -> dict[str, Any]:
    """What the Config page's bundle section shows."""
    path = export_path(ctx)
    return {"gpus": RENTAL_GPUS, "export_exists": path.is_file(), "export_name": path.name}


@router.post(
    "/projects/{slug}/bundle/export",
    name="bundle_export",
    responses=answers(409),
    **ONLY_REDIRECTS,
)
def bundle_export(
    request: Request,
    ctx: ProjectDep,
    jobs: JobsDep,
    gpu: Annotated[str, Form(max_length=60)] = "",
    include_model: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """Write the bundle for a rented GPU (a job); Gates 1 and 2 must pass now."""
    try:
        passing_gates(ctx)
        jobs.start(
            EXPORT_JOB,
            ctx.project.id,
            {"gpu": gpu, "include_model": bool(include_model)},
            title="Writing the bundle for a rented GPU",
        )
    except ExportRefused as exc:
        raise HTTPException(status_code=409, detail=f"No bundle was written: {exc}") from None
    except JobBusy as exc:
        raise HTTPException(status_code=409, detail=f"{exc} Wait for it to finish.") from None
    url = request.url_for("phase_config", slug=ctx.project.slug)
    return RedirectResponse(f"{url}#bundle", status_code=303)


@router.get(
    "/projects/{slug}/bundle/download",
    name="bundle_download",
    response_class=Response,
    responses=media(200, "application/zip"),
)
def bundle_download(ctx: ProjectDep) -> Response:
    """The last bundle written for this project."""
    path = export_path(ctx)
    if not path.is_file():
        raise HTTPException(status_code=404, detail="No bundle has been written yet.")
    return FileResponse(path, media_type="application/zip", filename=path.name)


@router.post(
    "/projects/{slug}/bundle/import",
    name="bundle_import",
    responses=answers(409, 411, 413, 422),
    openapi_extra=multipart_body(archive=FILE),
    **ONLY_REDIRECTS,
)
async def bundle_import(request: Request, ctx: ProjectDep, jobs: JobsDep) -> Response:
    """Bring a rented GPU's results.zip in as the next run, runs/<number>/ (a job)."""
    limit = ctx.settings.max_upload_bytes
    length = request.headers.get("content-length")
    if length is None or not length.isdigit():
        raise HTTPException(status_code=411, detail="The upload did not say how large it is.")
    if int(length) > limit:
        raise HTTPException(
            status_code=413,
            detail=f"The upload is larger than the {limit / 1024**2:,.0f} MB loragate accepts; "
            "use `loragate bundle import` instead.",
        )
    form = await request.form(max_files=1, max_fields=5)
    upload = form.get("archive")
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise HTTPException(status_code=422, detail="Choose the results.zip to import.")
    try:
        with StagingFolder(ctx.settings) as staging:
            await run_in_threadpool(save_stream, upload.file, staging.path, UPLOADED_NAME, limit)
            jobs.start(
                IMPORT_JOB,
                ctx.project.id,
                {"staging": str(staging.path)},
                title=f"Importing {upload.filename}",
            )
            staging.hand_over()
    except TooLarge:
        raise HTTPException(status_code=413, detail="The upload is too large.") from None
    except JobBusy as exc:
        raise HTTPException(status_code=409, detail=f"{exc} Wait for it to finish.") from None
    finally:
        await upload.close()
    url = request.url_for("phase_config", slug=ctx.project.slug)
    return RedirectResponse(f"{url}#bundle", status_code=303)
