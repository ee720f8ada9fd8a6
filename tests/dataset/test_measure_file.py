"""One read, one decode: what analyze measures, and how it refuses what it must."""

from __future__ import annotations

import hashlib
import io
import time
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps

from app.dataset.jpeg_quality import estimate_quality
from app.dataset.measure_file import (
    MAX_DECODE_PIXELS,
    WORK_SIDE,
    analyze_bytes,
    analyze_path,
    pixel_digest,
    probe_header,
)
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


def test_an_image_too_large_to_decode_is_checked_from_its_header(tmp_path: Path) -> None:
    """A 52-megapixel PNG of a few hundred kilobytes (an 88-megapixel one took 2.5 GB
    and 25 s to audit): PNG cannot be decoded at a reduced size, so past
    ``MAX_DECODE_PIXELS`` only its header is read, and the metrics say so. A JPEG of the
    same size decodes at 1/8 (``draft``) and is measured."""
    side = 7200
    assert side * side > MAX_DECODE_PIXELS
    png = b.flat_png(tmp_path / "huge.png", side, side)
    assert png.stat().st_size < 1024**2
    metrics = analyze_path(str(png), LIMIT)["metrics"]
    assert metrics["kind"] == "image" and (metrics["width"], metrics["height"]) == (side, side)
    assert metrics["unmeasured"] == side * side
    assert metrics["decode_limit"] == MAX_DECODE_PIXELS
    assert "sharpness" not in metrics and "phash" not in metrics
    assert pixel_digest(str(png), LIMIT) is None  # nor for the duplicate comparison

    jpeg = tmp_path / "huge.jpg"
    Image.new("RGB", (side, side), (120, 130, 140)).save(jpeg, quality=90)
    measured = analyze_path(str(jpeg), LIMIT)["metrics"]
    assert "unmeasured" not in measured and measured["luma_mean"] > 100


def test_transparency_is_counted_without_a_full_size_copy_and_agrees(tmp_path: Path) -> None:
    """The histogram count agrees with Pillow's own conversion, for an alpha band, a
    PNG palette with per-index alpha and a GIF's one transparent index."""
    base = b.photo(6, (300, 200))
    rgba = base.convert("RGBA")
    alpha = Image.new("L", base.size, 255)
    alpha.paste(0, (0, 0, 100, 200))  # a third see-through
    alpha.paste(100, (100, 0, 110, 200))  # a strip half see-through
    rgba.putalpha(alpha)
    palette = base.convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    palette.info["transparency"] = bytes([0, 128] + [255] * 14)
    cases = {
        "rgba.png": rgba,
        "la.png": rgba.convert("LA"),
        "palette.png": palette,
        "index.gif": palette.copy(),
    }
    cases["index.gif"].info["transparency"] = 3
    for name, image in cases.items():
        path = tmp_path / name
        image.save(path, **({"transparency": 3} if name.endswith(".gif") else {}))
        with Image.open(path) as reopened:
            converted = np.asarray(reopened.convert("RGBA"))
        expected_alpha = converted[..., 3]
        expected_rgb = converted[..., :3][expected_alpha < 128]
        metrics = analyze_path(str(path), LIMIT)["metrics"]
        expected = round(float((expected_alpha < 255).mean()), 8)
        assert metrics["transparent_fraction"] == expected, name
        if len(expected_rgb):
            under = [int(v) for v in expected_rgb.mean(axis=0).round()]
            assert metrics["under_transparent_rgb"] == under, name


def test_the_pixel_digest_is_the_hash_of_all_the_pixels(tmp_path: Path) -> None:
    """Hashed strip by strip, it stays the digest of the whole image's bytes (what
    audits before it stored), upright and in RGB or RGBA."""
    picture = b.photo(7, (1600, 1300)).convert("RGBA")  # 2 MP: several strips
    path = b.save(picture, tmp_path / "a.png")
    whole = hashlib.sha256(b"RGBA:1600x1300:" + picture.tobytes()).hexdigest()
    assert pixel_digest(str(path), LIMIT) == whole
    rotated = b.exif_rotated_jpeg(tmp_path / "r.jpg")
    with Image.open(rotated) as image:
        upright = ImageOps.exif_transpose(image).convert("RGB")
    expected = hashlib.sha256(
        f"RGB:{upright.width}x{upright.height}:".encode() + upright.tobytes()
    ).hexdigest()
    assert pixel_digest(str(rotated), LIMIT) == expected


def test_files_that_are_not_regular_or_too_large_are_never_read(tmp_path: Path) -> None:
    with b.fifo_watchdog(tmp_path / "pipe.png") as unblocked:
        metrics = analyze_path(str(tmp_path / "pipe.png"), LIMIT)["metrics"]
    assert not unblocked, "the audit opened the named pipe"
    assert metrics == {
        "kind": "unreadable",
        "detail": "it is a named pipe (FIFO), not a regular file",
    }
    padded = b.save(b.photo(1, (64, 64)), tmp_path / "padded.png")
    with open(padded, "r+b") as handle:
        handle.truncate(3 * 1024**2)
    result = analyze_path(str(padded), LIMIT, max_bytes=1024**2)
    assert result["metrics"] == {
        "kind": "too_large",
        "detail": "3.0 MB; one file may hold 1.0 MB",
        "bytes": 3 * 1024**2,
    }
