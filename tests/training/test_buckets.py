"""Bucketing must agree with kohya sd-scripts (library/train_util.py BucketManager)."""

from __future__ import annotations

from app.dataset.buckets import BucketSpec, bucket_resolutions, count_batches, place

SDXL = BucketSpec(resolution=1024, min_reso=256, max_reso=2048, step=64)
SD15 = BucketSpec(resolution=512, min_reso=256, max_reso=1024, step=64)


def test_sd15_buckets_keep_the_area_and_include_the_square() -> None:
    buckets = bucket_resolutions(SD15)
    assert (512, 512) in buckets
    assert (256, 1024) in buckets and (1024, 256) in buckets
    assert (384, 640) in buckets and (640, 384) in buckets  # 640 × (262144 // 640 // 64 * 64)
    assert all(w * h <= 512 * 512 for w, h in buckets)
    assert all(w % 64 == 0 and h % 64 == 0 for w, h in buckets)


def test_square_image_goes_to_the_square_bucket_and_covers_it() -> None:
    placement = place(2000, 2000, SDXL)
    assert placement.bucket == (1024, 1024)
    assert placement.resized == (1024, 1024)


def test_landscape_goes_to_the_nearest_aspect_ratio_and_covers_it() -> None:
    placement = place(1600, 900, SDXL)  # 16:9 → 1.778
    w, h = placement.bucket
    assert (w, h) == (1344, 768)  # 1.75, the closest predefined ratio
    assert placement.resized[0] >= w and placement.resized[1] >= h  # cropped, never padded


def test_no_upscale_never_enlarges_a_small_image() -> None:
    placement = place(700, 500, BucketSpec(resolution=1024, no_upscale=True))
    assert placement.resized == (700, 500)
    assert placement.bucket == (640, 448)


def test_no_upscale_shrinks_a_large_image_to_the_area() -> None:
    placement = place(3000, 2000, BucketSpec(resolution=1024, no_upscale=True))
    w, h = placement.bucket
    assert w * h <= 1024 * 1024 and w % 64 == 0 and h % 64 == 0
    assert abs(placement.resized[0] / placement.resized[1] - 1.5) < 0.01


def test_disabled_bucketing_trains_every_image_square() -> None:
    placement = place(1600, 900, BucketSpec(resolution=512, enabled=False))
    assert placement.bucket == (512, 512)
    assert placement.resized == (910, 512)


def test_uneven_buckets_cost_extra_batches() -> None:
    # 3 square images and 1 landscape, 2 repeats each, batch 4: the squares make 6
    # samples → 2 batches, the landscape 2 samples → 1 batch. 3 batches, not 8/4 = 2.
    images = [(1024, 1024, 2)] * 3 + [(1600, 900, 2)]
    counts = count_batches(images, SDXL, batch_size=4)
    assert [(c.bucket, c.images, c.samples, c.batches) for c in counts] == [
        ((1024, 1024), 3, 6, 2),
        ((1344, 768), 1, 2, 1),
    ]
