"""A project whose studio.md points at a tiny WD14 tagger (the real ONNX graph the
captioner tests build), with images of known colours, for the auto-captioning tests."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from PIL import Image

from app.grimoire import studio_path, update_doc
from app.workspace import Workspace
from tests.dataset.captioners.conftest import _build_tagger

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
