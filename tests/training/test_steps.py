"""Step maths as sd-scripts does it: buckets first, then batches per bucket, then GPUs and
accumulation per epoch, then epochs."""

from __future__ import annotations

from app.dataset.inventory import DatasetItem
from app.training.config import TrainingConfig
from app.training.steps import plan_steps, with_steps


def items(*groups: tuple[int, int, int, int]) -> list[DatasetItem]:
    """groups: (count, width, height, repeats)."""
    found = []
    for count, width, height, repeats in groups:
        for index in range(count):
            found.append(
                DatasetItem(
                    f"{repeats}_x/{width}x{height}-{index}.png", width, height, "x", repeats
                )
            )
    return found


SDXL = TrainingConfig(resolution=1024, max_bucket_reso=2048, bucket_reso_steps=64)


def test_uneven_buckets_cost_more_steps_than_the_naive_formula() -> None:
    dataset = items((5, 1024, 1024, 2), (3, 1600, 900, 2), (1, 900, 1600, 2))
    config = SDXL.model_copy(update={"train_batch_size": 4, "epochs": 10})
    plan = plan_steps(dataset, config)
    # buckets: 10 square samples, 6 wide, 2 tall → ⌈10/4⌉ + ⌈6/4⌉ + ⌈2/4⌉ = 3 + 2 + 1
    assert sorted(b.samples for b in plan.buckets) == [2, 6, 10]
    assert plan.batches_per_epoch == 6
    assert plan.steps_per_epoch == 6 and plan.total_steps == 60
    # images × repeats × epochs ÷ batch alone says ⌈18/4⌉ × 10 = 50: buckets add 10
    assert plan.naive_total_steps == 50 and plan.extra_steps_from_buckets == 10
    assert [b.samples for b in plan.small_buckets] == [2]
    assert plan.formula() == (
        "10 epochs × ⌈(⌈2/4⌉ + ⌈10/4⌉ + ⌈6/4⌉) / 1⌉ = 10 × ⌈6 / 1⌉ = 10 × 6 = 60 steps"
    )
    assert "9 images × their repeats = 18 samples" in plan.naive_formula()


def test_gpus_and_accumulation_divide_batches_per_epoch_rounding_up() -> None:
    dataset = items((7, 1024, 1024, 3))  # 21 samples → 21 batches of 1
    config = SDXL.model_copy(update={"gradient_accumulation_steps": 2, "num_gpus": 2, "epochs": 3})
    plan = plan_steps(dataset, config)
    assert plan.batches_per_epoch == 21
    assert plan.steps_per_epoch == 6  # ⌈21 / (2 × 2)⌉, as train_network.py computes it
    assert plan.total_steps == 18


def test_excluded_images_do_not_count_and_views_per_image() -> None:
    dataset = [
        *items((4, 512, 512, 5)),
        DatasetItem("5_x/out.png", 512, 512, "x", 5, included=False),
    ]
    plan = plan_steps(dataset, TrainingConfig(resolution=512, epochs=8))
    assert plan.images == 4 and plan.samples_per_epoch == 20
    assert plan.views_per_image == 40.0


def test_no_images_is_zero_steps() -> None:
    plan = plan_steps([], SDXL)
    assert (plan.total_steps, plan.images, plan.views_per_image) == (0, 0, 0.0)


def test_with_steps_makes_the_run_length_explicit() -> None:
    plan = plan_steps(items((3, 1024, 1024, 1)), SDXL.model_copy(update={"epochs": 4}))
    assert with_steps(SDXL, plan).max_train_steps == 12
