"""Per-image findings, from the metrics ``measure_file`` measured (no decoding here)."""

from __future__ import annotations

import math
from pathlib import PurePosixPath
from typing import Any

from app.dataset.buckets import BucketSpec, place
from app.dataset.check_catalogue import finding
from app.dataset.files import IMAGE_SUFFIXES
from app.findings import Finding
from app.intent import MODEL_FAMILIES

# sqrt(width × height) relative to the family's training side. Below FAR_BELOW the image
# is enlarged more than 2× on each side (block); below BELOW, by more than ~10% (warn).
FAR_BELOW = 0.5
BELOW = 0.9
# cleanvision's "odd aspect ratio" threshold is 0.35 (short side / long side).
EXTREME_ASPECT = 1 / 0.35
# Variance of the Laplacian on the working copy (long side WORK_SIDE = 384 pixels).
SHARPNESS_MIN = 30.0
JPEG_QUALITY_MIN = 60
DARK_P95 = 40  # 95% of the pixels darker than this (0-255 luma)
BRIGHT_P5 = 225  # 95% of the pixels brighter than this
LOW_ENTROPY_BITS = 3.0
# Transparency warns from one see-through pixel in a thousand. Below that it cannot be
# learned: the VAE turns each 8×8 block of pixels into one latent cell, so 0.1% of a
# 1024×1024 image is about 16 of its 16,384 cells, a speck the size of one 32×32 square
# spread over a stray fringe (app/docs/dataset-audit.md#transparency). Such images get
# a note that says how little is see-through, never a warning.
TRANSPARENCY_WARN_SHARE = 0.001
TRAINER_FORMATS = frozenset({"JPEG", "MPO", "PNG", "WEBP", "BMP"})
FORMAT_SUFFIXES = {
    "JPEG": (".jpg", ".jpeg"),
    "MPO": (".jpg", ".jpeg"),
    "PNG": (".png",),
    "WEBP": (".webp",),
    "BMP": (".bmp",),
    "GIF": (".gif",),
    "TIFF": (".tif", ".tiff"),
}
_MODE_WORDS = {
    "CMYK": (
        "warn",
        "is in CMYK (print) colours. It will be converted to RGB without its colour "
        "profile, which can shift colours noticeably.",
    ),
    "P": ("info", "uses a colour palette; it will be converted to full RGB (no visible change)."),
    "L": ("info", "is greyscale; it will train as a grey RGB image."),
    "LA": (
        "info",
        "is greyscale with a transparency band; it will train as a grey RGB image, the "
        "band dropped.",
    ),
    "PA": ("info", "uses a colour palette with transparency; it will be converted to RGB."),
    "1": (
        "warn",
        "is pure black and white (1 bit); it will train as a grey RGB image with hard, "
        "jagged edges.",
    ),
    "YCbCr": ("info", "is stored as YCbCr; it will be converted to RGB (no visible change)."),
}


def bucket_spec(family: str) -> BucketSpec:
    """The buckets kohya sd-scripts uses for this family (min 256, max 2× the side)."""
    side = MODEL_FAMILIES[family].resolution if family in MODEL_FAMILIES else 1024
    return BucketSpec(resolution=side, min_reso=256, max_reso=2 * side, step=64)


def size_scale(width: int, height: int, family: str) -> float:
    """sqrt(width × height) relative to the family's training side (1.0: the same area)."""
    side = MODEL_FAMILIES[family].resolution if family in MODEL_FAMILIES else 1024
    return math.sqrt(width * height) / side


def decode_findings(path: str, metrics: dict[str, Any]) -> list[Finding]:
    """Findings for a file that could not be opened as an image (empty when it could)."""
    kind = metrics.get("kind")
    claims_image = PurePosixPath(path).suffix.lower() in IMAGE_SUFFIXES
    detail = metrics.get("detail", "")
    if kind == "image":
        return []
    if kind in ("empty", "not_image") and not claims_image:
        what = "is empty" if kind == "empty" else f"is {detail}, not an image"
        return [finding("file.not_an_image", path, f"{path} {what}; trainers ignore it.")]
    if kind == "empty":
        return [finding("image.empty", path, f"{path} is an empty file (0 bytes).")]
    if kind == "not_image":
        return [
            finding(
                "image.not_an_image", path, f"{path} is named like an image but holds {detail}."
            )
        ]
    if kind == "truncated":
        return [finding("image.truncated", path, f"{path} is cut short: {detail}.")]
    if kind == "bomb":
        pixels = metrics.get("pixels")
        size = metrics.get("stored_size")
        claim = f"{size[0]}×{size[1]} pixels" if size else f"{pixels:,} pixels" if pixels else ""
        return [
            finding(
                "image.decompression_bomb",
                path,
                f"{path} claims {claim or 'an absurd size'}, over the limit for a safe decode; "
                "it was not decoded.",
            )
        ]
    if kind == "too_large":
        return [finding("file.too_large", path, f"{path} is too large to read: {detail}.")]
    if kind == "unreadable":
        return [finding("file.unreadable", path, f"loragate cannot read {path} ({detail}).")]
    return [finding("image.undecodable", path, f"{path} cannot be decoded: {detail}.")]


def image_findings(
    path: str, metrics: dict[str, Any], family: str, buckets: BucketSpec | None = None
) -> list[Finding]:
    """Everything wrong with one decodable image, judged for the given model family
    (and bucketed as ``buckets`` says; None: the family's default)."""
    found = decode_findings(path, metrics)
    if found or metrics.get("kind") != "image":
        return found
    image_format = metrics.get("format", "")
    suffix = PurePosixPath(path).suffix.lower()
    if image_format not in TRAINER_FORMATS:
        found.append(
            finding(
                "image.unsupported_format",
                path,
                f"{path} is a {image_format or 'rare-format'} image; trainers read only PNG, "
                "JPEG, WebP and BMP.",
            )
        )
    elif suffix not in FORMAT_SUFFIXES.get(image_format, (suffix,)):
        found.append(
            finding(
                "image.wrong_extension",
                path,
                f"{path} is a {image_format} image named “{suffix}”.",
            )
        )
    if metrics.get("animated"):
        found.append(
            finding(
                "image.animated",
                path,
                f"{path} is animated ({metrics.get('frames')} frames); only frame 1 will be used.",
            )
        )
    found.extend(_colour_findings(path, metrics))
    found.extend(_geometry_findings(path, metrics, family, buckets))
    if metrics.get("unmeasured"):
        found.append(
            finding(
                "image.not_measured",
                path,
                f"{path} is {metrics['width']}×{metrics['height']} "
                f"({metrics['unmeasured'] / 1e6:.0f} megapixels), more than the "
                f"{metrics.get('decode_limit', 0) / 1e6:.0f} megapixels loragate decodes per "
                "image; "
                "only its header was checked.",
            )
        )
    else:
        found.extend(_quality_findings(path, metrics))
    return found


def _colour_findings(path: str, metrics: dict[str, Any]) -> list[Finding]:
    found = []
    mode = metrics.get("mode", "RGB")
    bit_depth = metrics.get("bit_depth", 8)
    clipped = float(metrics.get("clipped_fraction", 0.0))
    if mode.startswith("I") or mode == "F":
        found.append(
            finding(
                "image.colour_mode",
                path,
                f"{path} is a 16-bit greyscale image. Trainers convert it with Pillow, which "
                f"cuts every value above 255: {clipped:.0%} of its pixels will turn pure white.",
                severity="warn",
                fix="Convert it to 8-bit greyscale or RGB in an image editor (which scales the "
                "values instead of cutting them), then import it again.",
            )
        )
    elif bit_depth == 16:
        found.append(
            finding(
                "image.colour_mode",
                path,
                f"{path} has 16 bits per channel; it will be reduced to 8 bits "
                "(usually invisible, but smooth gradients may band).",
            )
        )
    elif mode in _MODE_WORDS:
        severity, words = _MODE_WORDS[mode]
        found.append(finding("image.colour_mode", path, f"{path} {words}", severity=severity))  # type: ignore[arg-type]
    if metrics.get("alpha_band"):
        found.append(_transparency_finding(path, metrics))
    return found


def share_words(fraction: float) -> str:
    """A share as a percentage a person can read: "30%", "2.5%", "0.009%" (one
    significant digit below 1%, so that a tiny share never reads as 0%)."""
    percent = fraction * 100
    if percent >= 10 or percent == 0:
        return f"{percent:.0f}%"
    if percent >= 1:
        return f"{percent:.1f}".rstrip("0").rstrip(".") + "%"
    return f"{percent:.1g}%" if percent >= 1e-4 else "under 0.0001%"


def _transparency_finding(path: str, metrics: dict[str, Any]) -> Finding:
    fraction = float(metrics.get("transparent_fraction", 0.0))
    if fraction <= 0:
        return finding(
            "image.unused_alpha",
            path,
            f"{path} has a transparency band, but every pixel is opaque.",
        )
    share = share_words(fraction)
    pixels = metrics.get("transparent_pixels")
    total = int(metrics["width"]) * int(metrics["height"])
    counted = f" ({int(pixels):,} of {total:,} pixels)" if pixels else ""
    if fraction < TRANSPARENCY_WARN_SHARE:
        return finding(
            "image.slight_transparency",
            path,
            f"Only {share} of {path} is see-through{counted}: too little to matter.",
        )
    rgb = metrics.get("under_transparent_rgb")
    shown = f" They will show as {_colour_name(rgb)}." if rgb else ""
    return finding(
        "image.transparency",
        path,
        f"{share} of {path} is see-through{counted}; trainers drop transparency.{shown}",
    )


def _colour_name(rgb: list[int]) -> str:
    r, g, b = rgb
    brightness = (r + g + b) / 3
    if max(rgb) - min(rgb) < 24:
        if brightness < 40:
            return f"black (RGB {r}, {g}, {b})"
        if brightness > 215:
            return f"white (RGB {r}, {g}, {b})"
        return f"grey (RGB {r}, {g}, {b})"
    return f"the colour RGB {r}, {g}, {b}"


def _geometry_findings(
    path: str, metrics: dict[str, Any], family: str, buckets: BucketSpec | None
) -> list[Finding]:
    found = []
    width, height = int(metrics["width"]), int(metrics["height"])
    side = MODEL_FAMILIES[family].resolution if family in MODEL_FAMILIES else 1024
    title = MODEL_FAMILIES[family].title if family in MODEL_FAMILIES else family
    if metrics.get("orientation", 1) not in (1, None):
        found.append(
            finding(
                "image.exif_rotated",
                path,
                f"{path} is stored sideways or mirrored (EXIF orientation "
                f"{metrics['orientation']}); shown upright it is {width}×{height}.",
            )
        )
    scale = size_scale(width, height, family)
    if scale < FAR_BELOW:
        found.append(
            finding(
                "image.too_small",
                path,
                f"{path} is {width}×{height} pixels, far below the {side}×{side} "
                f"{title} was trained at (it would be enlarged {1 / scale:.1f}×).",
            )
        )
    elif scale < BELOW:
        found.append(
            finding(
                "image.small",
                path,
                f"{path} is {width}×{height} pixels, below the {side}×{side} {title} was "
                f"trained at (it will be enlarged {1 / scale:.2f}×).",
            )
        )
    ratio = max(width, height) / max(1, min(width, height))
    if ratio > EXTREME_ASPECT:
        placement = place(width, height, buckets or bucket_spec(family))
        bucket_w, bucket_h = placement.bucket
        kept = (bucket_w * bucket_h) / max(1, placement.resized[0] * placement.resized[1])
        found.append(
            finding(
                "image.extreme_aspect",
                path,
                f"{path} is {width}×{height}, a {ratio:.1f}:1 shape. It will train in the "
                f"{bucket_w}×{bucket_h} bucket"
                + (f", with {1 - kept:.0%} of it cropped away." if kept < 0.98 else "."),
            )
        )
    return found


def _quality_findings(path: str, metrics: dict[str, Any]) -> list[Finding]:
    found = []
    sharpness = float(metrics.get("sharpness", 0.0))
    entropy = float(metrics.get("entropy", 8.0))
    if entropy < LOW_ENTROPY_BITS and sharpness < SHARPNESS_MIN:
        found.append(
            finding(
                "image.low_information",
                path,
                f"{path} is nearly uniform ({entropy:.1f} bits of tonal information, "
                "almost no edges).",
            )
        )
    elif sharpness < SHARPNESS_MIN:
        found.append(
            finding(
                "image.blurry",
                path,
                f"{path} looks blurry (sharpness {sharpness:.0f}; loragate expects at "
                f"least {SHARPNESS_MIN:.0f}).",
            )
        )
    quality = metrics.get("jpeg_quality")
    if quality is not None and quality < JPEG_QUALITY_MIN:
        found.append(
            finding(
                "image.jpeg_compressed",
                path,
                f"{path} was saved at JPEG quality about {quality} (heavy compression).",
            )
        )
    if metrics.get("luma_p95", 255) < DARK_P95:
        found.append(finding("image.too_dark", path, f"{path} is almost entirely dark."))
    elif metrics.get("luma_p5", 0) > BRIGHT_P5:
        found.append(finding("image.too_bright", path, f"{path} is almost entirely bright."))
    return found
