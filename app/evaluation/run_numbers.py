"""The numbers diagnosis reasons with (``RunNumbers``), gathered from the project: the
run's config, the step maths over the dataset, the captions' tag frequencies, the loss
series the run stored, and the effect and leak curves of the grid.

A run's facts come from its Run record (app/runs), the one place a run trained here or
imported from a rented GPU keeps them: its config with the OOM ladder's rungs applied
(what really trained) and the loss of each step event it stored. A LoRA from elsewhere
(an ``output/`` folder, ``loras/``) has no run: the project's current config stands in.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from app.evaluation.curves import Curves
from app.evaluation.loras import LoraFile, run_number
from app.models import Run
from app.runs.ladder import with_rungs
from app.runs.records import get_run
from app.runs.stream import step_losses
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
    loss_smoothed: bool = False  # ``loss`` is the trainer's running average (sd-scripts)
    curves: Curves | None = None


def run_of(ctx: ProjectContext, lora: LoraFile | None) -> Run | None:
    """The Run record a LoRA file belongs to (its ``runs/<number>/`` folder's run), or
    None for a file from elsewhere or a folder no run owns."""
    number = run_number(lora) if lora is not None else None
    return get_run(ctx, number) if number is not None else None


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


def _run_config(ctx: ProjectContext, run: Run | None) -> TrainingConfig:
    from app.training.project_config import current_config, default_config

    if run is not None and run.config:
        try:
            return with_rungs(TrainingConfig.model_validate(run.config), run.rungs)
        except ValueError:
            pass  # a config of an older loragate that no longer validates
    try:
        return current_config(ctx)
    except ConfigFileError:
        return default_config(ctx)


def run_numbers(
    ctx: ProjectContext, lora: LoraFile | None = None, curves: Curves | None = None
) -> RunNumbers:
    """The numbers of the run ``lora`` belongs to (the project's own when none)."""
    from app.dataset.inventory import inventory
    from app.evaluation.job import training_captions
    from app.training.steps import plan_steps

    run = run_of(ctx, lora)
    losses = step_losses(ctx.workspace.db, run, MAX_LOSS_POINTS) if run is not None else None
    config = _run_config(ctx, run)
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
        loss=losses.values if losses is not None else [],
        loss_smoothed=losses.smoothed if losses is not None else False,
        curves=curves,
    )
