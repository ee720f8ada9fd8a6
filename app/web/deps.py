"""What the routers share: the workspace, the project a URL names, and the one bound on
every database id a request carries."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated

from annotated_types import Interval
from fastapi import Depends, Form, HTTPException, Request

from app.models import Project
from app.projects import get_project
from app.workspace import ProjectContext, Workspace

# SQLite stores an integer in at most 8 signed bytes: a larger number from a URL or a
# form reaches the driver as OverflowError (a 500), so every id is bounded before any
# query sees it.
SQLITE_MAX_INT = 2**63 - 1

# An image, job or caption id, in a path (found by name) or inside Form()/Query().
DbId = Annotated[int, Interval(ge=1, le=SQLITE_MAX_INT)]
FormDbId = Annotated[DbId, Form()]
FormDbIds = Annotated[list[DbId], Form()]


def _stored_int(text: str) -> int | None:
    # Length first: int() of a few thousand digits is refused by Python itself.
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(SQLITE_MAX_INT)):
        return None
    number = int(text)
    return number if number <= SQLITE_MAX_INT else None


def id_pairs(items: Iterable[str]) -> list[tuple[int, int]]:
    """Form values like ``12:3`` (image id, caption version) as pairs of numbers SQLite
    can hold; anything else is refused with 400 in words, never passed on."""
    pairs = []
    for item in items:
        first, _, second = item.partition(":")
        image_id, version = _stored_int(first), _stored_int(second)
        if not image_id or version is None:
            raise HTTPException(
                status_code=400,
                detail=f"“{item[:40]}” is not an image this page showed. Reload the page "
                "and try again.",
            )
        pairs.append((image_id, version))
    return pairs


def get_workspace(request: Request) -> Workspace:
    workspace: Workspace = request.app.state.workspace
    return workspace


WorkspaceDep = Annotated[Workspace, Depends(get_workspace)]


def get_project_context(slug: str, workspace: WorkspaceDep) -> ProjectContext:
    project: Project | None = get_project(workspace, slug)
    if project is None:
        raise HTTPException(status_code=404, detail=f"There is no project “{slug}”.")
    return workspace.context(project)


ProjectDep = Annotated[ProjectContext, Depends(get_project_context)]
