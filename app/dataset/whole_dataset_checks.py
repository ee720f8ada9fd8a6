"""Findings about the dataset as a whole: its size against the recommendation, images
much softer than the rest, diversity, colour, buckets, and ignored junk."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from statistics import median
from typing import Any

import numpy as np

from app.dataset.buckets import BucketSpec, place
from app.dataset.check_catalogue import finding
from app.dataset.duplicates import hex_to_int, is_flat
from app.dataset.per_image_checks import BELOW, SHARPNESS_MIN, bucket_spec, size_scale
from app.dataset.sizes import size_advice
from app.findings import Finding
from app.intent import MODEL_FAMILIES, TRAINING_TYPES
from app.words import plural

DATASET_SUBJECT = "."  # the folder itself
# An image this many times less sharp than the dataset's median is an outlier.
BLUR_OUTLIER_FACTOR = 8.0
# Unrelated pictures are ~32 bits apart in pHash; a median under this means look-alikes.
LOW_DIVERSITY_MEDIAN_BITS = 20
SIMILAR_COLOUR_SPREAD = 8.0  # standard deviation of the mean RGB across images (0-255)
MIN_FOR_STATISTICS = 5
DIVERSITY_SAMPLE = 1500

Measured = Sequence[tuple[str, dict[str, Any]]]


def dataset_findings(
    images: Measured,
    training_type: str,
    family: str,
    junk: Sequence[str],
    buckets: BucketSpec | None = None,
) -> list[Finding]:
    """``images``: (path, metrics) of every image that will train; ``buckets``: the
    project's bucketing (None: the family's default)."""
    found = _size_findings(len(images), training_type, family)
    # Images too large to decode have no sharpness, colour or hash to compare.
    measured = [(path, metrics) for path, metrics in images if not metrics.get("unmeasured")]
    if len(measured) >= MIN_FOR_STATISTICS:
        found.extend(_blur_outliers(measured))
        found.extend(_diversity(measured))
    if images:
        found.extend(_family_fit(images, family))
        found.append(_buckets(images, family, buckets))
    if junk:
        shown = ", ".join(junk[:8]) + (f" and {len(junk) - 8} more" if len(junk) > 8 else "")
        found.append(
            finding(
                "dataset.junk_ignored",
                DATASET_SUBJECT,
                f"{plural(len(junk), 'system or hidden file')} ignored: {shown}.",
            )
        )
    return found


def _size_findings(count: int, training_type: str, family: str) -> list[Finding]:
    advice = size_advice(training_type, family)
    kind = TRAINING_TYPES[training_type].title.lower() if training_type in TRAINING_TYPES else ""
    title = MODEL_FAMILIES[family].title if family in MODEL_FAMILIES else family
    article = "an" if kind[:1] in ("a", "e", "i", "o", "u") else "a"
    what = f"{article} {kind} LoRA on {title}" if kind else f"a LoRA on {title}"
    if count == 0:
        return [finding("dataset.empty", DATASET_SUBJECT, "The dataset has no usable images.")]
    if count < advice.floor:
        return [
            finding(
                "dataset.below_floor",
                DATASET_SUBJECT,
                f"{plural(count, 'usable image')}; {what} needs at least "
                f"{advice.floor} (sources recommend {advice.low}–{advice.high}).",
            )
        ]
    if count < advice.low:
        return [
            finding(
                "dataset.below_range",
                DATASET_SUBJECT,
                f"{count} usable images; sources recommend {advice.low}–{advice.high} for {what}.",
            )
        ]
    if count > advice.high:
        return [
            finding(
                "dataset.above_range",
                DATASET_SUBJECT,
                f"{count} usable images; sources usually use {advice.low}–{advice.high} for {what}.",
            )
        ]
    return []


def _fits(images: Measured, family: str) -> int:
    """How many images are not enlarged noticeably for ``family`` (image.small's line)."""
    return sum(
        1
        for _, metrics in images
        if size_scale(int(metrics["width"]), int(metrics["height"]), family) >= BELOW
    )


def _family_fit(images: Measured, family: str) -> list[Finding]:
    """When most images are below the family's resolution, name the family trained at a
    smaller size that most of them fit (the largest such), if there is one."""
    if family not in MODEL_FAMILIES:
        return []
    total = len(images)
    below = total - _fits(images, family)
    if below * 2 <= total:
        return []
    current = MODEL_FAMILIES[family]
    smaller = sorted(
        (f for f in MODEL_FAMILIES.values() if f.resolution < current.resolution),
        key=lambda f: -f.resolution,
    )
    for other in smaller:
        fitting = _fits(images, other.key)
        if fitting * 2 > total:
            return [
                finding(
                    "dataset.family_resolution",
                    DATASET_SUBJECT,
                    f"{below} of {plural(total, 'image')} are below the "
                    f"{current.resolution}×{current.resolution} {current.title} was trained "
                    f"at. {other.title} was trained at {other.resolution}×{other.resolution}: "
                    f"{fitting} of them are large enough for it.",
                    fix=f"If these are the images you have, change the model family to "
                    f"{other.title} (and a base model of that family): on the project's "
                    "overview, “Change answers”; for a folder, audit it with "
                    f"--family {other.key}. Otherwise add larger images.",
                )
            ]
    return []


def _blur_outliers(images: Measured) -> list[Finding]:
    sharpness = [float(metrics.get("sharpness", 0.0)) for _, metrics in images]
    typical = median(sharpness)
    limit = typical / BLUR_OUTLIER_FACTOR
    return [
        finding(
            "image.blurry_for_this_dataset",
            path,
            f"{path} is much softer than the rest of the dataset (sharpness {value:.0f}, "
            f"the dataset's median is {typical:.0f}).",
        )
        for (path, _), value in zip(images, sharpness, strict=True)
        # Below SHARPNESS_MIN the image already has an "image.blurry" finding.
        if SHARPNESS_MIN <= value < limit
    ]


def _diversity(images: Measured) -> list[Finding]:
    found = []
    hashes = [hex_to_int(metrics["phash"]) for _, metrics in images if metrics.get("phash")]
    hashes = [value for value in hashes if not is_flat(value)][:DIVERSITY_SAMPLE]
    if len(hashes) >= MIN_FOR_STATISTICS:
        values = np.array(hashes, dtype=np.uint64)
        upper = np.triu_indices(len(values), k=1)
        distances = np.bitwise_count(values[:, None] ^ values[None, :])[upper]
        typical = float(np.median(distances))
        if typical < LOW_DIVERSITY_MEDIAN_BITS:
            found.append(
                finding(
                    "dataset.low_diversity",
                    DATASET_SUBJECT,
                    f"The images look alike: a typical pair is {typical:.0f} of 64 hash bits "
                    "apart (unrelated pictures are about 32 apart).",
                )
            )
    colours = np.array([metrics.get("mean_rgb", [0, 0, 0]) for _, metrics in images])
    spread = float(colours.std(axis=0).mean())
    if spread < SIMILAR_COLOUR_SPREAD:
        r, g, b = (int(v) for v in colours.mean(axis=0).round())
        found.append(
            finding(
                "dataset.similar_colours",
                DATASET_SUBJECT,
                f"Every image has about the same overall colour (RGB {r}, {g}, {b}).",
            )
        )
    return found


def bucket_counts(images: Measured, family: str, spec: BucketSpec | None = None) -> Counter[str]:
    spec = spec or bucket_spec(family)
    counts: Counter[str] = Counter()
    for _, metrics in images:
        width, height = place(int(metrics["width"]), int(metrics["height"]), spec).bucket
        counts[f"{width}×{height}"] += 1
    return counts


def _buckets(images: Measured, family: str, spec: BucketSpec | None) -> Finding:
    counts = bucket_counts(images, family, spec)
    listed = ", ".join(f"{bucket}: {count}" for bucket, count in counts.most_common(6))
    more = f" and {len(counts) - 6} more" if len(counts) > 6 else ""
    return finding(
        "dataset.aspect_buckets",
        DATASET_SUBJECT,
        f"Your images fall into {plural(len(counts), 'bucket')} ({listed}{more}).",
    )
