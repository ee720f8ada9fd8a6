"""Per-image findings from real files: transparency is reported with its real share,
and a few stray see-through pixels are a note, never a warning."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from app.dataset.measure_file import analyze_bytes
from app.dataset.per_image_checks import TRANSPARENCY_WARN_SHARE, image_findings, share_words
from tests.dataset import builders as b

MAX_PIXELS = 100_000_000


def horse(path: Path, see_through: int) -> Path:
    """A 410 × 320 picture (131,200 pixels) whose first ``see_through`` pixels are clear."""
    image = b.photo(5, (410, 320)).convert("RGBA")
    alpha = np.full(410 * 320, 255, dtype=np.uint8)
    alpha[:see_through] = 0
    image.putalpha(Image.fromarray(alpha.reshape(320, 410)))
    image.save(path)
    return path


def findings_for(path: Path) -> list:  # type: ignore[type-arg]
    metrics = analyze_bytes(path.read_bytes(), MAX_PIXELS)
    alpha_codes = {"image.transparency", "image.slight_transparency", "image.unused_alpha"}
    return [f for f in image_findings(path.name, metrics, "sd15") if f.code in alpha_codes]


def test_a_dozen_stray_pixels_show_their_real_share_and_do_not_warn(tmp_path: Path) -> None:
    (found,) = findings_for(horse(tmp_path / "horse.png", 12))
    assert found.code == "image.slight_transparency" and found.severity == "info"
    assert "0.009%" in found.message and "12 of 131,200 pixels" in found.message
    assert "0%" not in found.message.replace("0.009%", "")
    assert found.why and found.fix and found.source == "dataset-audit#transparency"


def test_a_share_that_matters_warns_with_its_share(tmp_path: Path) -> None:
    pixels = int(131_200 * TRANSPARENCY_WARN_SHARE) + 1_000  # about 0.86%
    (found,) = findings_for(horse(tmp_path / "cutout.png", pixels))
    assert found.code == "image.transparency" and found.severity == "warn"
    assert found.message.startswith("0.9% of cutout.png is see-through (1,131 of 131,200")


def test_shares_read_as_people_write_them() -> None:
    assert [share_words(x) for x in (0.3, 0.025, 0.005, 12 / 131_200, 1e-8, 0.0)] == [
        "30%",
        "2.5%",
        "0.5%",
        "0.009%",
        "under 0.0001%",
        "0%",
    ]
