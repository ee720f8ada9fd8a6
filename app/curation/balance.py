"""Curation beyond include/exclude (``decisions``): repeats per concept, and the balance
of the dataset as training will see it (images and samples per concept, per aspect-ratio
bucket, per frequent tag), with the step count of the project's config.

Repeats live in the database, not in folder names: renaming ``10_mira/`` in the dataset
would give every image a new path, and with it a new identity for its caption, its
approval and its audit results. ``ConceptRepeats`` holds the artist's number, every
image row of the concept carries it (so ``inventory`` and the step maths see it), new
images of the concept get it, and the kohya layout written for training is named from
it (``{repeats}_{concept}/``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import select

from app import journal
from app.captions.grid import TAG_PANEL_SIZE
from app.captions.store import is_trainable_image, load_captions
from app.captions.text import TagCount, tag_frequency
from app.curation.report import ConceptLine, concept_lines
from app.dataset.buckets import BucketCount
from app.dataset.decisions import DecisionError
from app.dataset.inventory import inventory
from app.dataset.records import load_rows
from app.models import ConceptRepeats, DatasetImage
from app.models.base import utcnow
from app.training.config import ConfigFileError
from app.training.project_config import current_config
from app.training.steps import StepPlan, plan_steps
from app.words import plural
from app.workspace import ProjectContext

MAX_REPEATS = 100  # beyond this, epochs are the better knob (app/docs/curation-guide.md)


def step_plan(ctx: ProjectContext) -> tuple[StepPlan | None, str | None]:
    """The run's step count with the project's config as it is now, or why it cannot be
    counted (a training.json that cannot be read)."""
    try:
        config = current_config(ctx)
    except ConfigFileError as exc:
        return None, str(exc)
    return plan_steps(inventory(ctx), config), None


@dataclass(frozen=True)
class RepeatsChange:
    concept: str
    old: int
    new: int
    steps_before: int | None
    steps_after: int | None


def set_repeats(ctx: ProjectContext, concept: str, repeats: int) -> RepeatsChange:
    if not 1 <= repeats <= MAX_REPEATS:
        raise DecisionError(
            f"Repeats are a whole number from 1 to {MAX_REPEATS}: how many times each image "
            "of the concept is shown per epoch."
        )
    rows = [row for row in load_rows(ctx) if row.concept == concept]
    if not rows:
        raise DecisionError(f"There is no concept “{concept}” in this dataset. Reload the page.")
    old = rows[0].repeats
    before, _ = step_plan(ctx)
    with ctx.workspace.db.writing() as session:
        setting = session.get(ConceptRepeats, (ctx.project.id, concept)) or ConceptRepeats(
            project_id=ctx.project.id or 0, concept=concept, repeats=repeats
        )
        setting.repeats = repeats
        setting.updated_at = utcnow()
        session.add(setting)
        for row in session.exec(
            select(DatasetImage).where(
                DatasetImage.project_id == ctx.project.id, DatasetImage.concept == concept
            )
        ):
            row.repeats = repeats
            session.add(row)
    after, _ = step_plan(ctx)
    included = sum(1 for row in rows if row.included and is_trainable_image(row))
    message = (
        f"Repeats of “{concept}” changed from {old} to {repeats}: its "
        f"{plural(included, 'image')} now count as {plural(included * repeats, 'sample')} "
        "per epoch"
    )
    if before is not None and after is not None:
        message += (
            f"; the run goes from {before.total_steps} to {plural(after.total_steps, 'step')}"
        )
    with ctx.workspace.db.writing() as session:
        journal.record(
            session,
            ctx.project,
            ctx.dir,
            "dataset.repeats",
            message + ".",
            {"concept": concept, "old": old, "new": repeats},
        )
    return RepeatsChange(
        concept,
        old,
        repeats,
        before.total_steps if before else None,
        after.total_steps if after else None,
    )


@dataclass
class Balance:
    concepts: list[ConceptLine]
    buckets: list[BucketCount]
    tags: list[TagCount]
    captioned: int  # included images with a caption (the tag counts' denominator)
    plan: StepPlan | None
    config_error: str | None

    @property
    def samples(self) -> int:
        return sum(line.samples for line in self.concepts)

    def share(self, line: ConceptLine) -> float:
        """The concept's part of every epoch's samples."""
        return line.samples / self.samples if self.samples else 0.0


def balance(ctx: ProjectContext) -> Balance:
    plan, error = step_plan(ctx)
    rows = load_rows(ctx)
    captions = load_captions(ctx)
    texts = [
        captions[row.id or 0].text
        for row in rows
        if row.included and is_trainable_image(row) and (row.id or 0) in captions
    ]
    return Balance(
        concepts=concept_lines(rows),
        buckets=plan.buckets if plan else [],
        tags=tag_frequency(texts, ctx.project.caption_format, ctx.project.trigger_word)[
            : TAG_PANEL_SIZE // 2
        ],
        captioned=len(texts),
        plan=plan,
        config_error=error,
    )
