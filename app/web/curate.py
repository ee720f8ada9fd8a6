"""Curate (phase 5): repeats per concept with what they do to the step count, the
balance of the dataset, include/exclude per image, and writing the training folder.

HTMX contract:
- GET /projects/{slug}/curate → the page.
- POST .../curate/repeats (concept, repeats) → 303 back to the page (#concepts); 422
  with the reason when refused.
- POST .../curate/images/{id}/included (included=0|1) → ``curate/_image.html`` for
  #curate-image-{id} (outerHTML) with HTMX, else 303 back.
- POST .../curate/layout → 303 back to the page, which shows the job writing the
  training folder (Gate 1 runs first; a refusal lists its reasons).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from app.captions.store import is_trainable_image
from app.curation.balance import MAX_REPEATS, balance, set_repeats
from app.curation.layout import layout_marker
from app.curation.tasks import LAYOUT_JOB
from app.dataset.decisions import DecisionError, set_included
from app.dataset.inventory import layout_dir
from app.dataset.records import load_rows, rows_by_id
from app.web.answers import answers
from app.web.deps import DbId, ProjectDep
from app.web.jobs import JobsDep
from app.web.outside import outside_for_page
from app.web.templating import is_htmx, render
from app.worker import JobBusy
from app.workspace import ProjectContext

# Every route names a project: 404 when there is none.
router = APIRouter(responses=answers(404))

# Images shown per concept on this page; the caption grid (filtered by concept) has all.
IMAGES_PER_CONCEPT = 60


def _context(ctx: ProjectContext, jobs: JobsDep, **extra: Any) -> dict[str, Any]:
    dataset = balance(ctx)  # brings the rows up to date with the folder first
    every_row = load_rows(ctx)
    rows = [row for row in every_row if is_trainable_image(row)]
    by_concept: dict[str, list[Any]] = {}
    for row in rows:
        by_concept.setdefault(row.concept, []).append(row)
    last = jobs.latest(LAYOUT_JOB, ctx.project.id)
    return {
        "project": ctx.project,
        "balance": dataset,
        # Files known by their header only: one may still turn out broken when decoded.
        "unchecked": sum(1 for row in every_row if row.analysis_version == 0),
        "images": {name: items[:IMAGES_PER_CONCEPT] for name, items in by_concept.items()},
        "image_totals": {name: len(items) for name, items in by_concept.items()},
        "max_repeats": MAX_REPEATS,
        "layout_dir": layout_dir(ctx),
        "marker": layout_marker(ctx),
        "active_job": jobs.active(None, ctx.project.id),
        "last_layout": last if last and last.state not in ("queued", "running") else None,
        "error": None,
    } | extra


@router.get("/projects/{slug}/curate", response_class=HTMLResponse, name="phase_curate")
def curate_page(request: Request, ctx: ProjectDep, jobs: JobsDep) -> Response:
    """Repeats, balance, include/exclude, and the training folder."""
    return render(
        request, "curate/page.html", _context(ctx, jobs) | {"outside": outside_for_page(ctx, jobs)}
    )


@router.post(
    "/projects/{slug}/curate/repeats",
    response_class=HTMLResponse,
    responses=answers(204, 303, 422),
)
def change_repeats(
    request: Request,
    ctx: ProjectDep,
    jobs: JobsDep,
    concept: Annotated[str, Form()],
    repeats: Annotated[int, Form()],
) -> Response:
    """Set how many times each image of a concept is shown per epoch (journaled)."""
    try:
        set_repeats(ctx, concept, repeats)
    except DecisionError as exc:
        return render(request, "curate/page.html", _context(ctx, jobs, error=str(exc)), 422)
    url = str(request.url_for("phase_curate", slug=ctx.project.slug)) + "#concepts"
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


@router.post(
    "/projects/{slug}/curate/images/{image_id}/included",
    response_class=HTMLResponse,
    responses=answers(303, 400),
)
def curate_include(
    request: Request, ctx: ProjectDep, image_id: DbId, included: Annotated[int, Form()]
) -> Response:
    """Include an image in training or leave it out (journaled)."""
    try:
        set_included(ctx, image_id, bool(included))
    except DecisionError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None
    if not is_htmx(request):
        url = str(request.url_for("phase_curate", slug=ctx.project.slug))
        return RedirectResponse(url + f"#curate-image-{image_id}", status_code=303)
    (row,) = rows_by_id(ctx, [image_id])
    return render(request, "curate/_image.html", {"project": ctx.project, "image": row})


@router.post(
    "/projects/{slug}/curate/layout",
    response_class=HTMLResponse,
    responses=answers(204, 303, 409),
)
def write_training_folder(request: Request, ctx: ProjectDep, jobs: JobsDep) -> Response:
    """Write the included images and approved captions in kohya layout (background)."""
    try:
        jobs.start(LAYOUT_JOB, ctx.project.id, title="Writing the training folder")
    except JobBusy as exc:
        message = f"{exc} Wait for it to finish (or cancel it), then try again."
        return render(request, "curate/page.html", _context(ctx, jobs, error=message), 409)
    url = str(request.url_for("phase_curate", slug=ctx.project.slug)) + "#layout"
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)
