"""The step count the Config page promises is the one the native trainer runs: both
start from the same images and the same bucketing, through different code paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.dataset.inventory import DatasetItem
from app.training.config import TrainingConfig, bucket_spec
from app.training.native.dataset import read_dataset
from app.training.native.order import steps_per_epoch
from app.training.steps import plan_steps
from tests.tiny_models import make_kohya_dataset


@pytest.mark.parametrize(("batch", "accumulation", "gpus"), [(1, 1, 1), (2, 1, 1), (3, 2, 2)])
def test_config_page_and_trainer_count_the_same_steps(
    tmp_path: Path, batch: int, accumulation: int, gpus: int
) -> None:
    sizes = [(128, 128)] * 5 + [(192, 128)] * 3 + [(128, 256)] * 2
    root = make_kohya_dataset(tmp_path, concepts={"ink": (3, sizes), "wash": (1, sizes[:4])})
    config = TrainingConfig(
        resolution=128,
        min_bucket_reso=64,
        max_bucket_reso=256,
        bucket_reso_steps=32,
        train_batch_size=batch,
        gradient_accumulation_steps=accumulation,
        num_gpus=gpus,
        epochs=4,
    )
    samples = read_dataset(root, "zkstyle", bucket_spec(config))
    items = [DatasetItem(s.relative, s.size[0], s.size[1], s.folder, s.repeats) for s in samples]
    plan = plan_steps(items, config)
    assert len({s.bucket for s in samples}) >= 3  # uneven buckets, the case that matters
    trainer = steps_per_epoch(samples, batch, accumulation, gpus)
    assert plan.steps_per_epoch == trainer
    assert plan.total_steps == trainer * 4
