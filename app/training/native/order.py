"""The order images are seen in: each epoch, every image × its repeats, grouped by
bucket (a batch holds one bucket only, so all its images have one size), batches
shuffled. The order of an epoch depends only on the seed and the epoch number, and a
checkpoint stores the current epoch's order as well, so a resumed run sees exactly
the batches an uninterrupted one would."""

from __future__ import annotations

import random
from collections.abc import Sequence

from app.training.native.dataset import Sample

Batches = list[list[int]]  # indices into the sample list


def epoch_batches(samples: Sequence[Sample], batch_size: int, seed: int, epoch: int) -> Batches:
    rng = random.Random(f"loragate-order-{seed}-{epoch}")
    by_bucket: dict[tuple[int, int], list[int]] = {}
    for index, sample in enumerate(samples):
        by_bucket.setdefault(sample.bucket, []).extend([index] * sample.repeats)
    batches: Batches = []
    for bucket in sorted(by_bucket):
        members = by_bucket[bucket]
        rng.shuffle(members)
        batches.extend(members[i : i + batch_size] for i in range(0, len(members), batch_size))
    rng.shuffle(batches)
    return batches


def optimizer_groups(batches: Batches, accumulation: int) -> list[Batches]:
    """Batches gathered into optimizer steps of ``accumulation`` batches each; the last
    step of an epoch takes what is left."""
    return [batches[i : i + accumulation] for i in range(0, len(batches), accumulation)]


def steps_per_epoch(
    samples: Sequence[Sample], batch_size: int, accumulation: int, processes: int = 1
) -> int:
    """Optimizer steps per epoch; with several processes each takes an equal share of
    the batches (see ``distributed.shard``)."""
    batches = len(epoch_batches(samples, batch_size, seed=0, epoch=0))
    per_process = -(-batches // processes)
    return -(-per_process // accumulation)
