"""What changed in the dataset folder outside loragate, for the pages that show it.

A page load only looks (GET never writes); the page offers the "Pick up" button, whose
POST takes the files in (``app.captions.sync.take_in``)."""

from __future__ import annotations

from app.captions.sync import OutsideFiles, outside_files
from app.web.jobs import JobsDep
from app.workspace import ProjectContext


def outside_for_page(ctx: ProjectContext, jobs: JobsDep) -> OutsideFiles | None:
    """None while an import or audit runs: it takes the files in itself."""
    if jobs.active(None, ctx.project.id) is not None:
        return None
    return outside_files(ctx)
