"""The app as a test server runs it: ``uvicorn --factory tests.worker.server:create``,
settings from LORAGATE_* variables, with the test-only job kinds registered (its
supervisor starts queued jobs of those kinds too)."""

from __future__ import annotations

from fastapi import FastAPI

import tests.worker.kinds  # noqa: F401  (registers the test-only kinds)
from app.main import create_app


def create() -> FastAPI:
    return create_app()
