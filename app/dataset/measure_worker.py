"""What runs inside the audit's worker processes, and nothing else: importing it loads
only the analysis (Pillow, NumPy, imagehash), never the database models or the gates.

The fork server preloads this module, so every worker forks with it already imported
and unpickles its functions without importing anything more (``app.dataset.measure_folder``
itself pulls in the duplicate grouping, and through it SQLModel: a third of a second
per worker).
"""

from __future__ import annotations

from typing import Any

from app.dataset.measure_file import analyze_path, pixel_digest

# SHA-256s of contents measured before (set per pool by ``init_worker``): such a file is
# hashed, not decoded again.
_KNOWN: frozenset[str] = frozenset()


def init_worker(known: frozenset[str]) -> None:
    global _KNOWN
    _KNOWN = known


def analyze_batch(paths: list[str], max_pixels: int, max_bytes: int) -> list[dict[str, Any]]:
    return [analyze_path(path, max_pixels, _KNOWN, max_bytes) for path in paths]


def pixel_batch(paths: list[str], max_pixels: int) -> list[str | None]:
    return [pixel_digest(path, max_pixels) for path in paths]
