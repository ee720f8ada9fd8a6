"""Projects with images and caption files, for the caption tests (real files, real
SQLite): ``caption_project`` makes one and returns its context."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PIL import Image

from app.captions.store import load_captions
from app.captions.sync import sync_captions
from app.dataset.inventory import dataset_dir
from app.dataset.records import load_rows
from app.models import Caption
from app.projects import Intent, create_project
from app.workspace import ProjectContext, Workspace

TRIGGER = "zkmira"


def write_images(folder: Path, captions: Sequence[str | None], size: int = 64) -> list[Path]:
    """One small PNG per caption (a different colour each), with its caption file when
    the caption is not None."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, caption in enumerate(captions):
        path = folder / f"{index:03d}.png"
        Image.new("RGB", (size, size), (index * 37 % 256, index * 11 % 256, 120)).save(
            path, compress_level=1
        )
        if caption is not None:
            path.with_suffix(".txt").write_text(caption, encoding="utf-8")
        paths.append(path)
    return paths


def caption_project(
    workspace: Workspace,
    intent: Intent,
    captions: Sequence[str | None],
    *,
    folder: str = "10_mira",
    size: int = 64,
) -> ProjectContext:
    project, _ = create_project(workspace, intent)
    ctx = workspace.context(project)
    write_images(dataset_dir(ctx) / folder, captions, size)
    sync_captions(ctx)
    return ctx


def mira_intent(make_intent, **overrides: str) -> Intent:  # type: ignore[no-untyped-def]
    values = {
        "name": "Mira",
        "training_type": "character",
        "trigger_word": TRIGGER,
        "model_family": "sd15",
        "caption_format": "booru",
        "must_vary": "",
    }
    return make_intent(**(values | overrides))


def caption_of(ctx: ProjectContext, path: str) -> Caption:
    rows = {row.path: row for row in load_rows(ctx)}
    return load_captions(ctx)[rows[path].id or 0]


def image_id(ctx: ProjectContext, path: str) -> int:
    return next(row.id or 0 for row in load_rows(ctx) if row.path == path)


def sidecar(ctx: ProjectContext, path: str) -> Path:
    return (dataset_dir(ctx) / path).with_suffix(".txt")
