"""The app factory: settings → workspace (database migrated) → FastAPI with routers,
templates, static files and the security middleware."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException
from starlette.responses import Response

from app.captions.store import MAX_CAPTION_CHARS
from app.settings import PACKAGE_DIR, Settings
from app.web import (
    autocaption,
    bundle,
    captions,
    config,
    curate,
    dataset,
    dataset_curation,
    demo,
    docs,
    dryrun,
    environment,
    evaluation,
    jobs,
    models,
    projects,
    runs,
    studio,
)
from app.web.answers import complete_schema
from app.web.security import SecurityMiddleware
from app.web.templating import is_htmx, render, toast
from app.worker import JobRefused, Worker
from app.workspace import Workspace

ROUTERS = (
    projects.router,
    models.router,
    dataset.router,
    dataset_curation.router,
    autocaption.router,
    captions.router,
    curate.router,
    jobs.router,
    config.router,
    environment.router,
    runs.router,
    dryrun.router,
    evaluation.router,
    studio.router,
    docs.router,
    demo.router,
    bundle.router,
)


# Starlette's form parser refuses a field over 1 MB, or more than 1,000 fields, with an
# HTTPException whose detail is meant for programmers.
FORM_LIMIT_WORDS = {
    "exceeded maximum size": (
        "What you sent is too large for loragate to read (more than 1 MB in one field). "
        f"A caption is at most {MAX_CAPTION_CHARS:,} characters: shorten it and try again."
    ),
    "Too many fields": (
        "The form had too many fields (more than 1,000) for loragate to read: select "
        "fewer images at once."
    ),
    "Too many files": "Too many files were sent at once (more than 1,000): send fewer.",
}
STATUS_WORDS = {
    404: "There is nothing at this address. The link may be out of date.",
    405: "This address does not take that kind of request. Reload the page and try again.",
}


def plain_error(exc: HTTPException) -> str:
    detail = str(exc.detail)
    for fragment, words in FORM_LIMIT_WORDS.items():
        if fragment in detail:
            return words
    if detail in ("Not Found", "Method Not Allowed"):
        return STATUS_WORDS.get(exc.status_code, detail)
    return detail


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    workspace = Workspace(settings)
    worker = Worker(workspace)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Its first pass adopts the jobs a previous server left running; they run on
        # when this server stops (each in its own process group).
        worker.supervisor.start_thread()
        yield
        worker.supervisor.stop()
        workspace.close()

    # No /openapi.json and no /docs UI: the schema is generated (app.openapi()) for the
    # tests and for schema-driven tools, never served to the page.
    app = FastAPI(
        title="loragate", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None
    )

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = complete_schema(
                FastAPI.openapi(app), token_mode=settings.access_token is not None
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    app.state.workspace = workspace
    app.state.jobs = worker
    app.state.settings = settings
    for router in ROUTERS:
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=PACKAGE_DIR / "static"), name="static")

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        # Starlette's own (a form too large to read, an unknown address) included: the
        # artist gets words on a page or a toast, never {"detail": ...}.
        message = plain_error(exc)
        if is_htmx(request):
            return toast(request, message, status_code=exc.status_code)
        return render(
            request,
            "error.html",
            {"status": exc.status_code, "message": message},
            status_code=exc.status_code,
        )

    @app.exception_handler(JobRefused)
    async def job_refused(request: Request, exc: JobRefused) -> Response:
        # A start refused where the page had nothing better to say (the project was
        # archived, deleted or claimed by a command while the page was open).
        if is_htmx(request):
            return toast(request, str(exc), status_code=409)
        return render(request, "error.html", {"status": 409, "message": str(exc)}, status_code=409)

    @app.exception_handler(RequestValidationError)
    async def unreadable_request(request: Request, exc: RequestValidationError) -> Response:
        # A hand-made URL or a form from an old page: say what was wrong in words, never
        # FastAPI's JSON.
        fields = (
            ", ".join(str(error["loc"][-1]) for error in exc.errors() if error.get("loc"))
            or "the request"
        )
        message = (
            f"loragate could not use what was sent ({fields}). Reload the page and try "
            "again; if it keeps happening, the link you followed is out of date."
        )
        if is_htmx(request):
            return toast(request, message, status_code=422)
        return render(request, "error.html", {"status": 422, "message": message}, status_code=422)

    extra_hosts = () if settings.is_loopback else ("*",)
    app.add_middleware(
        SecurityMiddleware, extra_hosts=extra_hosts, access_token=settings.access_token
    )
    return app
