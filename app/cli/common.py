"""What every subcommand shares: opening the workspace, printing JSON, failing
with a plain message."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, NoReturn

from app.models import Project
from app.projects import get_project
from app.settings import Settings
from app.workspace import ProjectContext, Workspace


def open_workspace() -> Workspace:
    return Workspace(Settings())


def print_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, ensure_ascii=False, default=str)
    sys.stdout.write("\n")


def fail_usage(message: str) -> NoReturn:
    """Wrong usage: exit 2, like argparse does."""
    sys.stderr.write(f"loragate: {message}\n")
    raise SystemExit(2)


def project_context(workspace: Workspace, slug: str) -> ProjectContext:
    project: Project | None = get_project(workspace, slug)
    if project is None:
        fail_usage(f"there is no project “{slug}” (see `loragate project list`).")
    return workspace.context(project)


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object for machines")
