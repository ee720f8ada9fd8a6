from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from app.models import Project
from app.projects import get_project
from app.workspace import ProjectContext, Workspace


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
