"""The training set as sd-scripts reads a kohya layout: ``{repeats}_{concept}/``
folders under the dataset folder, each image with a ``.txt`` caption beside it (first
line only), placed in an aspect-ratio bucket by ``app.dataset.buckets``."""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from app.dataset.buckets import BucketSpec, Placement, place
from app.dataset.inventory import IMAGE_SUFFIXES, KOHYA_FOLDER
from app.training.native.captions import split_tags, trigger_first
from app.training.native.errors import TrainingError
from app.training.native.events import log

EXIF_ORIENTATION = 0x0112


@dataclass(frozen=True)
class Sample:
    path: Path
    relative: str  # to the dataset folder, POSIX separators: what messages name
    folder: str  # the kohya folder, e.g. "10_ink"
    repeats: int
    caption: str  # trigger first
    size: tuple[int, int]  # (width, height) after EXIF rotation
    placement: Placement

    @property
    def bucket(self) -> tuple[int, int]:
        return self.placement.bucket


def read_dataset(root: Path, trigger: str, spec: BucketSpec) -> list[Sample]:
    samples: list[Sample] = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        match = KOHYA_FOLDER.match(folder.name)
        if not match:
            log(f"skipping {folder.name}/: not a kohya folder ({{repeats}}_{{name}})")
            continue
        repeats = max(1, int(match.group(1)))
        for path in sorted(folder.iterdir()):
            if path.suffix.lower() not in IMAGE_SUFFIXES or path.is_symlink() or not path.is_file():
                continue
            relative = path.relative_to(root).as_posix()
            size = image_size(path, relative)
            caption = trigger_first(read_caption(path, relative), trigger)
            samples.append(
                Sample(path, relative, folder.name, repeats, caption, size, place(*size, spec))
            )
    if not samples:
        raise TrainingError(
            "bad_config",
            f"No training images in {root}: expected {{repeats}}_{{name}}/ folders of images "
            "with .txt captions (run the Curate phase to write them).",
        )
    return samples


def image_size(path: Path, relative: str) -> tuple[int, int]:
    """The image's size after EXIF rotation. The whole image is decoded, not just its
    header: a truncated or corrupt file stops the run here, naming it, before the model
    loads, rather than when its batch comes up, possibly epochs into the run."""
    try:
        with Image.open(path) as image:
            image.load()
            width, height = image.size
            if image.getexif().get(EXIF_ORIENTATION, 1) in (5, 6, 7, 8):
                width, height = height, width
    # Pillow reports broken data with many exception types (OSError for a truncated
    # file, SyntaxError for a broken PNG chunk, ValueError, DecompressionBombError ...).
    except Exception as exc:
        raise TrainingError(
            "missing_file",
            f"The training image {relative} cannot be read: {exc}. Replace it with an "
            "intact copy or remove it from the dataset, then run the audit again.",
            {"image": relative},
        ) from exc
    return width, height


def read_caption(image: Path, relative: str) -> str:
    caption_file = image.with_suffix(".txt")
    if not caption_file.is_file():
        log(f"{relative} has no caption file; it trains on the trigger word alone")
        return ""
    try:
        text = caption_file.read_text("utf-8")
    except UnicodeDecodeError:
        raise TrainingError(
            "bad_config",
            f"The caption {caption_file.name} is not UTF-8 text; save it as UTF-8.",
        ) from None
    lines = text.splitlines()
    return lines[0].strip() if lines else ""


def tag_frequency(samples: list[Sample]) -> dict[str, dict[str, int]]:
    """Per kohya folder, how many captions carry each tag (sd-scripts' ss_tag_frequency)."""
    frequency: dict[str, Counter[str]] = {}
    for sample in samples:
        frequency.setdefault(sample.folder, Counter()).update(split_tags(sample.caption))
    return {folder: dict(counts) for folder, counts in frequency.items()}


def dataset_dirs(samples: list[Sample]) -> dict[str, dict[str, int]]:
    """sd-scripts' ss_dataset_dirs: images and repeats per folder."""
    dirs: dict[str, dict[str, int]] = {}
    for sample in samples:
        entry = dirs.setdefault(sample.folder, {"n_repeats": sample.repeats, "img_count": 0})
        entry["img_count"] += 1
    return dirs


def file_digest(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def check_bucket_multiple(samples: list[Sample], multiple: int) -> None:
    """The VAE encodes ``multiple`` × ``multiple`` pixels into one latent: a bucket side
    that is not a multiple of it cannot be encoded whole. (The UNet itself copes with
    latents its down blocks cannot halve evenly.)"""
    small = [s for s in samples if min(s.bucket) < multiple]
    if small:
        names = ", ".join(s.relative for s in small[:3])
        raise TrainingError(
            "bad_config",
            f"{len(small)} image(s) are smaller than {multiple} pixels on a side after "
            f"bucketing without upscaling ({names}); remove them or allow upscaling.",
        )
    bad = sorted({s.bucket for s in samples if s.bucket[0] % multiple or s.bucket[1] % multiple})
    if bad:
        sizes = ", ".join(f"{w}×{h}" for w, h in bad)
        raise TrainingError(
            "bad_config",
            f"Bucket sizes {sizes} are not multiples of {multiple} pixels, which this model "
            f"needs. Set the bucket step to a multiple of {multiple}.",
        )
