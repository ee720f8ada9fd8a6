"""The content-style lint, one training type at a time: what it flags, how severe, and
what it leaves alone."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from app.captions.content_lint import lint_caption, lint_captions
from app.captions.intent import CaptionIntent
from app.findings import Finding, verdict_of
from app.resources import check_source


def intent(**overrides: object) -> CaptionIntent:
    values: dict[str, object] = {
        "training_type": "style",
        "trigger": "zkinkwash",
        "caption_format": "booru",
        "must_vary": "",
        "must_stay": "",
        "style_words": (),
    }
    values.update(overrides)
    return CaptionIntent.build(**values)  # type: ignore[arg-type]


def captions(*texts: str) -> list[tuple[str, str]]:
    return [(f"img{index:02}.png", text) for index, text in enumerate(texts)]


def codes(findings: Sequence[Finding]) -> list[tuple[str, str, str]]:
    return [(f.code, f.severity, f.subject) for f in findings]


# --- style -------------------------------------------------------------------------


def test_style_words_in_one_caption_warn_on_that_caption() -> None:
    found = lint_captions(
        captions(
            "zkinkwash, lighthouse, watercolor (medium), cliff",
            "zkinkwash, owl, branch",
            "zkinkwash, cat, window",
        ),
        intent(),
    )
    assert codes(found) == [("caption.style_word", "warn", "img00.png")]
    assert "“watercolor”" in found[0].message


def test_the_artists_own_style_words_are_named_as_theirs() -> None:
    found = lint_caption(
        "a.png", "zkinkwash, lighthouse, loose ink lines", intent(style_words=["loose ink lines"])
    )
    assert [f.code for f in found] == ["caption.style_word"]
    assert "from your eye.md" in found[0].message


def test_a_style_word_in_most_captions_blocks() -> None:
    found = lint_captions(
        captions(
            "zkinkwash, lighthouse, monochrome",
            "zkinkwash, owl, monochrome",
            "zkinkwash, cat, window",
        ),
        intent(),
    )
    blocking = [f for f in found if f.severity == "block"]
    assert codes(blocking) == [("caption.style_in_most_captions", "block", "captions")]
    assert "2 of 3 captions" in blocking[0].message
    assert verdict_of(found) == "block"


def test_words_that_are_often_content_never_block() -> None:
    found = lint_captions(
        captions(
            "zkinkwash, A painting of a lighthouse on a cliff.",
            "zkinkwash, A painting of an owl on a branch.",
        ),
        intent(caption_format="natural"),
    )
    assert {f.code for f in found} == {"caption.style_word"}
    assert verdict_of(found) == "warn"


def test_a_painting_as_content_is_not_a_style_word() -> None:
    found = lint_caption(
        "a.png",
        "zkinkwash, A painting hangs on the wall of a kitchen.",
        intent(caption_format="natural"),
    )
    assert found == []


def test_style_phrases_are_found_inside_sentences() -> None:
    found = lint_caption(
        "a.png",
        "zkinkwash, A lighthouse at night in the style of Hokusai.",
        intent(caption_format="natural"),
    )
    assert [f.code for f in found] == ["caption.style_word"]
    assert "in the style of" in found[0].message


@pytest.mark.parametrize("training_type", ["character", "concept", "object"])
def test_style_words_are_fine_outside_style_loras(training_type: str) -> None:
    found = lint_captions(
        captions("zkinkwash, watercolor, lighthouse", "zkinkwash, watercolor, owl"),
        intent(training_type=training_type),
    )
    assert found == []


# --- character and object ----------------------------------------------------------


def test_a_fixed_trait_in_one_caption_warns() -> None:
    found = lint_captions(
        captions(
            "mirakz, A woman in a red scarf sits on a bench.",
            "mirakz, A woman walks through a park.",
            "mirakz, A woman stands on a street at night.",
        ),
        intent(
            training_type="character",
            trigger="mirakz",
            caption_format="natural",
            must_stay="red scarf\nscar over left eye",
        ),
    )
    assert codes(found) == [("caption.fixed_trait", "warn", "img00.png")]
    assert "“red scarf”" in found[0].message


def test_a_fixed_trait_in_most_captions_blocks() -> None:
    found = lint_captions(
        captions("mirakz, red_scarf, sitting", "mirakz, Red Scarf, smile", "mirakz, walking"),
        intent(training_type="object", trigger="mirakz", must_stay="red scarf"),
    )
    blocking = [f for f in found if f.severity == "block"]
    assert codes(blocking) == [("caption.fixed_trait_in_most_captions", "block", "captions")]
    assert "2 of 3 captions (67%)" in blocking[0].message


def test_must_vary_never_described_warns_once_for_the_dataset() -> None:
    found = lint_captions(
        captions("mirakz, A woman sits in a park.", "mirakz, A woman walks at night."),
        intent(
            training_type="character",
            trigger="mirakz",
            caption_format="natural",
            must_vary="pose, background, expression",
        ),
    )
    # "sits"/"walks" describe the pose, "park" the background; nothing the expression.
    assert codes(found) == [("caption.must_vary_undescribed", "warn", "captions")]
    assert "“expression”" in found[0].message


def test_must_vary_answers_outside_the_known_categories_match_their_own_words() -> None:
    described = lint_captions(
        captions("zkobj, teapot on a wooden table"),
        intent(training_type="object", trigger="zkobj", must_vary="table surfaces"),
    )
    assert described == []
    undescribed = lint_captions(
        captions("zkobj, teapot, kitchen"),
        intent(training_type="object", trigger="zkobj", must_vary="table surfaces"),
    )
    assert [f.code for f in undescribed] == ["caption.must_vary_undescribed"]


def test_subjects_count_as_described_by_any_description() -> None:
    found = lint_captions(
        captions("zkinkwash, lighthouse", "zkinkwash, owl"),
        intent(must_vary="subjects, lighting"),
    )
    assert [f.message for f in found] == [
        "No caption seems to describe “lighting”, which you said must vary."
    ]


# --- any type ----------------------------------------------------------------------


def test_a_tag_in_nearly_every_caption_asks_whether_intended() -> None:
    texts = [f"zkconcept, 1girl, subject {n}" for n in range(9)] + ["zkconcept, 1boy, subject x"]
    found = lint_captions(captions(*texts), intent(training_type="concept", trigger="zkconcept"))
    assert codes(found) == [("caption.near_universal_tag", "warn", "captions")]
    assert "“1girl” is in 9 of 10 captions (90%)" in found[0].message
    assert "intended" in found[0].message


def test_nearly_every_needs_enough_captions_and_ignores_the_trigger() -> None:
    few = captions(*["zkconcept, 1girl"] * 4)
    assert lint_captions(few, intent(training_type="concept", trigger="zkconcept")) == []
    many = captions(*[f"zkconcept, subject {n}" for n in range(6)])
    assert lint_captions(many, intent(training_type="concept", trigger="zkconcept")) == []


def test_a_near_universal_fixed_trait_is_reported_once_as_the_trait() -> None:
    texts = [f"mirakz, red scarf, pose {n}" for n in range(6)]
    found = lint_captions(
        captions(*texts), intent(training_type="character", trigger="mirakz", must_stay="red scarf")
    )
    assert "caption.near_universal_tag" not in {f.code for f in found}
    assert "caption.fixed_trait_in_most_captions" in {f.code for f in found}


def test_a_caption_without_the_trigger_blocks() -> None:
    found = lint_caption("a.png", "lighthouse, cliff", intent())
    assert codes(found) == [("caption.missing_trigger", "block", "a.png")]


def test_a_caption_with_nothing_but_the_trigger_warns() -> None:
    assert codes(lint_caption("a.png", "zkinkwash", intent())) == [
        ("caption.nothing_described", "warn", "a.png")
    ]


@pytest.mark.parametrize(
    ("caption_format", "text", "message_part"),
    [
        ("booru", "zkinkwash, A woman stands on a street at night.", "has a sentence"),
        ("natural", "zkinkwash, woman, street, night", "is a list of tags"),
        ("natural", "zkinkwash, A woman stands. street, night, rain", "ends in a list of tags"),
        ("mixed", "zkinkwash, woman, street, night", "only tags"),
    ],
)
def test_format_mismatch_warns(caption_format: str, text: str, message_part: str) -> None:
    found = lint_caption(
        "a.png", text, intent(training_type="concept", caption_format=caption_format)
    )
    assert codes(found) == [("caption.format_mismatch", "warn", "a.png")]
    assert message_part in found[0].message


@pytest.mark.parametrize(
    ("caption_format", "text"),
    [
        ("booru", "zkinkwash, 1girl, long hair, looking at viewer, hand on own hip"),
        ("natural", "zkinkwash, A woman stands on a street at night."),
        ("mixed", "zkinkwash, A woman stands on a street. night, rain"),
    ],
)
def test_captions_in_the_projects_format_pass(caption_format: str, text: str) -> None:
    assert (
        lint_caption("a.png", text, intent(training_type="concept", caption_format=caption_format))
        == []
    )


def test_every_finding_explains_itself_with_a_source_that_resolves() -> None:
    found = lint_captions(
        captions(
            "lighthouse, monochrome",
            "zkinkwash",
            "zkinkwash, A monochrome lighthouse stands on a cliff.",
            "zkinkwash, monochrome, red scarf",
            "zkinkwash, monochrome, red scarf",
        ),
        intent(must_stay="red scarf", must_vary="lighting"),
    )
    assert {f.code for f in found} >= {
        "caption.missing_trigger",
        "caption.nothing_described",
        "caption.style_word",
        "caption.style_in_most_captions",
        "caption.fixed_trait",
        "caption.must_vary_undescribed",
        "caption.format_mismatch",
    }
    for finding in found:
        assert check_source(finding.source) is None, finding.source


def test_unknown_training_types_and_formats_are_refused_plainly() -> None:
    with pytest.raises(ValueError, match="training type"):
        intent(training_type="vibes")
    with pytest.raises(ValueError, match="caption format"):
        intent(caption_format="haiku")
