"""How many optimizer steps a run takes, counted the way kohya sd-scripts counts them
(train_network.py):

- each image is placed in an aspect-ratio bucket and counted ``repeats`` times;
- a batch holds images of one bucket only, so every bucket costs
  ``ceil(samples_in_bucket / batch_size)`` batches: a bucket with fewer samples than the
  batch size still costs a whole batch;
- one epoch is ``ceil(batches / (GPUs × gradient accumulation))`` optimizer steps;
- the run is ``epochs × steps per epoch``.

The native trainer uses the same bucketing (app/dataset/buckets.py), so the number shown
is the number the trainer will run, and every backend gets it written explicitly as
``max_train_steps``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from app.dataset.buckets import BucketCount, count_batches
from app.dataset.inventory import DatasetItem
from app.training.config import TrainingConfig, bucket_spec
from app.words import plural


@dataclass(frozen=True)
class StepPlan:
    images: int
    samples_per_epoch: int  # images × repeats
    buckets: list[BucketCount]
    batches_per_epoch: int
    steps_per_epoch: int
    epochs: int
    total_steps: int
    # What "images × repeats × epochs ÷ (batch × accumulation × GPUs)" alone would give.
    naive_steps_per_epoch: int
    batch_size: int
    accumulation: int
    gpus: int

    @property
    def naive_total_steps(self) -> int:
        return self.naive_steps_per_epoch * self.epochs

    @property
    def extra_steps_from_buckets(self) -> int:
        return self.total_steps - self.naive_total_steps

    @property
    def views_per_image(self) -> float:
        """How many times the average image is seen over the whole run."""
        return self.samples_per_epoch * self.epochs / self.images if self.images else 0.0

    @property
    def small_buckets(self) -> list[BucketCount]:
        """Buckets holding fewer samples than one batch: each still costs a full step."""
        return [bucket for bucket in self.buckets if bucket.samples < self.batch_size]

    def formula(self) -> str:
        """The sum written with this project's numbers, in the order the trainer works."""
        per_bucket = (
            " + ".join(f"⌈{bucket.samples}/{self.batch_size}⌉" for bucket in self.buckets) or "0"
        )
        divisor = self.accumulation * self.gpus
        return (
            f"{plural(self.epochs, 'epoch')} × ⌈({per_bucket}) / {divisor}⌉ = {self.epochs} × "
            f"⌈{self.batches_per_epoch} / {divisor}⌉ = {self.epochs} × "
            f"{self.steps_per_epoch} = {plural(self.total_steps, 'step')}"
        )

    def naive_formula(self) -> str:
        return (
            f"{plural(self.images, 'image')} × their repeats = "
            f"{plural(self.samples_per_epoch, 'sample')}, × {plural(self.epochs, 'epoch')} ÷ "
            f"({self.batch_size} batch × {self.accumulation} accumulation × {plural(self.gpus, 'GPU')}) ≈ {plural(self.naive_total_steps, 'step')}"
        )


def plan_steps(items: Iterable[DatasetItem], config: TrainingConfig) -> StepPlan:
    included = [item for item in items if item.included]
    buckets = count_batches(
        ((item.width, item.height, item.repeats) for item in included),
        bucket_spec(config),
        config.train_batch_size,
    )
    samples = sum(bucket.samples for bucket in buckets)
    batches = sum(bucket.batches for bucket in buckets)
    divisor = config.gradient_accumulation_steps * config.num_gpus
    steps_per_epoch = math.ceil(batches / divisor)
    naive = math.ceil(samples / (config.train_batch_size * divisor))
    return StepPlan(
        images=len(included),
        samples_per_epoch=samples,
        buckets=buckets,
        batches_per_epoch=batches,
        steps_per_epoch=steps_per_epoch,
        epochs=config.epochs,
        total_steps=steps_per_epoch * config.epochs,
        naive_steps_per_epoch=naive,
        batch_size=config.train_batch_size,
        accumulation=config.gradient_accumulation_steps,
        gpus=config.num_gpus,
    )


def with_steps(config: TrainingConfig, plan: StepPlan) -> TrainingConfig:
    """The config with the run length made explicit, as every backend receives it."""
    return config.model_copy(update={"max_train_steps": plan.total_steps})
