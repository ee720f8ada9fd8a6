"""The demo's job, in the worker's child process: build the tiny model (once per data
folder), then the import job itself (photos from the staging folder, then the audit)."""

from __future__ import annotations

from typing import Any

from app.curation.tasks import import_job
from app.demo.model import ensure_demo_model
from app.worker import JobHandle


def setup_job(handle: JobHandle) -> dict[str, Any]:
    handle.progress(0, 1, "Building the demo model (random weights, a few MB)")
    model = ensure_demo_model(handle.ctx.settings)
    result = import_job(handle)
    return result | {"model": str(model)}
