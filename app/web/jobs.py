"""Jobs over HTTP: a progress partial that follows the job's event stream, the stream
itself (SSE), Cancel and Resume. Any page that starts a job (``app.worker``) includes
``jobs/_progress.html``.

HTMX contract:
- GET /projects/{slug}/jobs/{id} → ``jobs/_progress.html`` for #job-{id} (outerHTML).
  While the job runs the partial listens to GET /jobs/{id}/events (htmx's SSE
  extension) and fetches itself again on progress; with ``?watching=1`` a finished
  job also answers ``HX-Refresh: true`` so the page shows the results. Without
  JavaScript it offers a reload link.
- GET /jobs/{id}/events → text/event-stream: stored events after ``Last-Event-ID`` (or
  ``?after=``), then live ones; ids are event row ids; ends after the ``end`` event.
- POST /projects/{slug}/jobs/{id}/cancel → the same partial (HTMX) or 303 back.
- POST /projects/{slug}/jobs/{id}/resume → 303 (``HX-Redirect``) back to the page it
  was started from, the job started again; 409 with the reason when it cannot start.
"""

from __future__ import annotations

from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request
from sse_starlette import EventSourceResponse
from starlette.responses import HTMLResponse, RedirectResponse, Response

from app.models import Job
from app.web.answers import answers, media
from app.web.deps import SQLITE_MAX_INT, DbId, ProjectDep
from app.web.templating import is_htmx, render, toast
from app.worker import FINISHED_STATES, JobBusy, Worker
from app.worker.stream import event_stream

# Every route names a project: 404 when there is none.
router = APIRouter(responses=answers(404))
PING_SECONDS = 15
# The page a job's Resume returns to.
JOB_PAGES = {
    "dataset.import": "phase_import",
    "dataset.audit": "phase_audit",
    "dataset.layout": "phase_curate",
    "captions.sample": "autocaption_page",
    "captions.auto": "autocaption_page",
    "environment.check": "phase_environment",
    "training.dryrun": "phase_dryrun",
    "evaluation.grid": "phase_evaluate",
    "bundle.export": "phase_config",
    "bundle.import": "phase_config",
    "demo.setup": "project_overview",
}


def get_jobs(request: Request) -> Worker:
    worker: Worker = request.app.state.jobs
    return worker


JobsDep = Annotated[Worker, Depends(get_jobs)]


def _job(jobs: Worker, ctx: ProjectDep, job_id: int) -> Job:
    job = jobs.get(job_id)
    if job is None or job.project_id != ctx.project.id:
        raise HTTPException(status_code=404, detail="There is no such job for this project.")
    return job


@router.get("/projects/{slug}/jobs/{job_id}", response_class=HTMLResponse, name="job_progress")
def job_progress(
    request: Request,
    ctx: ProjectDep,
    jobs: JobsDep,
    job_id: DbId,
    watching: Annotated[int, Query()] = 0,
    part: Annotated[str, Query()] = "",
) -> Response:
    """Partial: where the job stands (``part=body``: what is inside its stream's box)."""
    job = _job(jobs, ctx, job_id)
    headers = {"HX-Refresh": "true"} if watching and job.state in FINISHED_STATES else None
    template = "jobs/_body.html" if part == "body" else "jobs/_progress.html"
    return render(request, template, {"job": job, "slug": ctx.project.slug}, headers=headers)


@router.get(
    "/jobs/{job_id}/events",
    name="job_events",
    response_class=EventSourceResponse,
    responses=media(200, "text/event-stream"),
)
async def job_events(
    jobs: JobsDep,
    job_id: DbId,
    after: Annotated[int, Query(ge=0, le=SQLITE_MAX_INT)] = 0,
    last_event_id: Annotated[str | None, Header()] = None,
) -> EventSourceResponse:
    """The job's events as SSE, from after ``Last-Event-ID`` or ``after``."""
    job = await anyio.to_thread.run_sync(jobs.get, job_id)
    if job is None:
        raise HTTPException(status_code=404, detail="There is no such job.")
    if last_event_id is not None and last_event_id.strip().isdigit():
        after = max(after, int(last_event_id.strip()))
    return EventSourceResponse(event_stream(jobs, job_id, after), ping=PING_SECONDS)


@router.post(
    "/projects/{slug}/jobs/{job_id}/cancel", response_class=HTMLResponse, responses=answers(303)
)
def cancel_job(request: Request, ctx: ProjectDep, jobs: JobsDep, job_id: DbId) -> Response:
    """Stop the job (its whole process group); work done so far is kept."""
    job = _job(jobs, ctx, job_id)
    job = jobs.cancel(job_id) or job
    if is_htmx(request):
        return render(request, "jobs/_progress.html", {"job": job, "slug": ctx.project.slug})
    return RedirectResponse(
        request.url_for("project_overview", slug=ctx.project.slug), status_code=303
    )


@router.post(
    "/projects/{slug}/jobs/{job_id}/resume",
    response_class=HTMLResponse,
    responses=answers(204, 303, 409),
)
def resume_job(request: Request, ctx: ProjectDep, jobs: JobsDep, job_id: DbId) -> Response:
    """Start an interrupted or cancelled job again; what it already did is kept."""
    job = _job(jobs, ctx, job_id)
    if job.state not in ("interrupted", "cancelled"):
        raise HTTPException(status_code=409, detail="Only a stopped job can be resumed.")
    try:
        jobs.resume(job)
    except JobBusy as exc:
        message = f"{exc} Wait for it to finish (or cancel it), then resume."
        if is_htmx(request):
            return toast(request, message, status_code=409)
        raise HTTPException(status_code=409, detail=message) from None
    url = str(request.url_for(JOB_PAGES.get(job.kind, "project_overview"), slug=ctx.project.slug))
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)
