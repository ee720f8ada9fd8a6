"""What the dataset holds, as other phases need it: every image with its size (after
EXIF rotation), its concept folder, its repeats and whether it is included.

This is the contract between the dataset phases and the config/training phases. Until
the audit records images in SQLite this reads the files on disk; once it does, the
included/excluded state comes from there. Callers rely only on ``inventory``'s result.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

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
    root = dataset_dir(ctx)
    if not root.is_dir():
        return []
    items = []
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() not in IMAGE_SUFFIXES or not path.is_file() or path.is_symlink():
            continue
        try:
            with Image.open(path) as image:  # reads the header only, not the pixels
                width, height = image.size
                if _rotated(image):
                    width, height = height, width
        except (UnidentifiedImageError, OSError):
            continue
        relative = path.relative_to(root)
        concept, repeats = concept_of(relative)
        items.append(DatasetItem(relative.as_posix(), width, height, concept, repeats))
    return items


def _rotated(image: Image.Image) -> bool:
    # EXIF orientations 5-8 swap width and height.
    return image.getexif().get(0x0112, 1) in (5, 6, 7, 8)
