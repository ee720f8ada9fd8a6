"""The one Jinja2 environment every router renders with, and the HTMX conventions:
a request with ``HX-Request: true`` gets a partial, any other a full page."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import HTMLResponse
from starlette.routing import Route

from app.captions.captioners.base import source_words
from app.demo import DEMO_MODEL_WORDS, is_demo_model
from app.grimoire import file_problems
from app.resources import source_href
from app.settings import PACKAGE_DIR
from app.words import GATE_WORDS, human_bytes, ordinal, plural

templates = Jinja2Templates(directory=PACKAGE_DIR / "templates")  # autoescape is on for .html


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def _route_names(routes: Iterable[object]) -> Iterator[str]:
    for route in routes:
        if isinstance(route, Route):
            yield route.name
            continue
        # FastAPI >= 0.16x includes a router as a wrapper around the original one, and a
        # Mount keeps routes of its own: look inside both.
        inner = getattr(route, "original_router", route)
        yield from _route_names(getattr(inner, "routes", None) or ())


def route_exists(request: Request, name: str) -> bool:
    return name in _route_names(request.app.routes)


def _when(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M} UTC" if value else ""


def grimoire_problems(request: Request) -> list[str]:
    """Why studio.md or eye.md cannot be read, for the notice at the top of every page
    (the files are cached by version, so asking on each page costs two ``stat``s)."""
    workspace = getattr(request.app.state, "workspace", None)
    return file_problems(workspace.grimoire_dir) if workspace is not None else []


templates.env.globals["doc_href"] = source_href
templates.env.globals["is_demo_model"] = is_demo_model
templates.env.globals["demo_model_words"] = DEMO_MODEL_WORDS
templates.env.globals["gate_words"] = GATE_WORDS
templates.env.globals["grimoire_problems"] = grimoire_problems
templates.env.globals["route_exists"] = route_exists
templates.env.filters["when"] = _when
templates.env.filters["captioner_words"] = source_words
templates.env.filters["plural"] = plural
templates.env.filters["human_bytes"] = human_bytes
templates.env.filters["ordinal"] = ordinal


def render(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    return templates.TemplateResponse(
        request, name, context or {}, status_code=status_code, headers=headers
    )


def toast(
    request: Request, message: str, *, status_code: int = 400, kind: str = "error"
) -> HTMLResponse:
    """An error (or notice) swapped out-of-band into #toasts; htmx is told to swap
    4xx responses by static/app.js."""
    return render(
        request, "_toast.html", {"message": message, "kind": kind}, status_code=status_code
    )
