"""One read, one decode: what analyze measures, and how it refuses what it must."""

from __future__ import annotations

import io
import time
import warnings
from pathlib import Path

from PIL import Image, ImageFile

from app.dataset.analyze import WORK_SIDE, analyze_bytes, analyze_path, pixel_digest, probe_header
from app.dataset.jpeg_quality import estimate_quality
from tests.dataset import builders as b

LIMIT = 89_478_485


def test_jpeg_quality_is_read_from_the_quantisation_tables() -> None:
    image = b.photo(1, (128, 128))
    for quality in (10, 35, 60, 75, 90, 100):
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=quality)
        with Image.open(buffer) as opened:
            assert estimate_quality(opened.quantization[0]) == quality
    assert estimate_quality([1, 2, 3]) is None


def test_a_bomb_is_refused_from_its_header_without_decoding(tmp_path: Path) -> None:
    huge = b.png_claiming(tmp_path / "huge.png", 40000, 40000)
    started = time.perf_counter()
    metrics = analyze_path(str(huge), LIMIT)["metrics"]
    assert metrics["kind"] == "bomb" and metrics["pixels"] == 1_600_000_000
    assert time.perf_counter() - started < 5  # decoding 1.6 gigapixels would take minutes
    # Between 1× and 2× of the limit Pillow only warns: here it is still a bomb.
    metrics = analyze_path(str(b.png_claiming(tmp_path / "big.png", 10000, 12000)), LIMIT)
    assert metrics["metrics"]["kind"] == "bomb"
    # A lower limit of our own is applied from the header too.
    small_limit = analyze_path(str(b.png_claiming(tmp_path / "s.png", 1000, 1000)), 999_999)
    assert small_limit["metrics"]["kind"] == "bomb"
    assert probe_header(str(huge), LIMIT) is None


def test_warning_filters_and_truncation_switch_are_left_alone(tmp_path: Path) -> None:
    before = list(warnings.filters)
    analyze_path(str(b.truncated_jpeg(tmp_path / "t.jpg")), LIMIT)
    analyze_path(str(b.png_claiming(tmp_path / "bomb.png", 12000, 10000)), LIMIT)
    assert list(warnings.filters) == before
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_undecodable_files_say_what_they_are(tmp_path: Path) -> None:
    assert analyze_bytes(b"", LIMIT)["kind"] == "empty"
    assert analyze_bytes(b"<!DOCTYPE html><html></html>", LIMIT)["detail"] == "a web page (HTML)"
    assert analyze_bytes(b"%PDF-1.7 ...", LIMIT)["detail"] == "a PDF document"
    assert analyze_bytes("plain words, ünïcode".encode(), LIMIT)["detail"] == "text"
    truncated = analyze_path(str(b.truncated_jpeg(tmp_path / "t.jpg")), LIMIT)["metrics"]
    assert truncated["kind"] == "truncated" and truncated["format"] == "JPEG"
    png = io.BytesIO()
    b.photo(2, (200, 200)).save(png, "PNG")
    cut_png = analyze_bytes(png.getvalue()[: len(png.getvalue()) // 2], LIMIT)
    assert cut_png["kind"] in ("truncated", "undecodable")


def test_measurements_of_a_decodable_image(tmp_path: Path) -> None:
    metrics = analyze_path(str(b.exif_rotated_jpeg(tmp_path / "r.jpg")), LIMIT)["metrics"]
    assert metrics["kind"] == "image"
    assert (metrics["width"], metrics["height"]) == (600, 800)  # shown upright
    assert metrics["stored_size"] == [800, 600] and metrics["orientation"] == 6
    assert max(metrics["work_size"]) == WORK_SIDE  # measured at the fixed working size
    assert len(metrics["phash"]) == 16 and len(metrics["dhash"]) == 16
    deep = analyze_path(str(b.sixteen_bit_png(tmp_path / "d.png")), LIMIT)["metrics"]
    assert deep["bit_depth"] == 16 and deep["clipped_fraction"] > 0.9
    real = analyze_path(str(b.transparent_png(tmp_path / "a.png", real=True)), LIMIT)["metrics"]
    fake = analyze_path(str(b.transparent_png(tmp_path / "o.png", real=False)), LIMIT)["metrics"]
    assert real["transparent_fraction"] > 0.3 and fake["transparent_fraction"] == 0.0


def test_blur_and_compression_are_measured(tmp_path: Path) -> None:
    sharp = b.photo(3)
    sharp_metrics = analyze_path(str(b.save(sharp, tmp_path / "s.png")), LIMIT)["metrics"]
    soft = analyze_path(str(b.save(b.blurred(sharp), tmp_path / "b.png")), LIMIT)["metrics"]
    assert soft["sharpness"] < sharp_metrics["sharpness"] / 10
    low = analyze_path(str(b.save(sharp, tmp_path / "q.jpg", quality=15)), LIMIT)["metrics"]
    assert low["jpeg_quality"] == 15


def test_content_already_measured_is_not_decoded_again(tmp_path: Path) -> None:
    path = b.save(b.photo(4), tmp_path / "x.png")
    first = analyze_path(str(path), LIMIT)
    again = analyze_path(str(path), LIMIT, frozenset({first["sha256"]}))
    assert again == {"sha256": first["sha256"], "metrics": None}


def test_pixel_digest_compares_pixels_not_bytes(tmp_path: Path) -> None:
    picture = b.photo(5)
    png = b.save(picture, tmp_path / "a.png")
    bmp = b.save(picture, tmp_path / "a.bmp")
    jpeg = b.save(picture, tmp_path / "a.jpg", quality=95)
    assert png.read_bytes() != bmp.read_bytes()
    assert pixel_digest(str(png), LIMIT) == pixel_digest(str(bmp), LIMIT)
    assert pixel_digest(str(png), LIMIT) != pixel_digest(str(jpeg), LIMIT)
    assert pixel_digest(str(b.png_claiming(tmp_path / "bomb.png", 40000, 40000)), LIMIT) is None
