"""From a captioner's raw output to a draft for the project: the intent's rules, the
artist's recipe, the trigger word first, never approved."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.captions.captioners import (
    CaptionRecipe,
    RawCaption,
    ScoredTag,
    format_advice,
    make_draft,
)
from app.captions.intent import CaptionIntent
from app.captions.text import starts_with_trigger

PATH = Path("img.png")


def tags(*names: str, character: tuple[str, ...] = ()) -> tuple[ScoredTag, ...]:
    return (
        *(ScoredTag(name, 0.9, "character") for name in character),
        *(ScoredTag(name, 0.8, "general") for name in names),
    )


def project(**overrides: object) -> CaptionIntent:
    values: dict[str, object] = {
        "training_type": "style",
        "trigger": "zkinkwash",
        "caption_format": "booru",
    }
    values.update(overrides)
    return CaptionIntent.build(**values)  # type: ignore[arg-type]


def test_tags_become_a_booru_caption_with_the_trigger_first() -> None:
    draft = make_draft(
        RawCaption(PATH, tags=tags("1girl", "lighthouse", "night")),
        project(training_type="concept"),
        CaptionRecipe(),
        "wd14:tiny",
    )
    assert draft.text == "zkinkwash, 1girl, lighthouse, night"
    assert draft.status == "draft"
    assert draft.source == "wd14:tiny"
    assert draft.notes == ()


def test_a_style_project_loses_style_tags_with_a_note() -> None:
    draft = make_draft(
        RawCaption(PATH, tags=tags("lighthouse", "watercolor (medium)", "monochrome", "sketch")),
        project(style_words=["loose lines"]),
        CaptionRecipe(),
        "wd14:tiny",
    )
    assert draft.text == "zkinkwash, lighthouse"
    assert len(draft.notes) == 1
    assert "“watercolor (medium)”, “monochrome”, “sketch”" in draft.notes[0]
    assert "style" in draft.notes[0]


def test_a_character_project_loses_recognised_names_and_fixed_traits() -> None:
    draft = make_draft(
        RawCaption(PATH, tags=tags("1girl", "red scarf", "smile", character=("hatsune miku",))),
        project(training_type="character", trigger="mirakz", must_stay="red scarf"),
        CaptionRecipe(),
        "wd14:tiny",
    )
    assert draft.text == "mirakz, 1girl, smile"
    assert any("character name “hatsune miku”" in note for note in draft.notes)
    assert any("“red scarf”" in note and "must stay" in note for note in draft.notes)


def test_sentences_are_scrubbed_and_written_as_sentences() -> None:
    draft = make_draft(
        RawCaption(PATH, sentence="a watercolor painting of a lighthouse in the style of hokusai"),
        project(caption_format="natural"),
        CaptionRecipe(),
        "natural:blip",
    )
    assert draft.text == "zkinkwash, A lighthouse."
    assert "“watercolor”" in draft.notes[0] and "“in the style of”" in draft.notes[0]


def test_the_recipe_applies_blacklist_prefix_and_template() -> None:
    recipe = CaptionRecipe.build(
        blacklist="long hair\nsimple background", prefix="1girl", template="{caption}, outdoors"
    )
    draft = make_draft(
        RawCaption(PATH, tags=tags("long_hair", "smile", "simple background")),
        project(training_type="character", trigger="mirakz"),
        recipe,
        "wd14:tiny",
    )
    assert draft.text == "mirakz, 1girl, smile, outdoors"
    assert draft.notes == ("Removed by your blacklist: “long_hair”, “simple background”.",)


def test_a_prefix_holding_the_trigger_still_ends_with_it_first_once() -> None:
    draft = make_draft(
        RawCaption(PATH, tags=tags("smile")),
        project(training_type="character", trigger="mirakz"),
        CaptionRecipe.build(prefix="1girl, mirakz"),
        "wd14:tiny",
    )
    assert draft.text == "mirakz, 1girl, smile"
    assert starts_with_trigger(draft.text, "mirakz")


def test_nothing_left_still_gives_a_caption_with_the_trigger() -> None:
    draft = make_draft(
        RawCaption(PATH, tags=tags("monochrome")), project(), CaptionRecipe(), "wd14:tiny"
    )
    assert draft.text == "zkinkwash"


@pytest.mark.parametrize(
    ("template", "prefix"),
    [("no placeholder", ""), ("{caption} {caption}", ""), ("{caption}", "a\nb")],
)
def test_bad_recipes_are_refused_plainly(template: str, prefix: str) -> None:
    with pytest.raises(ValueError, match=r"\{caption\}|one line"):
        CaptionRecipe(template=template, prefix=prefix)


def test_a_blacklist_entry_with_a_comma_is_two_entries() -> None:
    assert CaptionRecipe.build(blacklist="a, b;c").blacklist == ("a", "b", "c")


@pytest.mark.parametrize(
    ("kind", "caption_format", "fits"),
    [
        ("wd14", "booru", True),
        ("natural", "natural", True),
        ("natural", "mixed", True),
        ("wd14", "natural", False),
        ("natural", "booru", False),
        ("wd14", "mixed", False),
    ],
)
def test_format_advice(kind: str, caption_format: str, fits: bool) -> None:
    assert (format_advice(kind, caption_format) is None) is fits  # type: ignore[arg-type]


def test_the_blacklist_matches_whole_tags_only() -> None:
    draft = make_draft(
        RawCaption(PATH, tags=tags("long hair", "hair ribbon", "smile")),
        project(training_type="concept"),
        CaptionRecipe.build(blacklist="hair"),
        "wd14:tiny",
    )
    assert draft.text == "zkinkwash, long hair, hair ribbon, smile"
