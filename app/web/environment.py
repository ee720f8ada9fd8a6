"""Phase 8 · Environment (Gate 3): the checklist of lights and the button that runs the
checks again, in the background.

HTMX contract:
- GET  /projects/{slug}/environment → the page; with HX-Request the
  #environment-checklist partial alone. While a check runs, both show its progress
  (``jobs/_progress.html``, which follows the job's events and reloads the page when the
  check is done).
- POST /projects/{slug}/environment/check → starts the check as a background job (or
  finds the one running); with HX-Request the #environment-checklist partial showing
  it, without it 303 to the page (which refreshes itself without JavaScript too).
"""

from __future__ import annotations

import contextlib
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from app.environment.checklist import GROUPS, group_of
from app.gate_records import findings_of
from app.gates.environment import GATE
from app.gates.environment_job import ENVIRONMENT_JOB
from app.gates.state import gate_state
from app.models import Job
from app.web.answers import ONLY_REDIRECTS, answers
from app.web.deps import ProjectDep
from app.web.jobs import JobsDep
from app.web.templating import is_htmx, render
from app.worker import JobBusy
from app.workspace import ProjectContext

# Every route names a project: 404 when there is none.
router = APIRouter(responses=answers(404))


def _view(ctx: ProjectContext, jobs: JobsDep) -> dict[str, Any]:
    state = gate_state(ctx, GATE)
    groups: list[dict[str, Any]] = []
    if state.record is not None:
        findings = findings_of(state.record)
        stored = {check["key"]: check for check in state.record.stats.get("checks", [])}
        for key, title in GROUPS:
            mine = [finding for finding in findings if group_of(finding) == key]
            check = stored.get(key, {})
            groups.append(
                {
                    "key": key,
                    "title": check.get("title", title),
                    "status": check.get("status", _status_of(mine)),
                    "facts": check.get("facts", []),
                    "findings": mine,
                }
            )
    running = jobs.active(ENVIRONMENT_JOB, ctx.project.id)
    return {
        "project": ctx.project,
        "state": state,
        "groups": groups,
        "job": running or _news(jobs, ctx, state.record),
        "checking": running is not None,
    }


def _news(jobs: JobsDep, ctx: ProjectContext, record: Any) -> Job | None:
    """The last check when it failed, was cancelled or interrupted after the result
    shown: the page says so instead of silently showing the older result."""
    last = jobs.latest(ENVIRONMENT_JOB, ctx.project.id)
    if last is None or last.state == "done":
        return None
    if record is not None and last.updated_at <= record.created_at:
        return None
    return last


def _status_of(findings: list[Any]) -> str:
    severities = {finding.severity for finding in findings}
    return "block" if "block" in severities else "warn" if "warn" in severities else "pass"


@router.get("/projects/{slug}/environment", response_class=HTMLResponse, name="phase_environment")
def environment_page(request: Request, ctx: ProjectDep, jobs: JobsDep) -> Response:
    """The stored result as a checklist, and a running check's progress; the partial
    alone for HTMX."""
    template = "environment/_checklist.html" if is_htmx(request) else "environment/page.html"
    return render(request, template, _view(ctx, jobs))


@router.get(
    "/projects/{slug}/gates/environment",
    name="gate_environment",
    **ONLY_REDIRECTS,
)
def environment_gate(request: Request, ctx: ProjectDep) -> Response:
    """Gate 3 lives on the Environment page."""
    return RedirectResponse(
        request.url_for("phase_environment", slug=ctx.project.slug), status_code=303
    )


@router.post(
    "/projects/{slug}/environment/check",
    response_class=HTMLResponse,
    name="environment_check",
    responses=answers(303),
)
def run_checks(request: Request, ctx: ProjectDep, jobs: JobsDep) -> Response:
    """Start every check in the background; the result is stored and journaled when it
    is done. A second press while one runs shows the running one."""
    with contextlib.suppress(JobBusy):  # the running check is what the page shows
        jobs.start(ENVIRONMENT_JOB, ctx.project.id, title="Checking the environment")
    if is_htmx(request):
        return render(request, "environment/_checklist.html", _view(ctx, jobs))
    return RedirectResponse(
        request.url_for("phase_environment", slug=ctx.project.slug), status_code=303
    )
