"""Caption text: the trigger word first on every write, batch tag edits that never lose
it, normalisation that keeps meaning."""

from __future__ import annotations

import pytest

from app.captions.text import (
    NOTE_CONTROL,
    NOTE_KEEP_TRIGGER,
    add_tag,
    caption_tags,
    change_trigger,
    enforce_trigger,
    normalize_caption,
    parse_caption,
    prepare_caption,
    remove_tag,
    replace_tag,
    shorten,
    starts_with_trigger,
    tag_frequency,
)

T = "zkinkwash"


# --- the trigger word --------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected", "note_says"),
    [
        ("1girl, red scarf", "zkinkwash, 1girl, red scarf", "was missing"),
        ("", "zkinkwash", "was empty"),
        ("  , ,\n", "zkinkwash", "was empty"),
        ("red scarf, zkinkwash, night", "zkinkwash, red scarf, night", "was not first"),
        ("ZKinkWash, red scarf", "zkinkwash, red scarf", "spelling was corrected"),
        ("zkinkwash a lighthouse on a cliff.", "zkinkwash, a lighthouse on a cliff.", "comma"),
        (
            "A zkinkwash drawing of a lighthouse.",
            "zkinkwash, A drawing of a lighthouse.",
            "only inside the text",
        ),
        ("zkinkwash, night, zkinkwash", "zkinkwash, night", "more than once"),
    ],
)
def test_enforce_trigger_puts_it_first_and_says_why(
    text: str, expected: str, note_says: str
) -> None:
    fixed, note = enforce_trigger(text, T, "booru")
    assert fixed == expected
    assert note is not None and note_says in note
    assert starts_with_trigger(fixed, T)


def test_a_caption_that_is_right_is_left_alone() -> None:
    text = "zkinkwash, A woman, smiling, walks. red scarf"
    assert enforce_trigger(text, T, "mixed") == (text, None)


def test_a_word_that_merely_starts_with_the_trigger_is_not_the_trigger() -> None:
    fixed, note = enforce_trigger("zkinkwashed paper, night", T, "booru")
    assert fixed == "zkinkwash, zkinkwashed paper, night"
    assert note is not None and "missing" in note


def test_a_trigger_word_with_a_comma_is_refused() -> None:
    with pytest.raises(ValueError, match="comma"):
        enforce_trigger("night", "a, b", "booru")


def test_prepare_caption_normalises_and_enforces() -> None:
    text, note = prepare_caption("night,  red scarf,,\nred_scarf, ", T, "booru")
    assert text == "zkinkwash, night, red scarf"
    assert note is not None and "missing" in note


def test_change_trigger_rewrites_standalone_and_inline_uses() -> None:
    text, note = change_trigger("zkold, A zkold drawing of a cat. red", "zkold", "zknew", "mixed")
    assert text == "zknew, A zknew drawing of a cat. red"
    assert note == "The trigger word changed from “zkold” to “zknew”."


def test_change_trigger_on_a_caption_without_the_old_word_still_puts_the_new_first() -> None:
    text, note = change_trigger("night", "zkold", "zknew", "booru")
    assert text == "zknew, night"
    assert note is not None


# --- parsing and normalisation -------------------------------------------------------


def test_booru_captions_are_all_tags_even_with_periods() -> None:
    parsed = parse_caption("zkinkwash, yorha no. 2 type b, smile", "booru", T)
    assert parsed.trigger == "zkinkwash"
    assert parsed.tags == ["yorha no. 2 type b", "smile"]
    assert parsed.sentences == []


def test_mixed_captions_split_sentence_and_tags() -> None:
    parsed = parse_caption(
        "zkinkwash, 1girl, A woman, smiling, stands on a street. red scarf, night", "mixed", T
    )
    assert parsed.sentences == ["A woman, smiling, stands on a street."]
    assert parsed.tags == ["1girl", "red scarf", "night"]


def test_short_capitalised_sentences_are_sentences() -> None:
    parsed = parse_caption("zkinkwash, A woman stands. She smiles.", "natural", T)
    assert parsed.sentences == ["A woman stands.", "She smiles."]


def test_long_unpunctuated_parts_read_as_sentences() -> None:
    parsed = parse_caption("zkinkwash, a cat sleeping on a bed, red scarf", "natural", T)
    assert parsed.sentences == ["a cat sleeping on a bed"]
    assert parsed.tags == ["red scarf"]


@pytest.mark.parametrize(
    ("text", "caption_format", "expected"),
    [
        ("zkinkwash,  red   scarf ,night,", "booru", "zkinkwash, red scarf, night"),
        ("zkinkwash, long_hair, Long hair, smile", "booru", "zkinkwash, long_hair, smile"),
        ("zkinkwash\nA woman walks.\nred scarf", "mixed", "zkinkwash, A woman walks. red scarf"),
        ("\ufeffzkinkwash, night", "booru", "zkinkwash, night"),
        ("zkinkwash, k.k., smile", "booru", "zkinkwash, k.k., smile"),
    ],
)
def test_normalisation_keeps_meaning(text: str, caption_format: str, expected: str) -> None:
    once = normalize_caption(text, caption_format, T)
    assert once == expected
    assert normalize_caption(once, caption_format, T) == once  # idempotent


# --- tag operations ----------------------------------------------------------------


def test_add_tag_appends_once() -> None:
    edit = add_tag("zkinkwash, red scarf", "night", T, "booru")
    assert (edit.text, edit.changed) == ("zkinkwash, red scarf, night", True)
    again = add_tag(edit.text, "Night", T, "booru")
    assert (again.text, again.changed) == (edit.text, False)


def test_add_tag_first_goes_right_after_the_trigger() -> None:
    edit = add_tag("zkinkwash, red scarf", "woman", T, "booru", first=True)
    assert edit.text == "zkinkwash, woman, red scarf"


def test_add_tag_to_a_caption_without_trigger_also_restores_it() -> None:
    edit = add_tag("red scarf", "night", T, "booru")
    assert edit.text == "zkinkwash, red scarf, night"
    assert edit.note is not None and "missing" in edit.note


def test_adding_the_trigger_as_a_tag_does_nothing() -> None:
    edit = add_tag("zkinkwash, night", "zkinkwash", T, "booru")
    assert (edit.text, edit.changed) == ("zkinkwash, night", False)


def test_remove_tag_matches_any_spelling() -> None:
    edit = remove_tag("zkinkwash, Red_Scarf, night", "red scarf", T, "booru")
    assert (edit.text, edit.changed, edit.note) == ("zkinkwash, night", True, None)


def test_remove_tag_never_removes_the_trigger_and_says_so() -> None:
    edit = remove_tag("zkinkwash, night", "ZKINKWASH", T, "booru")
    assert edit.text == "zkinkwash, night"
    assert not edit.changed
    assert edit.note == NOTE_KEEP_TRIGGER


def test_remove_tag_leaves_sentences_whole_and_asks_for_a_hand_edit() -> None:
    edit = remove_tag(
        "zkinkwash, A woman in a red scarf walks. red scarf, night", "red scarf", T, "mixed"
    )
    assert edit.text == "zkinkwash, A woman in a red scarf walks. night"
    assert edit.note is not None and "by hand" in edit.note


def test_replace_tag_in_tags_and_sentences() -> None:
    edit = replace_tag(
        "zkinkwash, A woman in a red scarf walks. red scarf, night",
        "red scarf",
        "blue scarf",
        T,
        "mixed",
    )
    assert edit.text == "zkinkwash, A woman in a blue scarf walks. blue scarf, night"


def test_replace_into_an_existing_tag_keeps_one() -> None:
    edit = replace_tag("zkinkwash, red scarf, night", "red scarf", "night", T, "booru")
    assert edit.text == "zkinkwash, night"


@pytest.mark.parametrize(("old", "new"), [("zkinkwash", "ink"), ("night", "zkinkwash")])
def test_replace_refuses_to_touch_the_trigger(old: str, new: str) -> None:
    edit = replace_tag("zkinkwash, night", old, new, T, "booru")
    assert (edit.text, edit.changed) == ("zkinkwash, night", False)
    assert edit.note is not None and "trigger word" in edit.note


def test_tags_with_commas_are_refused() -> None:
    with pytest.raises(ValueError, match="comma"):
        add_tag("zkinkwash", "red, blue", T, "booru")


def test_tag_frequency_counts_captions_not_mentions() -> None:
    counts = tag_frequency(
        ["zkinkwash, night, smile", "zkinkwash, Night, night", "zkinkwash, smile, night"],
        "booru",
        T,
    )
    assert [(c.tag, c.count) for c in counts] == [("night", 3), ("smile", 2)]


def test_caption_tags_exclude_the_trigger() -> None:
    assert caption_tags("night, zkinkwash, smile", "booru", T) == ["night", "smile"]


def test_a_whole_part_long_enough_to_read_as_a_sentence_is_still_removable() -> None:
    edit = remove_tag(
        "zkinkwash, a woman in a red scarf, night", "A woman in a red scarf", T, "booru"
    )
    assert (edit.text, edit.note) == ("zkinkwash, night", None)


WEIRD = [
    "",
    ",,,",
    "zkinkwash",
    "ZKINKWASH, zkinkwash, zkinkwash",
    "A zkinkwash. zkinkwash, zkinkwash b.",
    "line one\n\nline two,\nzkinkwash",
    "zkinkwash   ,  \t red scarf , ,",
    "st. louis (azur lane), k.k., zkinkwash.",
    "zkinkwash: a cat",
    "\ufeff  zkinkwash_extra, zkinkwash",
]


@pytest.mark.parametrize("caption_format", ["booru", "natural", "mixed"])
@pytest.mark.parametrize("text", WEIRD)
def test_every_prepared_caption_starts_with_the_trigger_and_is_stable(
    text: str, caption_format: str
) -> None:
    prepared, _ = prepare_caption(text, T, caption_format)
    assert starts_with_trigger(prepared, T)
    assert "\n" not in prepared
    assert prepare_caption(prepared, T, caption_format) == (prepared, None)


@pytest.mark.parametrize(
    "text",
    [
        "A zkinkwash drawing of a lighthouse.",
        "red scarf, zkinkwash, night",
        "1girl, red scarf",
        "a heron in a zkinkwash mood, ink",
        # Not the trigger as a word of its own: both leave it and put the trigger first.
        "a zkinkwash-like heron, ink",
        "the zkinkwash's heron, ink",
    ],
)
def test_loragate_writes_what_the_native_trainer_would_train(text: str) -> None:
    """A caption stored by loragate is already in the trainer's trigger-first form, so
    the trainer (and kohya, reading the same file) trains exactly what the artist saw."""
    from app.training.native.captions import trigger_first

    stored, _ = enforce_trigger(text, T, "mixed")
    assert trigger_first(stored, T) == stored
    assert trigger_first(text, T) == stored


# --- characters no caption should hold -----------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"{T}, light\x00house, red\x1b scarf", f"{T}, lighthouse, red scarf"),
        (f"{T}, \u202eelims, \u2066isolated\u2069, rtl\u200f", f"{T}, elims, isolated, rtl"),
        (f"{T}, c1\x9b control, del\x7f", f"{T}, c1 control, del"),
    ],
)
def test_control_characters_are_stripped_with_a_note(text: str, expected: str) -> None:
    prepared, note = prepare_caption(text, T, "booru")
    assert prepared == expected
    assert note is not None and note.startswith(NOTE_CONTROL)


def test_plain_text_gets_no_control_note() -> None:
    assert prepare_caption(f"{T}, café, naïve, 東京", T, "booru") == (
        f"{T}, café, naïve, 東京",
        None,
    )


def test_quoted_text_is_cut_short() -> None:
    assert shorten("short tag") == "short tag"
    long = shorten("word " * 100)
    assert len(long) == 80 and long.endswith("…")


# --- saying what was changed ---------------------------------------------------------


def test_moving_the_trigger_out_of_a_phrase_quotes_what_is_left() -> None:
    """Issue 12.5: "… in a park, zkinkwash style" left "… in a park, style" without a
    word; the note now quotes the phrase before and after, for the artist to check."""
    text, note = prepare_caption("a woman in a park, zkinkwash style", T, "booru")
    assert text == f"{T}, a woman in a park, style"
    assert note is not None and "“zkinkwash style” now reads “style”" in note


def test_a_trigger_that_was_a_whole_phrase_says_it_went() -> None:
    text, note = prepare_caption("night, zkinkwash!", T, "natural")
    assert text == f"{T}, night"
    assert note is not None and "“zkinkwash!” was only the trigger word" in note


def test_repeated_phrases_are_named_when_removed() -> None:
    text, note = prepare_caption(f"{T}, red scarf, night, Red_Scarf, night", T, "booru")
    assert text == f"{T}, red scarf, night"
    assert note == "Written more than once, so kept only once: “Red_Scarf”, “night”."


def test_the_native_trainer_cuts_the_trigger_with_the_same_function() -> None:
    from app.training.native.captions import trigger_first

    stored, _ = prepare_caption("a woman in a park, zkinkwash style", T, "booru")
    assert trigger_first("a woman in a park, zkinkwash style", T) == stored
