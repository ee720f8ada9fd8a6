"""The quality a JPEG was saved at, estimated from its quantisation tables (in the
header: nothing is decoded).

Encoders built on libjpeg (Pillow, Photoshop's "save for web", most cameras and phones
in practice) scale the example luminance table of the JPEG standard (ITU-T T.81,
Annex K, Table K.1) by a factor derived from the quality setting; libjpeg's
``jpeg_quality_scaling`` gives that factor. Comparing the file's luminance table with
the table each quality 1..100 would produce finds the setting; for Pillow-made files it
matches the ``quality=`` argument exactly. Encoders with their own tables get the
nearest libjpeg quality, which is still a fair measure of how hard they compressed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# ITU-T T.81 Table K.1, in natural (row-major) order, as Pillow reports tables.
STANDARD_LUMINANCE = (
    16, 11, 10, 16, 24, 40, 51, 61,
    12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77,
    24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101,
    72, 92, 95, 98, 112, 100, 103, 99,
)  # fmt: skip


def _table_for(quality: int) -> list[int]:
    # libjpeg jcparam.c: jpeg_quality_scaling, then jpeg_add_quant_table (baseline).
    scale = 5000 // quality if quality < 50 else 200 - quality * 2
    return [min(255, max(1, (value * scale + 50) // 100)) for value in STANDARD_LUMINANCE]


_TABLES = np.array([_table_for(quality) for quality in range(1, 101)], dtype=np.int32)


def estimate_quality(luminance_table: Sequence[int]) -> int | None:
    """1..100, or None when the table is not a 64-entry table."""
    if len(luminance_table) != 64:
        return None
    table = np.asarray(luminance_table, dtype=np.int32)
    distances = np.abs(_TABLES - table).sum(axis=1)
    # Ties (tables clipped at 1 or 255) go to the highest quality that fits.
    best = np.flatnonzero(distances == distances.min())[-1]
    return int(best) + 1
