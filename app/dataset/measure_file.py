"""Everything the audit measures about one file, from one read and one decode.

Runs in worker processes (``app.dataset.measure_folder``), so it takes plain values and returns a
JSON-able dict. The order is what keeps it fast and safe:

1. read the bytes once (their SHA-256 is the content key of the cache);
2. open the header: format, mode, size, frames, EXIF orientation, JPEG quantisation
   tables. A decompression bomb is refused here, from the header's width × height,
   before any pixel is decoded (``pillow_guard``: Pillow's warning between 1× and 2×
   of its limit becomes an error; a truncated file must fail);
3. decode once, at the size the checks need: JPEG through ``draft()`` (libjpeg scales
   by 1/2, 1/4 or 1/8 while decoding, several times cheaper); other formats decode
   whole, then shrink with ``reduce()``. No format but JPEG can be decoded smaller, so
   an image that would still decode to more than ``MAX_DECODE_PIXELS`` is not decoded
   at all: its header facts stand, and ``unmeasured`` says why the rest is missing
   (the audit turns it into a finding);
4. measure on a working copy whose long side is ``WORK_SIDE`` (384) pixels: sharpness
   (variance of the Laplacian, which depends on scale, hence the fixed size),
   brightness percentiles, entropy, colour, pHash and dHash.

Memory stays near the decoded image itself: nothing full-size is copied into NumPy
arrays or wider types (a 340 KB PNG of 88 megapixels once took 2.5 GB that way); what
must look at every pixel (transparency, clipped 16-bit values, the pixel digest) uses
Pillow's histograms or works in strips. Transparency is judged on the full-size alpha
band (any pixel not opaque), not on the mode. Exact-duplicate candidates get
``pixel_digest``: a hash of the decoded pixels.

Files are opened only when they are regular files (``fsutil.open_regular``): a named
pipe would block the reader forever.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Iterator
from typing import Any

import numpy as np
from PIL import Image, ImageStat, UnidentifiedImageError

from app.dataset.jpeg_quality import estimate_quality
from app.dataset.pillow_guard import BOMB_ERRORS
from app.fsutil import NotRegularFile, open_regular
from app.settings import DEFAULT_MAX_FILE_BYTES
from app.words import human_bytes

ANALYSIS_VERSION = 1
WORK_SIDE = 384
HASH_SIDE = 128  # the copy the perceptual hashes and colour averages start from
# The most pixels one image is decoded to. 50 megapixels is 8660×5770, twelve times what
# SDXL trains at; decoding it takes about 200 MB (RGBA), and up to eight workers decode
# at once. JPEG decodes to 1/8 of its size and below; other formats decode whole.
MAX_DECODE_PIXELS = 50_000_000
STRIP_PIXELS = 1 << 20  # what a strip-wise pass over the pixels copies at once
ANIMATED_FORMATS = frozenset({"GIF", "PNG", "WEBP", "APNG"})
_BOMB_PIXELS = re.compile(r"\((\d+) pixels\)")
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
HIGH_BIT_MODES = frozenset({"I;16", "I;16B", "I;16L", "I;16N", "I", "F"})


def analyze_path(
    path: str,
    max_pixels: int,
    known_sha256: frozenset[str] = frozenset(),
    max_bytes: int = DEFAULT_MAX_FILE_BYTES,
) -> dict[str, Any]:
    """The file's SHA-256 and, unless that content is already known, its metrics. A
    file over ``max_bytes`` (``Settings.max_file_bytes``) is not read."""
    try:
        with open_regular(path) as handle:
            size = handle.seek(0, io.SEEK_END)
            if size > max_bytes:
                detail = f"{human_bytes(size)}; one file may hold {human_bytes(max_bytes)}"
                return {"sha256": None, "metrics": _problem("too_large", detail, bytes=size)}
            handle.seek(0)
            data = handle.read()
    except NotRegularFile as exc:
        return {"sha256": None, "metrics": _problem("unreadable", exc.strerror)}
    except OSError as exc:
        reason = (exc.strerror or str(exc)).lower()
        return {"sha256": None, "metrics": _problem("unreadable", reason)}
    sha256 = hashlib.sha256(data).hexdigest()
    if sha256 in known_sha256:
        return {"sha256": sha256, "metrics": None}
    return {"sha256": sha256, "metrics": analyze_bytes(data, max_pixels)}


def analyze_bytes(data: bytes, max_pixels: int) -> dict[str, Any]:
    if not data:
        return _problem("empty", "0 bytes")
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
    if image.width * image.height > MAX_DECODE_PIXELS:
        facts["unmeasured"] = image.width * image.height
        facts["decode_limit"] = MAX_DECODE_PIXELS
        return facts
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
            facts["clipped_fraction"] = round(_clipped_fraction(image), 4)
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


def _strips(image: Image.Image) -> Iterator[Image.Image]:
    """The image in horizontal strips of about ``STRIP_PIXELS`` (each a small copy)."""
    rows = max(1, STRIP_PIXELS // max(1, image.width))
    for top in range(0, image.height, rows):
        yield image.crop((0, top, image.width, min(image.height, top + rows)))


def _clipped_fraction(image: Image.Image) -> float:
    """The share of pixels above 255, which Pillow's ``convert`` clips to white."""
    if image.getextrema()[1] <= 255:  # type: ignore[operator]
        return 0.0
    above = sum(int(np.count_nonzero(np.asarray(strip) > 255)) for strip in _strips(image))
    return above / (image.width * image.height)


def _alpha_of(image: Image.Image) -> Image.Image | None:
    """The alpha band as an "L" image, or None when the image has none."""
    if image.mode in ("RGBA", "LA", "RGBa", "La", "PA"):
        return image.getchannel("A")
    if "transparency" not in image.info:
        return None
    if image.mode == "P":
        # The palette index's alpha, looked up without an RGBA copy of the image.
        table = _palette_alpha(image.info["transparency"])
        indices = Image.frombytes("L", image.size, image.tobytes())
        return indices.point(table)
    return image.convert("RGBA").getchannel("A")


def _palette_alpha(transparency: Any) -> list[int]:
    """Each palette index's alpha: PNG's tRNS gives one per index (bytes), GIF one
    transparent index (an int)."""
    if isinstance(transparency, bytes):
        return [*transparency, *[255] * (256 - len(transparency))][:256]
    return [0 if index == transparency else 255 for index in range(256)]


def _transparency(image: Image.Image) -> dict[str, Any]:
    """Whether any pixel is not opaque, and the colour trainers will see there: they
    drop the alpha band (``convert("RGB")``), exposing whatever is stored underneath.
    Counted from the alpha band's histogram, averaged under a mask: no full-size copy
    but the band itself."""
    alpha = _alpha_of(image)
    if alpha is None:
        return {"alpha_band": False, "transparent_fraction": 0.0}
    histogram = alpha.histogram()
    total = image.width * image.height
    see_through = total - histogram[255]
    # Eight decimals: a handful of stray pixels in a large image is a share like 0.00009,
    # which the audit shows as it is (and does not warn about).
    result: dict[str, Any] = {
        "alpha_band": True,
        "transparent_fraction": round(see_through / total, 8),
        "transparent_pixels": see_through,
    }
    if sum(histogram[:128]):
        clear = alpha.point([255] * 128 + [0] * 128)
        # Averaged in place where the colour bands are the image's own; a palette
        # image's colours need the palette applied first.
        direct = image.mode in ("RGBA", "RGBa", "RGB", "LA", "La", "L")
        shown = image if direct else image.convert("RGB")
        means = ImageStat.Stat(shown, mask=clear).mean
        grey = shown.mode in ("LA", "La", "L")
        result["under_transparent_rgb"] = [round(v) for v in (means[:1] * 3 if grey else means[:3])]
    return result


def _to_rgb(image: Image.Image, peak: float | None = None) -> Image.Image:
    """8-bit RGB; a high-bit image is scaled by ``peak`` (the full image's: the working
    copy's own peak is lowered by the averaging that shrank it)."""
    if image.mode in HIGH_BIT_MODES:
        array = np.asarray(image).astype(np.float64)
        top = peak if peak is not None else (65535.0 if array.max() > 255 else 255.0)
        grey = np.clip(array / top * 255.0, 0, 255).astype(np.uint8)
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


def _reducible(image: Image.Image) -> Image.Image:
    """A mode ``reduce`` averages correctly and trainers would see: the alpha band
    dropped (as ``convert("RGB")`` does; Pillow's own ``reduce`` of RGBA makes a
    premultiplied full-size copy first), palettes applied, 16-bit values widened."""
    if image.mode in ("RGB", "L", "I", "F"):
        return image
    if image.mode in ("LA", "La"):
        return image.convert("L")
    if image.mode in HIGH_BIT_MODES:
        return image.convert("I")
    return image.convert("RGB")


def _shrunk(image: Image.Image, factor: int) -> Image.Image:
    """``image`` reduced by ``factor`` (box average), converted strip by strip: no
    full-size copy. Strips are whole multiples of ``factor`` rows high, so the result
    is the same as reducing the whole image at once."""
    if factor < 2:
        return _reducible(image)
    rows = factor * max(1, STRIP_PIXELS // (image.width * factor))
    shrunk: Image.Image | None = None
    for top in range(0, image.height, rows):
        strip = _reducible(image.crop((0, top, image.width, min(image.height, top + rows))))
        small = strip.reduce(factor)
        if shrunk is None:
            size = (-(-image.width // factor), -(-image.height // factor))
            shrunk = Image.new(small.mode, size)
        shrunk.paste(small, (0, top // factor))
    assert shrunk is not None
    return shrunk


def _working_copy(image: Image.Image, orientation: int) -> Image.Image:
    """RGB, upright, long side at most WORK_SIDE."""
    peak = None
    if image.mode in HIGH_BIT_MODES:
        peak = 65535.0 if image.getextrema()[1] > 255 else 255.0  # type: ignore[operator]
    work = _to_rgb(_shrunk(image, max(image.size) // WORK_SIDE), peak)
    longest = max(work.size)
    if longest > WORK_SIDE:
        scale = WORK_SIDE / longest
        size = (max(1, round(work.width * scale)), max(1, round(work.height * scale)))
        work = work.resize(size, Image.Resampling.BILINEAR)
    for method in _UPRIGHT.get(orientation, ()):
        work = work.transpose(method)
    return work


def _measure(work: Image.Image) -> dict[str, Any]:
    # Here, not at the top: imagehash brings SciPy (its phash), a quarter of a second that
    # a command which measures no image (the audit of an empty folder) should not pay.
    # A worker pays it once, on its first image.
    import imagehash
    import scipy.fftpack  # noqa: F401  (imagehash.phash imports it lazily)

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
    duplicate candidates, since it needs a full decode; None past ``MAX_DECODE_PIXELS``.
    Hashed strip by strip: the same bytes as ``tobytes()`` of the whole, without its
    full-size copy."""
    try:
        with open_regular(path) as handle, Image.open(handle) as image:
            pixels = image.width * image.height
            if pixels > max_pixels or pixels > MAX_DECODE_PIXELS:
                return None
            image.seek(0)
            image.load()
            upright: Image.Image = image
            for method in _UPRIGHT.get(orientation_of(image), ()):
                upright = upright.transpose(method)  # (exif_transpose always copies)
            has_alpha = upright.mode in ("RGBA", "LA", "PA") or "transparency" in upright.info
            peak = None
            if upright.mode in HIGH_BIT_MODES:
                top = upright.getextrema()[1]
                peak = 65535.0 if top > 255 else 255.0  # type: ignore[operator]
            mode = "RGBA" if has_alpha and peak is None else "RGB"
            digest = hashlib.sha256(f"{mode}:{upright.width}x{upright.height}:".encode())
            for strip in _strips(upright):
                if peak is not None:
                    normal = _to_rgb(strip, peak)
                else:
                    normal = strip if strip.mode == mode else strip.convert(mode)
                digest.update(normal.tobytes())
    except Exception:
        return None
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
