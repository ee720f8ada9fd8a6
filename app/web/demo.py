"""The demo button of the empty projects page.

No HTMX: POST /demo → 303 to the new demo project's overview, where its job (building
the tiny model, importing and auditing the sample photos) shows its progress; when a
demo project exists already, 303 to that one (nothing is made twice) unless ``fresh``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from starlette.responses import RedirectResponse, Response

from app.demo import DemoRefused
from app.demo.create import DemoExists, start_demo
from app.web.answers import ONLY_REDIRECTS, answers
from app.web.deps import WorkspaceDep
from app.web.jobs import JobsDep

router = APIRouter()


@router.post("/demo", name="demo_create", responses=answers(409), **ONLY_REDIRECTS)
def demo_create(
    request: Request,
    workspace: WorkspaceDep,
    jobs: JobsDep,
    fresh: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """Create the demo project (or open the one that exists)."""
    try:
        started = start_demo(workspace, jobs, fresh=bool(fresh))
    except DemoExists as exc:
        project = exc.project
    except DemoRefused as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from None
    else:
        project = started.project
    url = request.url_for("project_overview", slug=project.slug)
    return RedirectResponse(url, status_code=303)
