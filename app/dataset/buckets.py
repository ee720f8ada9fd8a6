"""Aspect-ratio bucketing as kohya sd-scripts does it (library/train_util.py,
``make_bucket_resolutions`` and ``BucketManager.select_bucket``), so that loragate's step
maths, its native trainer and sd-scripts put every image in the same bucket.

Images are grouped by bucket resolution; each batch holds images of one bucket only.
That is why a bucket with fewer images (× repeats) than the batch size still costs a
whole step, and why the step count depends on the aspect ratios, not only on the
number of images.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

Size = tuple[int, int]  # (width, height)


@dataclass(frozen=True)
class BucketSpec:
    resolution: int  # the side of the square the family trains at (area = resolution²)
    enabled: bool = True
    min_reso: int = 256
    max_reso: int = 1024
    step: int = 64
    no_upscale: bool = False

    @property
    def max_area(self) -> int:
        return self.resolution * self.resolution


@dataclass(frozen=True)
class Placement:
    bucket: Size  # the training size
    resized: Size  # the image is resized to this, then centre-cropped to ``bucket``


def bucket_resolutions(spec: BucketSpec) -> list[Size]:
    """The predefined buckets: every width from min to max in ``step`` strides, paired
    with the largest height that keeps the area within resolution²."""
    found = {_square(spec)}
    width = spec.min_reso
    while width <= spec.max_reso:
        height = min(spec.max_reso, (spec.max_area // width) // spec.step * spec.step)
        if height >= spec.min_reso:
            found.add((width, height))
            found.add((height, width))
        width += spec.step
    return sorted(found)


def _square(spec: BucketSpec) -> Size:
    side = int(math.sqrt(spec.max_area) // spec.step) * spec.step
    return side, side


def place(width: int, height: int, spec: BucketSpec) -> Placement:
    """The bucket an image of this size trains in, and how it is resized to get there."""
    if not spec.enabled:
        side = spec.resolution
        scale = max(side / width, side / height)
        return Placement((side, side), (round(width * scale), round(height * scale)))
    if spec.no_upscale:
        return _place_without_upscaling(width, height, spec)
    aspect = width / height
    buckets = bucket_resolutions(spec)
    if (width, height) in buckets:
        bucket = (width, height)
    else:
        bucket = min(buckets, key=lambda size: abs(size[0] / size[1] - aspect))
    # Scale so the image covers the bucket on both sides; the excess is cropped.
    if aspect > bucket[0] / bucket[1]:
        scale = bucket[1] / height
    else:
        scale = bucket[0] / width
    return Placement(bucket, (int(width * scale + 0.5), int(height * scale + 0.5)))


def _round_to_step(value: float, step: int) -> int:
    rounded = int(value + 0.5)
    return rounded - rounded % step


def _place_without_upscaling(width: int, height: int, spec: BucketSpec) -> Placement:
    aspect = width / height
    if width * height > spec.max_area:
        # Too large: shrink to the maximum area keeping the aspect ratio, rounding
        # whichever side keeps the aspect ratio closer.
        target_w = math.sqrt(spec.max_area * aspect)
        target_h = spec.max_area / target_w
        w_rounded = _round_to_step(target_w, spec.step)
        h_for_w = _round_to_step(w_rounded / aspect, spec.step)
        h_rounded = _round_to_step(target_h, spec.step)
        w_for_h = _round_to_step(h_rounded * aspect, spec.step)
        error_w = abs(w_rounded / h_for_w - aspect) if h_for_w else math.inf
        error_h = abs(w_for_h / h_rounded - aspect) if h_rounded else math.inf
        if error_w < error_h:
            resized = (w_rounded, int(w_rounded / aspect + 0.5))
        else:
            resized = (int(h_rounded * aspect + 0.5), h_rounded)
    else:
        resized = (width, height)
    # The bucket never exceeds the image: crop to a multiple of the step, never pad.
    bucket = (resized[0] - resized[0] % spec.step, resized[1] - resized[1] % spec.step)
    return Placement(bucket, resized)


@dataclass(frozen=True)
class BucketCount:
    bucket: Size
    images: int
    samples: int  # images × repeats
    batches: int


def count_batches(
    images: Iterable[tuple[int, int, int]], spec: BucketSpec, batch_size: int
) -> list[BucketCount]:
    """Per bucket: images, samples (with repeats) and batches of one epoch.

    ``images`` yields (width, height, repeats) of every included image."""
    image_counts: Counter[Size] = Counter()
    sample_counts: Counter[Size] = Counter()
    for width, height, repeats in images:
        bucket = place(width, height, spec).bucket
        image_counts[bucket] += 1
        sample_counts[bucket] += repeats
    return [
        BucketCount(bucket, image_counts[bucket], samples, math.ceil(samples / batch_size))
        for bucket, samples in sorted(sample_counts.items())
    ]
