"""Everything the audit measures about one file, from one read and one decode.

Runs in worker processes (``app.dataset.measure``), so it takes plain values and returns a
JSON-able dict. The order is what keeps it fast and safe:

1. read the bytes once (their SHA-256 is the content key of the cache);
2. open the header: format, mode, size, frames, EXIF orientation, JPEG quantisation
   tables. A decompression bomb is refused here, from the header's width × height,
   before any pixel is decoded (``pillow_guard``: Pillow's warning between 1× and 2×
   of its limit becomes an error; a truncated file must fail);
3. decode once, at the size the checks need: JPEG through ``draft()`` (libjpeg scales
   by 1/2, 1/4 or 1/8 while decoding, several times cheaper); other formats decode
   whole, then shrink with ``reduce()``;
4. measure on a working copy whose long side is ``WORK_SIDE`` (384) pixels: sharpness
   (variance of the Laplacian, which depends on scale, hence the fixed size),
   brightness percentiles, entropy, colour, pHash and dHash.

Transparency is judged on the full-size alpha band (any pixel not opaque), not on the
mode. Exact-duplicate candidates get ``pixel_digest``: a hash of the decoded pixels.
"""

from __future__ import annotations

import hashlib
import io
import re
from typing import Any

import imagehash
import numpy as np
import scipy.fftpack  # noqa: F401  (imagehash.phash imports it lazily; load it once per worker)
from PIL import Image, ImageOps, ImageStat, UnidentifiedImageError

from app.dataset.jpeg_quality import estimate_quality
from app.dataset.pillow_guard import BOMB_ERRORS, bomb_guard

ANALYSIS_VERSION = 1
WORK_SIDE = 384
HASH_SIDE = 128  # the copy the perceptual hashes and colour averages start from
# Files bigger than this are not read at all: no training image needs 512 MB.
MAX_FILE_BYTES = 512 * 1024**2
ANIMATED_FORMATS = frozenset({"GIF", "PNG", "WEBP", "APNG"})
_BOMB_PIXELS = re.compile(r"\((\d+) pixels\)")
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
HIGH_BIT_MODES = frozenset({"I;16", "I;16B", "I;16L", "I;16N", "I", "F"})


def analyze_path(
    path: str, max_pixels: int, known_sha256: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """The file's SHA-256 and, unless that content is already known, its metrics."""
    try:
        with open(path, "rb") as handle:
            size = handle.seek(0, io.SEEK_END)
            if size > MAX_FILE_BYTES:
                return {"sha256": None, "metrics": _problem("too_large", f"{size} bytes")}
            handle.seek(0)
            data = handle.read()
    except OSError as exc:
        return {"sha256": None, "metrics": _problem("unreadable", exc.strerror or str(exc))}
    sha256 = hashlib.sha256(data).hexdigest()
    if sha256 in known_sha256:
        return {"sha256": sha256, "metrics": None}
    return {"sha256": sha256, "metrics": analyze_bytes(data, max_pixels)}


def analyze_bytes(data: bytes, max_pixels: int) -> dict[str, Any]:
    if not data:
        return _problem("empty", "0 bytes")
    with bomb_guard():
        try:
            image = Image.open(io.BytesIO(data))
        except BOMB_ERRORS as exc:
            match = _BOMB_PIXELS.search(str(exc))
            return _problem("bomb", str(exc), pixels=int(match.group(1)) if match else None)
        except UnidentifiedImageError:
            return _problem("not_image", describe_content(data))
        except Exception as exc:  # a malformed header can raise almost anything
            return _problem("undecodable", _reason(exc))
        with image:
            return _analyze_image(image, data, max_pixels)


def _analyze_image(image: Image.Image, data: bytes, max_pixels: int) -> dict[str, Any]:
    stored_w, stored_h = image.size
    facts: dict[str, Any] = {
        "kind": "image",
        "format": image.format or "",
        "mode": image.mode,
        "stored_size": [stored_w, stored_h],
        "width": stored_w,
        "height": stored_h,
    }
    if stored_w <= 0 or stored_h <= 0:
        return _problem("undecodable", "the header gives a zero width or height", facts)
    if stored_w * stored_h > max_pixels:
        return _problem("bomb", "header size over the limit", facts, pixels=stored_w * stored_h)
    orientation = orientation_of(image)
    facts["orientation"] = orientation
    if orientation in (5, 6, 7, 8):
        facts["width"], facts["height"] = stored_h, stored_w
    facts["frames"] = int(getattr(image, "n_frames", 1) or 1)
    facts["animated"] = bool(getattr(image, "is_animated", False)) and (
        facts["format"] in ANIMATED_FORMATS
    )
    facts["bit_depth"] = _bit_depth(image, data)
    facts["icc"] = bool(image.info.get("icc_profile"))
    if facts["format"] in ("JPEG", "MPO"):
        tables = getattr(image, "quantization", None) or {}
        facts["jpeg_quality"] = estimate_quality(tables[0]) if 0 in tables else None
        scale = WORK_SIDE / max(stored_w, stored_h)
        if scale < 1:
            image.draft(None, (max(1, int(stored_w * scale)), max(1, int(stored_h * scale))))
    try:
        image.seek(0)
        image.load()
    except Exception as exc:
        reason = _reason(exc)
        kind = "truncated" if "truncat" in reason.lower() or "eof" in reason.lower() else None
        return _problem(kind or "undecodable", reason, facts)
    try:
        if image.mode in HIGH_BIT_MODES:
            # Pillow's convert("RGB"), which trainers call, clips these values at 255.
            facts["clipped_fraction"] = round(float((np.asarray(image) > 255).mean()), 4)
        facts.update(_transparency(image))
        work = _working_copy(image, orientation)
        facts.update(_measure(work))
    except Exception as exc:  # a decoder that "loaded" garbage
        return _problem("undecodable", _reason(exc), facts)
    return facts


def orientation_of(image: Image.Image) -> int:
    """The EXIF orientation (1 = upright) without decoding pixels. Pillow's PNG
    ``getexif()`` decodes the whole image to look for a late eXIf chunk; only the
    header's chunk is read here."""
    try:
        if image.format == "PNG":
            raw = image.info.get("exif")
            if not raw:
                return 1
            exif = Image.Exif()
            exif.load(raw)
        else:
            exif = image.getexif()
        return int(exif.get(0x0112, 1) or 1)
    except Exception:
        return 1


def _bit_depth(image: Image.Image, data: bytes) -> int:
    if data[:8] == _PNG_SIGNATURE and data[12:16] == b"IHDR":
        return int(data[24])  # IHDR bit depth per channel
    return 16 if image.mode in HIGH_BIT_MODES else 8


def _transparency(image: Image.Image) -> dict[str, Any]:
    """Whether any pixel is not opaque, and the colour trainers will see there: they
    drop the alpha band (``convert("RGB")``), exposing whatever is stored underneath."""
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image if image.mode == "RGBA" else image.convert("RGBA")
    elif "transparency" in image.info:
        rgba = image.convert("RGBA")
    else:
        return {"alpha_band": False, "transparent_fraction": 0.0}
    alpha = np.asarray(rgba.getchannel("A"))
    see_through = alpha < 255
    fraction = float(see_through.mean())
    # Eight decimals: a handful of stray pixels in a large image is a share like 0.00009,
    # which the audit shows as it is (and does not warn about).
    result: dict[str, Any] = {
        "alpha_band": True,
        "transparent_fraction": round(fraction, 8),
        "transparent_pixels": int(see_through.sum()),
    }
    clear = alpha < 128
    if clear.any():
        shown = np.asarray(image.convert("RGB"))[clear]
        result["under_transparent_rgb"] = [int(v) for v in shown.mean(axis=0).round()]
    return result


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in HIGH_BIT_MODES:
        array = np.asarray(image).astype(np.float64)
        peak = 65535.0 if array.max() > 255 else 255.0
        grey = np.clip(array / peak * 255.0, 0, 255).astype(np.uint8)
        return Image.fromarray(grey, "L").convert("RGB")
    return image if image.mode == "RGB" else image.convert("RGB")


# What ImageOps.exif_transpose does for each EXIF orientation.
_UPRIGHT = {
    2: (Image.Transpose.FLIP_LEFT_RIGHT,),
    3: (Image.Transpose.ROTATE_180,),
    4: (Image.Transpose.FLIP_TOP_BOTTOM,),
    5: (Image.Transpose.TRANSPOSE,),
    6: (Image.Transpose.ROTATE_270,),
    7: (Image.Transpose.TRANSVERSE,),
    8: (Image.Transpose.ROTATE_90,),
}
_REDUCIBLE = frozenset({"L", "RGB", "RGBA", "LA", "CMYK", "I", "F"})


def _working_copy(image: Image.Image, orientation: int) -> Image.Image:
    """RGB, upright, long side at most WORK_SIDE."""
    if image.mode not in _REDUCIBLE and image.mode not in HIGH_BIT_MODES:
        image = image.convert("RGB")  # palette and 1-bit images cannot be reduced
    factor = max(image.size) // WORK_SIDE
    if factor >= 2 and image.mode in _REDUCIBLE:
        image = image.reduce(factor)
    work = _to_rgb(image)
    longest = max(work.size)
    if longest > WORK_SIDE:
        scale = WORK_SIDE / longest
        size = (max(1, round(work.width * scale)), max(1, round(work.height * scale)))
        work = work.resize(size, Image.Resampling.BILINEAR)
    for method in _UPRIGHT.get(orientation, ()):
        work = work.transpose(method)
    return work


def _measure(work: Image.Image) -> dict[str, Any]:
    grey = work.convert("L")
    luma = np.asarray(grey, dtype=np.float32)
    if luma.shape[0] >= 3 and luma.shape[1] >= 3:
        laplacian = (
            luma[1:-1, :-2] + luma[1:-1, 2:] + luma[:-2, 1:-1] + luma[2:, 1:-1]
        ) - 4.0 * luma[1:-1, 1:-1]
        sharpness = float(laplacian.var())
    else:
        sharpness = 0.0
    histogram = np.asarray(grey.histogram(), dtype=np.float64)
    total = histogram.sum()
    cumulative = np.cumsum(histogram) / total
    probabilities = histogram[histogram > 0] / total
    entropy = max(0.0, float(-(probabilities * np.log2(probabilities)).sum()))  # no -0.0
    # Colour is judged on a small copy: averages do not need every pixel.
    factor = max(1, max(work.size) // HASH_SIDE)
    small = work.reduce(factor) if factor > 1 else work
    hash_input = grey.reduce(factor) if factor > 1 else grey
    saturation = ImageStat.Stat(small.convert("HSV").getchannel("S")).mean[0] / 255.0
    return {
        "work_size": [work.width, work.height],
        "sharpness": round(sharpness, 2),
        "luma_p5": int(np.searchsorted(cumulative, 0.05)),
        "luma_p95": int(np.searchsorted(cumulative, 0.95)),
        "luma_mean": round(float(luma.mean()), 2),
        "entropy": round(entropy, 3),
        "saturation": round(saturation, 4),
        "mean_rgb": [round(value, 1) for value in ImageStat.Stat(small).mean[:3]],
        # Both hashes shrink a greyscale copy to 32×32 and 9×8 pixels: start them from
        # a small one (a LANCZOS shrink costs in proportion to its input).
        "phash": str(imagehash.phash(hash_input)),
        "dhash": str(imagehash.dhash(hash_input)),
    }


def pixel_digest(path: str, max_pixels: int) -> str | None:
    """SHA-256 of the decoded, upright pixels (mode and size included): equal for two
    files that show exactly the same picture, whatever their format. Only computed for
    duplicate candidates, since it needs a full decode."""
    with bomb_guard():
        try:
            with Image.open(path) as image:
                if image.width * image.height > max_pixels:
                    return None
                image.seek(0)
                image.load()
                upright = ImageOps.exif_transpose(image)
                has_alpha = upright.mode in ("RGBA", "LA", "PA") or "transparency" in upright.info
                if upright.mode in HIGH_BIT_MODES:
                    normal = _to_rgb(upright)
                else:
                    normal = upright.convert("RGBA" if has_alpha else "RGB")
        except Exception:
            return None
    digest = hashlib.sha256(f"{normal.mode}:{normal.width}x{normal.height}:".encode())
    digest.update(normal.tobytes())
    return digest.hexdigest()


def describe_content(data: bytes) -> str:
    """What a file that is not an image seems to be, in plain words."""
    head = data[:512]
    lowered = head.lstrip().lower()
    if lowered.startswith((b"<!doctype html", b"<html")):
        return "a web page (HTML)"
    if head.startswith(b"%PDF"):
        return "a PDF document"
    if head.startswith(b"PK\x03\x04"):
        return "a zip archive"
    if head.startswith((b"\x1f\x8b", b"7z\xbc\xaf", b"Rar!")):
        return "a compressed archive"
    if b"\x00" not in head:
        try:
            head.decode("utf-8")
            return "text"
        except UnicodeDecodeError as exc:
            if exc.start >= len(head) - 3:  # a character cut by the 512-byte window
                return "text"
    return "data in a format no image reader recognises"


def _problem(
    kind: str, detail: str, facts: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    return (facts or {}) | extra | {"kind": kind, "detail": detail}


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    return text or exc.__class__.__name__


def probe_header(path: str, max_pixels: int) -> dict[str, Any] | None:
    """Format, mode and upright size from the header alone; None when the file is not an
    image Pillow can open (or claims a bomb's size)."""
    with bomb_guard():
        try:
            with Image.open(path) as image:
                width, height = image.size
                if width * height > max_pixels or width <= 0 or height <= 0:
                    return None
                if orientation_of(image) in (5, 6, 7, 8):
                    width, height = height, width
                return {
                    "format": image.format or "",
                    "mode": image.mode,
                    "width": width,
                    "height": height,
                }
        except Exception:
            return None
