"""The app factory: settings → workspace (database migrated) → FastAPI with routers,
templates, static files and the security middleware."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, HTTPException, Request
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

    extra_hosts = () if settings.is_loopback else ("*",)
    app.add_middleware(
        SecurityMiddleware, extra_hosts=extra_hosts, access_token=settings.access_token
    )
    return app
