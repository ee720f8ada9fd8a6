"""Thumbnails for the audit pages: made once per image content (keyed by its SHA-256, so
a changed file gets a new one), cached under the data folder, never from a decompression
bomb or an undecodable file."""

from __future__ import annotations

import io
import os
from pathlib import Path

from PIL import Image, ImageOps

from app.dataset import pillow_guard  # noqa: F401  (its Pillow warning filter)
from app.fsutil import atomic_write_bytes
from app.models import DatasetImage
from app.paths import UnsafePathError, safe_join

THUMB_SIDE = 256
THUMB_FORMAT = "WEBP"
THUMB_MEDIA_TYPE = "image/webp"


def write_thumbnail(source: Path, target: Path, max_pixels: int) -> bool:
    """Decode ``source`` at thumbnail size (never past ``max_pixels``) and write it.
    ``source`` is opened without following a link (O_NOFOLLOW): a file swapped for a
    link is not read."""
    try:
        descriptor = os.open(source, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(descriptor, "rb") as handle, Image.open(handle) as image:
            if image.width * image.height > max_pixels:
                return False
            image.draft("RGB", (THUMB_SIDE, THUMB_SIDE))  # JPEG: decode at 1/2-1/8 size
            image.seek(0)
            image.thumbnail((THUMB_SIDE, THUMB_SIDE), reducing_gap=2.0)
            upright = ImageOps.exif_transpose(image)
            keep_alpha = upright.mode in ("RGBA", "LA", "PA") or "transparency" in upright.info
            shown = upright.convert("RGBA" if keep_alpha else "RGB")
            buffer = io.BytesIO()
            shown.save(buffer, THUMB_FORMAT, quality=80, method=4)
    except Exception:
        return False
    atomic_write_bytes(target, buffer.getvalue())
    return True


def thumbnail_for(
    row: DatasetImage, dataset_root: Path, cache_dir: Path, max_pixels: int
) -> Path | None:
    """The cached thumbnail of this row's image, made on first use; None when the image
    cannot be shown (not measured yet, undecodable, a bomb, or no longer a plain file of
    the dataset: a link put in its place is never followed, wherever it points)."""
    if not row.sha256 or row.metrics.get("kind") != "image":
        return None
    try:
        safe_join(dataset_root, row.path)
    except UnsafePathError:
        return None
    source = dataset_root / row.path  # not resolved: a link must stay a link
    if source.is_symlink() or not source.is_file():
        return None
    target = cache_dir / row.sha256[:2] / f"{row.sha256}-{THUMB_SIDE}.webp"
    if target.is_file():
        return target
    return target if write_thumbnail(source, target, max_pixels) else None
