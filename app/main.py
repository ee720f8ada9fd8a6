"""The app factory: settings → workspace (database migrated) → FastAPI with routers,
templates, static files and the security middleware."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response

from app.jobs import JobRunner
from app.settings import REPO_ROOT, Settings
from app.web import (
    autocaption,
    captions,
    config,
    curate,
    dataset,
    dataset_curation,
    docs,
    environment,
    jobs,
    projects,
)
from app.web.security import SecurityMiddleware
from app.web.templating import is_htmx, render, toast
from app.workspace import Workspace

ROUTERS = (
    projects.router,
    dataset.router,
    dataset_curation.router,
    autocaption.router,
    captions.router,
    curate.router,
    jobs.router,
    config.router,
    environment.router,
    docs.router,
)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    workspace = Workspace(settings)
    runner = JobRunner(workspace.db)
    runner.recover_interrupted()  # jobs a previous server left running

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        runner.shutdown()
        workspace.close()

    app = FastAPI(
        title="loragate", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None
    )
    app.state.workspace = workspace
    app.state.jobs = runner
    app.state.settings = settings
    for router in ROUTERS:
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=REPO_ROOT / "static"), name="static")

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        message = str(exc.detail)
        if is_htmx(request):
            return toast(request, message, status_code=exc.status_code)
        return render(
            request,
            "error.html",
            {"status": exc.status_code, "message": message},
            status_code=exc.status_code,
        )

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
