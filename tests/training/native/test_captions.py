"""Captions as the model reads them: trigger first, shuffling that never moves the
kept tokens, dropout at the configured rate, the same draws for the same seed."""

from __future__ import annotations

from app.training.native.captions import CaptionMaker, split_tags, trigger_first


def test_trigger_goes_first_exactly_once() -> None:
    assert (
        trigger_first("ink, mountain, zkstyle, mist", "zkstyle") == "zkstyle, ink, mountain, mist"
    )
    assert trigger_first("ink, mountain", "zkstyle") == "zkstyle, ink, mountain"
    assert trigger_first("ZKStyle, ink", "zkstyle") == "zkstyle, ink"
    assert trigger_first("", "zkstyle") == "zkstyle"


def test_sentence_that_opens_with_the_trigger_is_left_alone() -> None:
    caption = "zkstyle painting of a heron, mist"
    assert trigger_first(caption, "zkstyle") == caption


def test_trigger_inside_the_text_moves_to_the_front_instead_of_doubling() -> None:
    assert (
        trigger_first("a zkstyle painting of a heron, ink", "zkstyle")
        == "zkstyle, a painting of a heron, ink"
    )
    assert trigger_first("ink, a heron in ZKStyle.", "zkstyle") == "zkstyle, ink, a heron in."
    assert trigger_first("a zk style heron", "zk style") == "zk style, a heron"
    # Only a whole word counts: a longer word, a hyphenated one or a possessive stays.
    assert trigger_first("zkstyles, ink", "zkstyle") == "zkstyle, zkstyles, ink"
    assert trigger_first("zkstyle-like ink", "zkstyle") == "zkstyle, zkstyle-like ink"


def test_a_caption_that_already_starts_with_the_trigger_tag_trains_as_written() -> None:
    """What loragate's caption editor writes ("zkstyle, a zkstyle painting") is what kohya
    trains on from the same file; the native trainer does not rewrite it."""
    caption = "zkstyle, a zkstyle painting of a heron"
    assert trigger_first(caption, "zkstyle") == caption
    # A standalone trigger tag later on is the one that moves; the sentence is untouched.
    assert (
        trigger_first("ink, zkstyle, a zkstyle painting", "zkstyle")
        == "zkstyle, ink, a zkstyle painting"
    )


def test_shuffle_keeps_the_first_tokens_in_place() -> None:
    maker = CaptionMaker(shuffle=True, keep_tokens=2, dropout_rate=0.0, seed=1)
    caption = "zkstyle, heron, a, b, c, d, e, f"
    seen = set()
    for _ in range(30):
        tags = split_tags(maker.make(caption))
        assert tags[:2] == ["zkstyle", "heron"]
        assert sorted(tags[2:]) == ["a", "b", "c", "d", "e", "f"]
        seen.add(tuple(tags))
    assert len(seen) > 5  # it really shuffles


def test_dropout_empties_captions_at_about_the_rate() -> None:
    maker = CaptionMaker(shuffle=False, keep_tokens=1, dropout_rate=0.25, seed=3)
    results = [maker.make("zkstyle, heron") for _ in range(2000)]
    dropped = results.count("") / len(results)
    assert 0.2 < dropped < 0.3
    assert set(results) == {"", "zkstyle, heron"}


def test_same_seed_same_draws() -> None:
    def draws(seed: int) -> list[str]:
        maker = CaptionMaker(shuffle=True, keep_tokens=1, dropout_rate=0.1, seed=seed)
        return [maker.make("zkstyle, a, b, c, d") for _ in range(50)]

    assert draws(5) == draws(5)
    assert draws(5) != draws(6)
