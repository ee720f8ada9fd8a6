"""Background jobs over HTTP: a progress partial the page polls while the job runs, and
Cancel. Any page that starts a job (``app.jobs``) includes ``jobs/_progress.html``.

HTMX contract:
- GET /projects/{slug}/jobs/{id} → ``jobs/_progress.html`` for #job-{id} (outerHTML).
  While the job runs the partial polls itself every second; with ``?watching=1`` a
  finished job also answers ``HX-Refresh: true`` so the page shows the results.
- POST /projects/{slug}/jobs/{id}/cancel → the same partial (HTMX) or 303 back.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from app.jobs import JobRunner, is_finished
from app.models import Job
from app.web.answers import answers
from app.web.deps import DbId, ProjectDep
from app.web.templating import is_htmx, render

# Every route names a project: 404 when there is none.
router = APIRouter(responses=answers(404))


def get_jobs(request: Request) -> JobRunner:
    runner: JobRunner = request.app.state.jobs
    return runner


JobsDep = Annotated[JobRunner, Depends(get_jobs)]


def _job(jobs: JobRunner, ctx: ProjectDep, job_id: int) -> Job:
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
) -> Response:
    """Partial: where the job stands."""
    job = _job(jobs, ctx, job_id)
    headers = {"HX-Refresh": "true"} if watching and is_finished(job) else None
    return render(
        request, "jobs/_progress.html", {"job": job, "slug": ctx.project.slug}, headers=headers
    )


@router.post(
    "/projects/{slug}/jobs/{job_id}/cancel", response_class=HTMLResponse, responses=answers(303)
)
def cancel_job(request: Request, ctx: ProjectDep, jobs: JobsDep, job_id: DbId) -> Response:
    """Ask the job to stop; work done so far is kept."""
    job = _job(jobs, ctx, job_id)
    jobs.cancel(job_id)
    job = jobs.get(job_id) or job
    if is_htmx(request):
        return render(request, "jobs/_progress.html", {"job": job, "slug": ctx.project.slug})
    return RedirectResponse(
        request.url_for("project_overview", slug=ctx.project.slug), status_code=303
    )
