"""The numbers diagnosis reasons with (``RunNumbers``), gathered from the project: the
run's config (its ``job.json`` when the run folder has one, else the project's current
config), the step maths over the dataset, the captions' tag frequencies, the loss
series the trainer wrote, and the effect and leak curves of the grid.

``loss_series`` reads the native trainer's JSON-lines events (``{"event": "step",
"loss": ...}``) from ``*.jsonl`` files in a run folder; the lead points it at the Run
record's event file when runs are stored.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from app.evaluation.curves import Curves
from app.training.config import ConfigFileError, TrainingConfig
from app.workspace import ProjectContext

TOP_TAGS = 12
MAX_LOSS_POINTS = 100_000


@dataclass(frozen=True)
class TagCount:
    tag: str
    captions: int  # how many captions hold it
    share: float  # of all captions, 0..1


@dataclass(frozen=True)
class RunNumbers:
    training_type: str
    family: str
    images: int
    views_per_image: float  # how often the average image is seen in the run
    total_steps: int
    unet_lr: float
    text_encoder_lr: float
    train_text_encoder: bool
    rank: int
    alpha: float
    optimizer: str
    mixed_precision: str
    resolution: int
    epochs: int
    captions: int = 0
    trigger_share: float = 1.0  # of the captions that hold the trigger word
    tags: list[TagCount] = field(default_factory=list)  # most frequent first, trigger left out
    loss: list[float | None] = field(default_factory=list)  # None: a step whose loss was NaN
    curves: Curves | None = None


def loss_series(run_dir: Path | None) -> list[float | None]:
    if run_dir is None or not run_dir.is_dir():
        return []
    losses: list[float | None] = []
    for path in sorted(run_dir.glob("*.jsonl")):
        try:
            lines = path.read_text("utf-8", errors="replace").splitlines()
        except OSError:
            continue
        for line in lines[:MAX_LOSS_POINTS]:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict) and event.get("event") == "step" and "loss" in event:
                value = event["loss"]
                number = value if isinstance(value, int | float) else None
                losses.append(number if number is not None and math.isfinite(number) else None)
    return losses


def tag_counts(captions: list[str], trigger: str) -> list[TagCount]:
    """Comma-separated parts of the captions (booru tags; for sentences, the clauses),
    counted once per caption, most frequent first."""
    counts: Counter[str] = Counter()
    for caption in captions:
        parts = {part.strip().lower() for part in caption.split(",")}
        parts.discard("")
        parts.discard(trigger.lower())
        counts.update(parts)
    total = max(1, len(captions))
    return [TagCount(tag, n, n / total) for tag, n in counts.most_common(TOP_TAGS)]


def _run_config(ctx: ProjectContext, run_dir: Path | None) -> TrainingConfig:
    from app.training.job import read_job
    from app.training.project_config import current_config

    if run_dir is not None and (run_dir / "job.json").is_file():
        try:
            return read_job(run_dir / "job.json").config
        except (OSError, ValueError):
            pass
    try:
        return current_config(ctx)
    except ConfigFileError:
        from app.training.project_config import default_config

        return default_config(ctx)


def run_numbers(
    ctx: ProjectContext, run_dir: Path | None = None, curves: Curves | None = None
) -> RunNumbers:
    from app.dataset.inventory import inventory
    from app.evaluation.job import training_captions
    from app.training.steps import plan_steps

    config = _run_config(ctx, run_dir)
    plan = plan_steps(inventory(ctx), config)
    captions = training_captions(ctx)
    trigger = ctx.project.trigger_word.lower()
    with_trigger = sum(1 for caption in captions if trigger in caption.lower())
    return RunNumbers(
        training_type=ctx.project.training_type,
        family=ctx.project.model_family,
        images=plan.images,
        views_per_image=round(plan.views_per_image, 1),
        total_steps=config.max_train_steps or plan.total_steps,
        unet_lr=config.unet_lr,
        text_encoder_lr=config.text_encoder_lr,
        train_text_encoder=config.train_text_encoder,
        rank=config.network_rank,
        alpha=config.network_alpha,
        optimizer=config.optimizer,
        mixed_precision=config.mixed_precision,
        resolution=config.resolution,
        epochs=config.epochs,
        captions=len(captions),
        trigger_share=with_trigger / len(captions) if captions else 1.0,
        tags=tag_counts(captions, ctx.project.trigger_word),
        loss=loss_series(run_dir),
        curves=curves,
    )
