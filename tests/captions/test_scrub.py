"""Taking style words and fixed traits out of machine-written sentences, leaving a
sentence an artist can approve."""

from __future__ import annotations

import pytest

from app.captions.scrub import scrub_sentence


@pytest.mark.parametrize(
    ("sentence", "phrases", "expected"),
    [
        (
            "a watercolor painting of a lighthouse on a cliff",
            ["watercolor"],
            "a lighthouse on a cliff",
        ),
        ("a lighthouse in watercolor at night", ["watercolor"], "a lighthouse at night"),
        ("an oil painting of an apple", ["oil painting"], "an apple"),
        ("a watercolor owl on a branch", ["watercolor"], "an owl on a branch"),
        ("a woman in a red scarf sitting on a bench", ["red scarf"], "a woman sitting on a bench"),
        (
            "a woman with a red scarf and a scar standing in the rain",
            ["red scarf", "scar"],
            "a woman standing in the rain",
        ),
        ("a girl with red hair and a red scarf", ["red scarf"], "a girl with red hair"),
        ("A woman wearing her red scarf.", ["red scarf"], "A woman."),
    ],
)
def test_phrases_come_out_and_the_sentence_still_reads(
    sentence: str, phrases: list[str], expected: str
) -> None:
    assert scrub_sentence(sentence, phrases)[0] == expected


def test_what_was_removed_is_reported() -> None:
    text, removed = scrub_sentence("a monochrome drawing of a cat", ["monochrome", "sepia"])
    assert (text, removed) == ("a cat", ["monochrome"])


def test_style_clauses_go_with_the_name_that_follows() -> None:
    text, removed = scrub_sentence(
        "a lighthouse in the style of hokusai, at night", clauses=["in the style of"]
    )
    assert (text, removed) == ("a lighthouse, at night", ["in the style of"])


def test_describing_words_only_go_where_they_describe_the_picture() -> None:
    assert (
        scrub_sentence("a painting of a lighthouse", describing=["painting"])[0] == "a lighthouse"
    )
    untouched = "a painting hanging on the wall"
    assert scrub_sentence(untouched, describing=["painting"]) == (untouched, [])


def test_a_sentence_without_those_words_is_returned_as_it_was() -> None:
    sentence = "a  lighthouse ,on a cliff"
    assert scrub_sentence(sentence, ["watercolor"]) == (sentence, [])
