"""Phase 9 · Dry run (Gate 4): the Start button, the trainer's live log while it runs,
and the result: findings, and what it measured beside what was estimated.

HTMX contract:
- GET  /projects/{slug}/dryrun → the page. While a dry run runs it shows its progress
  (``jobs/_progress.html``, which reloads the page at the end) and its live log: the
  job's ``log`` events from the jobs SSE stream (GET /jobs/{id}/events), appended by
  dryrun.js. Without JavaScript the page reloads itself.
- POST /projects/{slug}/dryrun/start → 303 to the page with the dry run started (or
  the running one shown); 409 with the reasons when Gates 1-3 do not all pass now
  (HTMX: the toast).
"""

from __future__ import annotations

import contextlib
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from app.gate_records import findings_of
from app.gates.dryrun import GATE, may_start
from app.gates.dryrun_job import DRYRUN_JOB, DryRunRefused, start_dry_run
from app.gates.state import gate_state
from app.training.dryrun.plan import DEFAULT_STEPS, MAX_STEPS, MIN_STEPS
from app.training.estimates import read_dryrun_measurement
from app.web.answers import ONLY_REDIRECTS, answers
from app.web.deps import ProjectDep
from app.web.jobs import JobsDep
from app.web.templating import is_htmx, render, toast
from app.worker import JobBusy
from app.workspace import ProjectContext

# Every route names a project: 404 when there is none.
router = APIRouter(responses=answers(404))


def _view(ctx: ProjectContext, jobs: JobsDep) -> dict[str, Any]:
    state = gate_state(ctx, GATE)
    running = jobs.active(DRYRUN_JOB, ctx.project.id)
    last = jobs.latest(DRYRUN_JOB, ctx.project.id)
    record = state.record
    # The last job when it failed or was stopped after the result shown.
    news = last if last and last.state != "done" and running is None else None
    if news is not None and record is not None and news.updated_at <= record.created_at:
        news = None
    return {
        "project": ctx.project,
        "state": state,
        "findings": findings_of(record) if record else [],
        "log_tail": record.stats.get("log_tail", []) if record else [],
        "measurement": read_dryrun_measurement(ctx.dir),
        "refusals": may_start(ctx),
        "job": running or news,
        "running": running is not None,
        "steps": {"default": DEFAULT_STEPS, "min": MIN_STEPS, "max": MAX_STEPS},
    }


@router.get("/projects/{slug}/dryrun", response_class=HTMLResponse, name="phase_dryrun")
def dryrun_page(request: Request, ctx: ProjectDep, jobs: JobsDep) -> Response:
    """Gate 4's result, the Start button, and a running dry run's live log."""
    return render(request, "dryrun/page.html", _view(ctx, jobs))


@router.get("/projects/{slug}/gates/dryrun", name="gate_dryrun", **ONLY_REDIRECTS)
def dryrun_gate(request: Request, ctx: ProjectDep) -> Response:
    """Gate 4 lives on the Dry run page."""
    return RedirectResponse(request.url_for("phase_dryrun", slug=ctx.project.slug), 303)


@router.post(
    "/projects/{slug}/dryrun/start",
    response_class=HTMLResponse,
    name="dryrun_start",
    responses=answers(303, 409),
)
def start(
    request: Request,
    ctx: ProjectDep,
    jobs: JobsDep,
    steps: Annotated[int, Form(ge=MIN_STEPS, le=MAX_STEPS)] = DEFAULT_STEPS,
) -> Response:
    """Start the dry run, unless Gates 1-3 do not all pass now (409, with why)."""
    try:
        with contextlib.suppress(JobBusy):  # the running one is what the page shows
            start_dry_run(jobs, ctx, steps)
    except DryRunRefused as exc:
        message = "The dry run did not start: " + " ".join(exc.reasons)
        if is_htmx(request):
            return toast(request, message, status_code=409)
        raise HTTPException(status_code=409, detail=message) from None
    url = request.url_for("phase_dryrun", slug=ctx.project.slug)
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": str(url)})
    return RedirectResponse(url, status_code=303)
