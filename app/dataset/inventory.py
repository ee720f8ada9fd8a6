"""What the dataset holds, as other phases need it: every image with its size (after
EXIF rotation), its concept folder, its repeats and whether it is included.

This is the contract between the dataset phases and the config/training phases. It is
read from the project's ``datasetimage`` rows, brought up to date with the folder first
(new files get a row from their header, so no audit is needed), so ``included`` is the
artist's include/exclude decision. Callers rely only on ``inventory``'s result.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the workspace brings the database: `loragate audit DIR` needs neither
    from app.workspace import ProjectContext

DATASET_DIRNAME = "dataset"
# Where `loragate structure` writes the kohya layout ({repeats}_{concept}/ folders with
# approved .txt captions) that every backend's config points at.
LAYOUT_DIRNAME = "kohya"
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff"})
KOHYA_FOLDER = re.compile(r"^(\d+)_(.+)$")


@dataclass(frozen=True)
class DatasetItem:
    path: str  # relative to the dataset folder, POSIX separators
    width: int
    height: int
    concept: str
    repeats: int
    included: bool = True


def dataset_dir(ctx: ProjectContext) -> Path:
    return ctx.dir / DATASET_DIRNAME


def layout_dir(ctx: ProjectContext) -> Path:
    return ctx.dir / LAYOUT_DIRNAME


def concept_of(relative: Path) -> tuple[str, int]:
    """(concept, repeats) from a kohya folder name ``{repeats}_{concept}``; 1 otherwise."""
    if len(relative.parts) > 1:
        match = KOHYA_FOLDER.match(relative.parts[0])
        if match:
            return match.group(2), max(1, int(match.group(1)))
        return relative.parts[0], 1
    return "default", 1


def inventory(ctx: ProjectContext) -> list[DatasetItem]:
    """Every image of the dataset that can be opened, sorted by path."""
    from app.dataset.records import sync_records  # records builds on this module

    if not dataset_dir(ctx).is_dir():
        return []
    items = []
    for path, row in sorted(sync_records(ctx, save=False).items()):
        if row.width is None or row.height is None:
            continue  # not an image (the audit says why)
        if row.analysis_version and row.metrics.get("kind") != "image":
            continue  # opens, but cannot be decoded
        items.append(
            DatasetItem(path, row.width, row.height, row.concept, row.repeats, row.included)
        )
    return items
