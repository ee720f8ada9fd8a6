"""Phase 8 · Environment (Gate 3): the checklist of lights and the button that runs the
checks again."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from app.environment.checklist import GROUPS, group_of
from app.gates.environment import GATE, evaluate
from app.gates.state import gate_state
from app.gates.store import findings_of, record_result
from app.web.deps import ProjectDep
from app.web.templating import is_htmx, render
from app.workspace import ProjectContext

router = APIRouter()


def _view(ctx: ProjectContext) -> dict[str, Any]:
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
    return {"project": ctx.project, "state": state, "groups": groups}


def _status_of(findings: list[Any]) -> str:
    severities = {finding.severity for finding in findings}
    return "block" if "block" in severities else "warn" if "warn" in severities else "pass"


@router.get("/projects/{slug}/environment", response_class=HTMLResponse, name="phase_environment")
def environment_page(request: Request, ctx: ProjectDep) -> Response:
    """The stored result as a checklist; the partial alone for HTMX."""
    template = "environment/_checklist.html" if is_htmx(request) else "environment/page.html"
    return render(request, template, _view(ctx))


@router.get("/projects/{slug}/gates/environment", name="gate_environment")
def environment_gate(request: Request, ctx: ProjectDep) -> Response:
    """Gate 3 lives on the Environment page."""
    return RedirectResponse(
        request.url_for("phase_environment", slug=ctx.project.slug), status_code=303
    )


@router.post(
    "/projects/{slug}/environment/check", response_class=HTMLResponse, name="environment_check"
)
def run_checks(request: Request, ctx: ProjectDep) -> Response:
    """Run every check now, store and journal the result, show it."""
    record_result(ctx, evaluate(ctx))
    if is_htmx(request):
        return render(request, "environment/_checklist.html", _view(ctx))
    return RedirectResponse(
        request.url_for("phase_environment", slug=ctx.project.slug), status_code=303
    )
