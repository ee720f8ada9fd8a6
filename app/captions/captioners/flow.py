"""Sample first, then the rest: auto-captioning as the artist drives it.

1. ``caption_sample`` captions a few images spread over the dataset (default 5) and
   returns drafts plus the model's raw output.
2. The artist reads them and adjusts the recipe (blacklist, prefix, template);
   ``redraft`` re-applies it to the sample without running the model again.
3. ``caption_rest`` captions every other image with the approved recipe, reporting
   ``progress(done, total)`` and stopping between batches when ``should_cancel()`` says
   so (what is done is kept). It is meant to run inside the background job runner.

Every result is a draft: a person approves each caption in the grid.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from app.captions.captioners.base import (
    CancelFn,
    Captioner,
    ImageFailure,
    ProgressFn,
    RawCaption,
)
from app.captions.captioners.drafts import CaptionDraft, CaptionRecipe, make_draft
from app.captions.intent import CaptionIntent

DEFAULT_SAMPLE_SIZE = 5


@dataclass
class CaptionRun:
    drafts: list[CaptionDraft] = field(default_factory=list)
    raw: list[RawCaption] = field(default_factory=list)
    failures: list[ImageFailure] = field(default_factory=list)
    cancelled: bool = False
    source: str = ""


def pick_sample(images: Sequence[Path], n: int = DEFAULT_SAMPLE_SIZE) -> list[Path]:
    """``n`` images spread evenly over the list (first and last included), so a sample
    from a dataset sorted by folder sees every part of it; always the same ones."""
    if n < 1:
        raise ValueError("The sample needs at least one image.")
    if len(images) <= n:
        return list(images)
    if n == 1:
        return [images[len(images) // 2]]
    step = (len(images) - 1) / (n - 1)
    return [images[round(index * step)] for index in range(n)]


def redraft(
    raw: Sequence[RawCaption], intent: CaptionIntent, recipe: CaptionRecipe, source: str
) -> list[CaptionDraft]:
    return [make_draft(caption, intent, recipe, source) for caption in raw]


def _run(
    captioner: Captioner,
    images: Sequence[Path],
    intent: CaptionIntent,
    recipe: CaptionRecipe,
    progress: ProgressFn | None,
    should_cancel: CancelFn | None,
) -> CaptionRun:
    batch = captioner.caption(images, progress=progress, should_cancel=should_cancel)
    return CaptionRun(
        drafts=redraft(batch.captions, intent, recipe, captioner.source),
        raw=batch.captions,
        failures=batch.failures,
        cancelled=batch.cancelled,
        source=captioner.source,
    )


def caption_sample(
    captioner: Captioner,
    images: Sequence[Path],
    intent: CaptionIntent,
    recipe: CaptionRecipe | None = None,
    n: int = DEFAULT_SAMPLE_SIZE,
    progress: ProgressFn | None = None,
    should_cancel: CancelFn | None = None,
) -> CaptionRun:
    return _run(
        captioner,
        pick_sample(images, n),
        intent,
        recipe or CaptionRecipe(),
        progress,
        should_cancel,
    )


def caption_rest(
    captioner: Captioner,
    images: Sequence[Path],
    intent: CaptionIntent,
    recipe: CaptionRecipe,
    sample: Collection[Path],
    progress: ProgressFn | None = None,
    should_cancel: CancelFn | None = None,
) -> CaptionRun:
    """Every image not in ``sample``, with the recipe the artist approved."""
    done = set(sample)
    rest = [image for image in images if image not in done]
    return _run(captioner, rest, intent, recipe, progress, should_cancel)
