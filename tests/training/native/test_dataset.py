"""Reading a kohya layout, bucketing, batch order and pixel preparation, as sd-scripts
does them, on real image files."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import torch
from PIL import Image

from app.dataset.buckets import BucketSpec, count_batches
from app.training.native.dataset import (
    check_bucket_multiple,
    dataset_dirs,
    read_dataset,
    tag_frequency,
)
from app.training.native.errors import TrainingError
from app.training.native.order import epoch_batches, optimizer_groups, steps_per_epoch
from app.training.native.pixels import load_pixels
from tests.tiny_models import make_kohya_dataset

SPEC = BucketSpec(resolution=64, min_reso=32, max_reso=128, step=16)


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    """Square, landscape and portrait images in two concept folders."""
    return make_kohya_dataset(
        tmp_path,
        concepts={
            "ink": (3, [(64, 64), (64, 64), (128, 64), (128, 64), (128, 64)]),
            "wash": (1, [(48, 96), (64, 64)]),
        },
    )


def test_reads_repeats_captions_and_sizes(mixed: Path) -> None:
    samples = read_dataset(mixed, "zkstyle", SPEC)
    assert len(samples) == 7
    ink = [s for s in samples if s.folder == "3_ink"]
    assert {s.repeats for s in ink} == {3}
    assert all(s.caption.startswith("zkstyle, ") for s in samples)
    assert dataset_dirs(samples) == {
        "3_ink": {"n_repeats": 3, "img_count": 5},
        "1_wash": {"n_repeats": 1, "img_count": 2},
    }
    assert tag_frequency(samples)["3_ink"]["zkstyle"] == 5


def test_each_image_lands_in_the_bucket_of_its_aspect_ratio(mixed: Path) -> None:
    samples = read_dataset(mixed, "zkstyle", SPEC)
    buckets = {s.relative: s.bucket for s in samples}
    assert buckets["3_ink/ink_000.png"] == (64, 64)
    assert buckets["3_ink/ink_002.png"] == (80, 48)  # 2:1 → the nearest ratio, 5:3
    assert buckets["1_wash/wash_000.png"] == (48, 80)  # 1:2 portrait, nearest ratio


def test_batches_hold_one_bucket_and_match_the_step_maths(mixed: Path) -> None:
    samples = read_dataset(mixed, "zkstyle", SPEC)
    batches = epoch_batches(samples, batch_size=2, seed=1, epoch=0)
    for batch in batches:
        assert len({samples[i].bucket for i in batch}) == 1
    # Every image appears repeats times per epoch.
    seen = Counter(i for batch in batches for i in batch)
    assert all(seen[i] == s.repeats for i, s in enumerate(samples))
    expected = count_batches(((*s.size, s.repeats) for s in samples), SPEC, batch_size=2)
    assert len(batches) == sum(b.batches for b in expected)
    assert steps_per_epoch(samples, 2, accumulation=3) == -(-len(batches) // 3)
    assert len(optimizer_groups(batches, 3)[-1]) == (len(batches) % 3 or 3)


def test_order_depends_on_seed_and_epoch_only(mixed: Path) -> None:
    samples = read_dataset(mixed, "zkstyle", SPEC)
    assert epoch_batches(samples, 2, 1, 0) == epoch_batches(samples, 2, 1, 0)
    assert epoch_batches(samples, 2, 1, 0) != epoch_batches(samples, 2, 1, 1)


def test_no_upscale_keeps_small_images_small(tmp_path: Path) -> None:
    root = make_kohya_dataset(tmp_path, concepts={"ink": (1, [(40, 72)])})
    spec = BucketSpec(resolution=64, min_reso=32, max_reso=128, step=16, no_upscale=True)
    (sample,) = read_dataset(root, "zkstyle", spec)
    assert sample.placement.resized == (40, 72)  # never enlarged
    assert sample.bucket == (32, 64)  # cropped to the step, never padded


def test_pixels_are_resized_then_centre_cropped(tmp_path: Path) -> None:
    root = tmp_path / "1_ink"
    root.mkdir()
    image = Image.new("RGB", (128, 64), (255, 0, 0))
    image.paste((0, 0, 255), (0, 0, 16, 64))  # a blue band at the far left
    image.save(root / "wide.png")
    (sample,) = read_dataset(tmp_path, "zkstyle", BucketSpec(resolution=64, enabled=False))
    pixels, (top, left) = load_pixels(sample)
    assert sample.placement.resized == (128, 64) and sample.bucket == (64, 64)
    assert pixels.shape == (3, 64, 64) and (top, left) == (0, 32)
    # The centre crop drops the blue band: pure red in [-1, 1].
    assert torch.allclose(pixels[:, 32, 32], torch.tensor([1.0, -1.0, -1.0]))
    assert float(pixels[2].max()) == -1.0


def test_transparent_pixels_become_white(tmp_path: Path) -> None:
    root = tmp_path / "1_ink"
    root.mkdir()
    Image.new("RGBA", (64, 64), (0, 0, 0, 0)).save(root / "clear.png")
    (sample,) = read_dataset(tmp_path, "zkstyle", SPEC)
    pixels, _ = load_pixels(sample)
    assert float(pixels.min()) == 1.0


def test_empty_layout_is_a_plain_bad_config(tmp_path: Path) -> None:
    (tmp_path / "images").mkdir()  # no {repeats}_ prefix: not a kohya folder
    with pytest.raises(TrainingError) as caught:
        read_dataset(tmp_path, "zkstyle", SPEC)
    assert caught.value.kind == "bad_config"
    assert "{repeats}_{name}" in caught.value.message


def test_missing_caption_trains_on_the_trigger(mixed: Path) -> None:
    (mixed / "1_wash" / "wash_000.txt").unlink()
    samples = {s.relative: s for s in read_dataset(mixed, "zkstyle", SPEC)}
    assert samples["1_wash/wash_000.png"].caption == "zkstyle"


def test_buckets_the_vae_cannot_encode_are_refused(mixed: Path) -> None:
    samples = read_dataset(
        mixed, "zkstyle", BucketSpec(resolution=64, min_reso=24, max_reso=128, step=12)
    )
    with pytest.raises(TrainingError) as caught:
        check_bucket_multiple(samples, 8)
    assert caught.value.kind == "bad_config" and "multiple of 8" in caught.value.message
    check_bucket_multiple(read_dataset(mixed, "zkstyle", SPEC), 8)  # step 16 is fine
