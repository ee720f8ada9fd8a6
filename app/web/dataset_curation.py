"""The artist's decisions on the audit page, and the thumbnails it shows.

HTMX contract (every decision is journaled, then the dataset is judged again at once
when nothing needs measuring, or by a background audit otherwise):
- POST .../images/{id}/included (included=0|1)
- POST .../duplicates/keep (member=ID..., keep=ID)
- POST .../duplicates/intentional (member=ID...)
- POST .../duplicates/threshold (threshold=N)
  → ``dataset/_audit_body.html`` for #audit-body (HTMX), else 303 to the audit page;
  a refused decision → a toast (HTMX) or the error page, status 400. The body (or the
  page, through ``?done=EVENT_ID``) starts with what the decision did, from its journal
  entry.
- GET .../images/{id}/thumb → the image as a small WebP, by database id only (never a
  client path), cached on disk; a placeholder SVG for files that cannot be shown.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from app import journal
from app.curation.project_audit import run_project_audit
from app.curation.tasks import AUDIT_JOB
from app.dataset.decisions import (
    DecisionError,
    keep_one,
    mark_intentional,
    set_included,
    set_near_threshold,
)
from app.dataset.inventory import dataset_dir
from app.dataset.records import rows_by_id, sync_records
from app.dataset.thumbs import THUMB_MEDIA_TYPE, thumbnail_for
from app.models import Event
from app.web.answers import answers
from app.web.dataset_view import audit_view
from app.web.deps import DbId, FormDbId, FormDbIds, ProjectDep
from app.web.jobs import JobsDep
from app.web.templating import is_htmx, render
from app.worker import JobBusy
from app.workspace import ProjectContext

# Every route names a project: 404 when there is none.
router = APIRouter(responses=answers(404))

PLACEHOLDER = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="256" height="256" viewBox="0 0 256 256">'
    '<rect width="256" height="256" fill="#efeee9"/><path d="M70 70l116 116M186 70L70 186" '
    'stroke="#c62828" stroke-width="10"/><text x="128" y="232" font-family="sans-serif" '
    'font-size="20" text-anchor="middle" fill="#636c76">no preview</text></svg>'
)
# A thumbnail, or the placeholder above when the image cannot be decoded; 304 when the
# browser's copy (ETag) is current.
THUMB_ANSWERS = {
    200: {
        "description": "The thumbnail.",
        "content": {THUMB_MEDIA_TYPE: {}, "image/svg+xml": {}},
    },
    304: {"description": "The browser's copy is current."},
}


def _judge_again(ctx: ProjectContext, jobs: JobsDep) -> str:
    """Re-judge after a decision: inline when every file is measured (no decoding, a
    fraction of a second), in the background otherwise. Says which, for the artist."""
    if jobs.active(None, ctx.project.id) is not None:
        # the running import or audit judges the dataset when it finishes
        return "The running job judges the dataset again when it is done."
    rows = sync_records(ctx)
    if any(row.analysis_version == 0 for row in rows.values()):
        with contextlib.suppress(JobBusy):  # one started meanwhile: it judges the dataset
            jobs.start(AUDIT_JOB, ctx.project.id, title="Auditing")
        return "The audit runs again in the background; the findings update when it is done."
    run_project_audit(ctx)
    return "Gate 1 was judged again: the findings below are up to date."


def _decision_entry(ctx: ProjectContext) -> Event | None:
    """The journal entry the decision just wrote (the project's newest)."""
    with ctx.workspace.db.reading() as session:
        newest = journal.recent(session, ctx.project, limit=1)
    return newest[0] if newest else None


def _decide(
    request: Request, ctx: ProjectContext, jobs: JobsDep, decision: Callable[[], object]
) -> Response:
    try:
        decision()
    except DecisionError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None
    entry = _decision_entry(ctx)
    judged = _judge_again(ctx, jobs)
    if is_htmx(request):
        context = audit_view(ctx).as_context() | {
            "project": ctx.project,
            "active_job": jobs.active(None, ctx.project.id),
            "done": f"{entry.message} {judged}" if entry else judged,
        }
        return render(request, "dataset/_audit_body.html", context)
    url = request.url_for("phase_audit", slug=ctx.project.slug)
    return RedirectResponse(f"{url}?done={entry.id}" if entry else url, status_code=303)


@router.post(
    "/projects/{slug}/images/{image_id}/included",
    response_class=HTMLResponse,
    responses=answers(303, 400),
)
def include_image(
    request: Request,
    ctx: ProjectDep,
    jobs: JobsDep,
    image_id: DbId,
    included: Annotated[int, Form()],
) -> Response:
    """Include an image in training, or leave it out."""
    return _decide(request, ctx, jobs, lambda: set_included(ctx, image_id, bool(included)))


@router.post(
    "/projects/{slug}/duplicates/keep", response_class=HTMLResponse, responses=answers(303, 400)
)
def keep_duplicate(
    request: Request,
    ctx: ProjectDep,
    jobs: JobsDep,
    member: FormDbIds,
    keep: FormDbId,
) -> Response:
    """Keep one image of a duplicate group; the others are excluded (not deleted)."""
    return _decide(request, ctx, jobs, lambda: keep_one(ctx, member, keep))


@router.post(
    "/projects/{slug}/duplicates/intentional",
    response_class=HTMLResponse,
    responses=answers(303, 400),
)
def intentional_duplicates(
    request: Request, ctx: ProjectDep, jobs: JobsDep, member: FormDbIds
) -> Response:
    """Record that a near-duplicate group is meant to be there."""
    return _decide(request, ctx, jobs, lambda: mark_intentional(ctx, member))


@router.post(
    "/projects/{slug}/duplicates/threshold",
    response_class=HTMLResponse,
    responses=answers(303, 400),
)
def duplicate_threshold(
    request: Request, ctx: ProjectDep, jobs: JobsDep, threshold: Annotated[int, Form()]
) -> Response:
    """Change how similar two images must be to count as near-duplicates."""
    return _decide(request, ctx, jobs, lambda: set_near_threshold(ctx, threshold))


@router.get(
    "/projects/{slug}/images/{image_id}/thumb",
    name="image_thumb",
    response_class=Response,
    responses=THUMB_ANSWERS,
)
def image_thumb(request: Request, ctx: ProjectDep, image_id: DbId) -> Response:
    """A thumbnail, by the image's id in this project (never by a path from the client)."""
    rows = rows_by_id(ctx, [image_id])
    if not rows:
        raise HTTPException(status_code=404, detail="There is no such image in this project.")
    row = rows[0]
    path = thumbnail_for(
        row, dataset_dir(ctx), ctx.settings.data_dir / "thumbs", ctx.settings.max_image_pixels
    )
    if path is None:
        return Response(
            PLACEHOLDER, media_type="image/svg+xml", headers={"Cache-Control": "no-cache"}
        )
    etag = f'"{row.sha256}"'
    headers = {"ETag": etag, "Cache-Control": "private, max-age=86400"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return FileResponse(path, media_type=THUMB_MEDIA_TYPE, headers=headers)
