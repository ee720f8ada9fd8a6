"""A tiny SD 1.5-shaped base model (built once per session), a project that trains on it
with real images and captions, and LoRA files in the places a project keeps them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from app.worker.child import JobHandle
from app.worker.eventfile import EventWriter
from app.workspace import ProjectContext, Workspace
from tests.captions.caption_projects import TRIGGER, caption_project, mira_intent
from tests.tiny_models import build_tiny_sd15

CAPTIONS = [f"{TRIGGER}, 1girl, red scarf", f"{TRIGGER}, 1girl, blue coat, smiling"]


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread() -> Iterator[None]:
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def tiny_sd15(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_sd15(tmp_path_factory.mktemp("tiny") / "sd15")


@pytest.fixture
def eval_ctx(workspace: Workspace, make_intent, tiny_sd15: Path) -> ProjectContext:  # type: ignore[no-untyped-def]
    return caption_project(workspace, mira_intent(make_intent, base_model=str(tiny_sd15)), CAPTIONS)


def run_grid(ctx: ProjectContext, params: dict, tmp_path: Path) -> dict:  # type: ignore[type-arg]
    """The job's work function in this process, with a real handle and event file."""
    from app.evaluation.job import grid_job

    writer = EventWriter(tmp_path / "events.jsonl")
    handle = JobHandle(1, params, writer)
    handle.ctx = ctx
    try:
        return grid_job(handle)
    finally:
        writer.close()
