"""A project whose studio.md points at a tiny WD14 tagger (the real ONNX graph the
captioner tests build), with images of known colours, for the auto-captioning tests."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from PIL import Image

from app.captions.autocaption import run_job
from app.grimoire import studio_path, update_doc
from app.worker import JobHandle
from app.worker.kinds import KINDS, JobKind, register_kind
from app.worker.queue import cancel
from app.workspace import Workspace
from tests.captions.captioners.conftest import _build_tagger

# Test-only job kind: the real auto-caption run, whose child cancels its own job (the
# real Cancel: the row marked, SIGTERM to its process group) once the first part is in.
CANCEL_AFTER_FIRST_PART = "test.autocaption_cancel_after_first_part"

# Red images get "red shirt"; blue ones "blue sky" and the character "hatsune miku".
COLOURS = [(230, 20, 20), (20, 20, 230)]


def build_tagger(folder: Path) -> Path:
    _build_tagger(folder)
    return folder


def use_tagger(workspace: Workspace, tagger: Path, copy_to: Path | None = None) -> Path:
    """Point studio.md's ``captioners: wd14:`` at the tagger (a private copy when
    ``copy_to`` is given, so a test may take files away)."""
    folder = tagger
    if copy_to is not None:
        folder = copy_to / tagger.name
        shutil.copytree(tagger, folder)

    def mutate(front: Any) -> None:
        front["captioners"]["wd14"] = str(folder)

    update_doc(studio_path(workspace.grimoire_dir), mutate)
    return folder


def coloured_images(folder: Path, count: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        path = folder / f"{index:03d}.png"
        Image.new("RGB", (48, 48), COLOURS[index % 2]).save(path)
        paths.append(path)
    return paths


def run_then_cancel(handle: JobHandle) -> dict[str, Any]:
    report = handle.progress

    def progress(done: int, total: int | None = None, message: str | None = None) -> None:
        report(done, total, message)
        if message == "Captioning" and done:
            cancel(handle.ctx.workspace, handle.id)

    handle.progress = progress  # type: ignore[method-assign]
    return run_job(handle)


register_kind(
    CANCEL_AFTER_FIRST_PART,
    JobKind("tests.captions.autocaption_setup:run_then_cancel", uses=KINDS["captions.auto"].uses),
)
