"""Sample first, then the rest, on the tiny WD14 tagger: the artist reads five drafts,
adjusts the recipe, and only then is the rest captioned, as drafts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from app.captions.captioners import (
    CaptionRecipe,
    Wd14Settings,
    caption_rest,
    caption_sample,
    pick_sample,
    redraft,
)
from app.captions.captioners.wd14 import Wd14Tagger
from app.captions.intent import CaptionIntent
from app.captions.text import starts_with_trigger

MakeImage = Callable[..., Path]
COLOURS = [(255, 0, 0), (0, 0, 255), (0, 255, 0)]


@pytest.fixture
def images(make_image: MakeImage) -> list[Path]:
    return [make_image(f"{n:02}.png", COLOURS[n % 3]) for n in range(12)]


def test_pick_sample_spreads_over_the_dataset() -> None:
    paths = [Path(f"{n:02}.png") for n in range(12)]
    assert [p.name for p in pick_sample(paths, 5)] == [
        "00.png",
        "03.png",
        "06.png",
        "08.png",
        "11.png",
    ]
    assert pick_sample(paths[:3], 5) == paths[:3]
    with pytest.raises(ValueError):
        pick_sample(paths, 0)


def test_sample_then_adjust_then_the_rest(wd14_folder: Path, images: list[Path]) -> None:
    tagger = Wd14Tagger(wd14_folder, Wd14Settings(batch_size=3))
    style = CaptionIntent.build(
        training_type="style", trigger="zkinkwash", caption_format="booru", must_vary="subjects"
    )

    sample = caption_sample(tagger, images, style)
    assert [draft.path for draft in sample.drafts] == pick_sample(images, 5)
    for draft in sample.drafts:
        assert draft.status == "draft" and starts_with_trigger(draft.text, "zkinkwash")
        # The style LoRA's drafts lose the tagger's medium and look tags, with a note.
        assert "traditional media" not in draft.text and "monochrome" not in draft.text
        assert any("describe the style" in note for note in draft.notes)
    assert all("long hair" in draft.text for draft in sample.drafts)

    # The artist reads the sample and adjusts; the sample is redrafted without the model.
    recipe = CaptionRecipe.build(blacklist="long hair, ^_^", prefix="1girl")
    adjusted = redraft(sample.raw, style, recipe, sample.source)
    assert all(d.text.startswith("zkinkwash, 1girl") for d in adjusted)
    assert not any("long hair" in d.text or "^_^" in d.text for d in adjusted)

    reports: list[tuple[int, int]] = []
    rest = caption_rest(
        tagger,
        images,
        style,
        recipe,
        sample=[draft.path for draft in sample.drafts],
        progress=lambda done, total: reports.append((done, total)),
    )
    assert not rest.cancelled and not rest.failures
    assert sorted(d.path for d in rest.drafts + adjusted) == sorted(images)
    assert reports[-1] == (7, 7)
    assert all(
        d.text.startswith("zkinkwash, 1girl") and "long hair" not in d.text for d in rest.drafts
    )
    red = next(d for d in rest.drafts if d.path.name == "09.png")
    assert red.text == "zkinkwash, 1girl, red shirt"


def test_the_rest_can_be_cancelled_and_keeps_what_is_done(
    wd14_folder: Path, images: list[Path]
) -> None:
    tagger = Wd14Tagger(wd14_folder, Wd14Settings(batch_size=2))
    intent = CaptionIntent.build(training_type="concept", trigger="zkc", caption_format="booru")
    batches = iter([False, False, True])
    rest = caption_rest(
        tagger,
        images,
        intent,
        CaptionRecipe(),
        sample=images[:2],
        should_cancel=lambda: next(batches),
    )
    assert rest.cancelled
    assert [d.path for d in rest.drafts] == images[2:6]
