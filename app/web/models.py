"""Models by name on the pages: a catalogue model downloaded (or taken from the Hugging
Face cache) as a ``models.pull`` job, with its progress.

HTMX contract:
- POST /models/pull (model, page) → ``models/_pull.html`` for #model-pull (innerHTML):
  the job's box, following its event stream (/jobs/{id}/events); 422 toast for a name
  the catalogue lacks, 409 toast while another download runs. Without HTMX, 303 to /.
- GET /models/jobs/{id} (page, part) → the box again (``part=body``: its inside, on
  progress). Finished, it says what was added; on the interview (page=interview) it
  also swaps the base-model list out of band with the new model chosen, keeping every
  answer typed so far; on the auto-caption page (page=captions) it answers HX-Refresh.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Query, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from app.hub.catalogue import CatalogueError, find_entry
from app.hub.jobs import PULL_JOB, pull_params, pull_title
from app.models import Job
from app.web.answers import answers
from app.web.deps import DbId, WorkspaceDep
from app.web.jobs import JobsDep
from app.web.templating import is_htmx, render, toast
from app.worker import FINISHED_STATES, JobBusy, Worker

router = APIRouter()
PAGES = ("interview", "captions")


def _context(request: Request, workspace: WorkspaceDep, job: Job, page: str) -> dict[str, Any]:
    context: dict[str, Any] = {"job": job, "page": page}
    if page == "interview" and job.state == "done":
        from app.web.projects import base_model_choices

        context |= base_model_choices(workspace) | {"choice": job.result.get("name", "")}
    return context


def _pull_job(jobs: Worker, job_id: int) -> Job:
    job = jobs.get(job_id)
    if job is None or job.kind != PULL_JOB:
        raise HTTPException(status_code=404, detail="There is no such download.")
    return job


@router.post("/models/pull", response_class=HTMLResponse, responses=answers(303, 409, 422))
def pull_model(
    request: Request,
    workspace: WorkspaceDep,
    jobs: JobsDep,
    model: Annotated[str, Form(max_length=200)] = "",
    page: Annotated[str, Form(max_length=20)] = "interview",
) -> Response:
    """Start getting a catalogue model: from the cache when it is there, else the hub."""
    try:
        entry = find_entry(workspace.settings, model)
        params = pull_params(workspace.settings, model)
        job = jobs.start(PULL_JOB, None, params, title=pull_title(entry))
    except CatalogueError as exc:
        return toast(request, str(exc), status_code=422)
    except JobBusy as exc:
        return toast(request, f"{exc} One download runs at a time.", status_code=409)
    if not is_htmx(request):
        return RedirectResponse(request.url_for("projects"), status_code=303)
    page = page if page in PAGES else "interview"
    return render(request, "models/_pull.html", _context(request, workspace, job, page))


@router.get(
    "/models/jobs/{job_id}",
    response_class=HTMLResponse,
    name="model_pull_progress",
    responses=answers(404),
)
def pull_progress(
    request: Request,
    workspace: WorkspaceDep,
    jobs: JobsDep,
    job_id: DbId,
    page: Annotated[str, Query(max_length=20)] = "interview",
    part: Annotated[str, Query(max_length=10)] = "",
) -> Response:
    """Partial: where the download stands."""
    job = _pull_job(jobs, job_id)
    page = page if page in PAGES else "interview"
    finished = job.state in FINISHED_STATES
    headers = {"HX-Refresh": "true"} if finished and page == "captions" else None
    template = "models/_pull_body.html" if part == "body" else "models/_pull.html"
    return render(request, template, _context(request, workspace, job, page), headers=headers)


@router.post(
    "/models/jobs/{job_id}/cancel",
    response_class=HTMLResponse,
    name="cancel_model_pull",
    responses=answers(303, 404),
)
def cancel_pull(
    request: Request,
    workspace: WorkspaceDep,
    jobs: JobsDep,
    job_id: DbId,
    page: Annotated[str, Form(max_length=20)] = "interview",
) -> Response:
    """Stop a download; the part that arrived stays in the cache for the next try."""
    job = _pull_job(jobs, job_id)
    job = jobs.cancel(job_id) or job
    if not is_htmx(request):
        return RedirectResponse(request.url_for("projects"), status_code=303)
    page = page if page in PAGES else "interview"
    return render(request, "models/_pull.html", _context(request, workspace, job, page))
